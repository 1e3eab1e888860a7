// dsa_indexer: a DeepSeek-style lightning indexer (low-precision key projection, ReLU scores over
// index heads, top-k), then exact attention over the selected tokens.
//
// Method: DeepSeek Sparse Attention (DeepSeek-AI, "DeepSeek-V3.2-Exp: Boosting Long-Context
// Efficiency with DeepSeek Sparse Attention", 2025,
// https://github.com/deepseek-ai/DeepSeek-V3.2-Exp/blob/main/DeepSeek_V3_2.pdf). The lightning
// indexer scores token s for a query as I_s = sum_j w_j ReLU(q^I_j . k^I_s) over a few index
// heads j, in FP8, and the top-k tokens get attention.
// DSA learns its indexer projections; here they are derived without training: k^I is the
// mean-centred key after a randomised Hadamard rotation (random signs, then the orthonormal
// Walsh-Hadamard transform: the rotation DeepSeek's indexer also applies before quantising; it
// spreads outlier channels over all coordinates), truncated to its first DI coordinates and
// quantised to int4 with one scale per token (4-bit integers rather than FP8: under the 128 B
// index cap int4 keeps twice the coordinates, the dot products run on tensor cores (int8 mma of
// the nibble planes, kevo/index_build.cuh int4_group_scores: the attend 67.3 -> 60.5 us at
// B1-N128K against dp4a, H100, run 17's A/B), and on the default
// suite DI=64 selects almost like exact logits: mean error 0.016 at 1/32 of the tokens, 0.007 at
// DI=128, measured on the H100). The index heads are the KV head's G query heads (int8), rotated
// the same way, with weights w_j = 1; the sum over heads makes the selection shared by the group,
// so each selected K/V row is read once. Top k = N / TOPK_DIV tokens, taken per chunk of CH
// tokens (CH / TOPK_DIV each, so one kernel scores, selects and attends a chunk without a global
// threshold pass; docs/decisions.md), plus SINK first and WIN last tokens, and (RSAMP > 0) the
// residual estimate of kevo/residual.cuh for the rest: without it, any top-k at 1/32 of the
// tokens loses the mass of near-uniform heads (oracle error ~0.2).
// Decode: one kernel, `attend` (chunk x KV head: score the chunk's index rows, chunk top-k,
// residual draws, attention of the selected rows on tensor cores, one split of partials; the
// group's last chunk to finish merges the splits: kevo/topk_attend.cuh attend_topk); or
// `attend_half`, the same block on chunks of CH/2 tokens, where chunks of CH would give fewer
// than FILL blocks (two per SM: at B1-N32K, 16 chunks x 8 KV heads fill 128 of 132 SMs with one
// block each; H100: chunks of 1024 there, 2.27x against 1.72x). Defaults: 1/128 of each chunk
// plus 16 sinks and a 64-token window (run 22, H100, 5 evaluations each against 1/64: 3.81x ->
// 3.98x at B1-N128K, mean error 0.015 -> 0.020, worst call 0.051 -> 0.059), 32 residual draws
// per chunk, `attend` blocks of AW = 4 warps: four an SM under the same 128-register cap where 8
// warps fit two (run 21, H100: 3.00x -> 3.71x at B1-N128K, 3.61x -> 4.32x at B8-N32K;
// docs/decisions.md).
//
// Index: DI/2 + 4 bytes per token per KV head (36 B at the default DI=64) + the key mean + V sums
// per chunk.
// Error target: mean relative error <= 0.05 on the llama3-8b suite at the defaults (measured
// figures in seeds/README.md).
// Crossover: at N <= DENSE_N (default 8192) only `dense` runs (the dense seed's decode,
// kevo/dense_decode.cuh; the other decode grids are 0 there, so they are not launched): at short
// contexts selecting costs more than it saves, and dense is exact.
// Roofline (scripts/roofline.py, default params, llama3-8b B1-N8K / B1-N32K / B1-N128K /
// B8-N32K): the method reads 33.6 / 13.1 / 47.0 / 96.1 MB per decode call,
// 8.4 / 3.3 / 11.8 / 24.0 us at 4 TB/s (dense at N <= DENSE_N).
#include "kevo/attention.cuh"

// EVOLVE-BLOCK-START

// kevo:param DI = 64 in {32, 64, 96, 128}
// kevo:param TOPK_DIV = 128 in {8, 16, 32, 64, 128}
// kevo:param SINK = 16 in {0, 16, 64, 128}
// kevo:param WIN = 64 in {32, 64, 128, 256}
// kevo:param CH = 2048 in {512, 1024, 2048, 4096}
// kevo:param RSAMP = 32 in {0, 16, 32, 64}
// kevo:param MINB = 2 in {1, 2}
// kevo:param AW = 4 in {4, 8}
// kevo:param TU = 4 in {2, 4, 8}
// kevo:param ASTAGES = 1 in {1, 2}
// kevo:param DENSE_N = 8192 in {0, 8192, 16384}
// kevo:param FILL = 264 in {0, 264, 528}
// kevo:index      B*Hkv*N*(DI/2+4) + B*Hkv*D*4 + B*Hkv*cdiv(N,CH/2)*D*4 + 1024
// kevo:workspace  max(B*Hq*cdiv(N,CH/2)*(D+1)*4 + B*Hkv*cdiv(G,8)*cdiv(N,CH/2)*8 + 1024, (132 + B*Hkv*cdiv(G,16)) * (min(G,16)*(D+1)*4 + 8) + 1024)
// kevo:build   key_mean    grid(Hkv, B) block(256)
// kevo:build   index_keys  grid(cdiv(N,64), Hkv, B) block(256)
// kevo:build   value_sums  grid(cdiv(N,CH/2), Hkv, B) block(256)
// kevo:decode  attend      grid(cdiv(N,CH)*(N>DENSE_N)*(B*Hkv*cdiv(G,8)*cdiv(N,CH)>=FILL), Hkv*cdiv(G,8), B) block(32*max(AW,CH/512)) smem(max(AW,CH/512)*ASTAGES*8192)
// kevo:decode  attend_half grid(cdiv(N,CH/2)*(N>DENSE_N)*(B*Hkv*cdiv(G,8)*cdiv(N,CH)<FILL), Hkv*cdiv(G,8), B) block(256) smem(8*ASTAGES*8192)
// kevo:decode  dense       grid(132*(N<=DENSE_N)) block(256) smem(16*8192)

using namespace kevo;

constexpr int GT = 8, MAXD = 256, MAXG = 8;
constexpr u64 kRotSeed = 0x6b65766f44534121ull;
static_assert(DI % 32 == 0, "index rows (DI/2 bytes) are read 16 bytes at a time");
constexpr int ROWB = DI / 2;  // bytes per index row: two int4 coordinates per byte

// Chunks are CH tokens, or CH/2 where CH would leave the GPU short of blocks (attend_half, below
// FILL blocks: at B1-N32K, 16 chunks x 8 KV heads are 128 blocks for 132 SMs). The V sums are
// kept per half chunk so that either size finds its sum.
constexpr int HALF = CH / 2;

struct Layout {
  unsigned char* kq;  // index [B][Hkv][N][ROWB] int4 rotated centred key, first DI coordinates
  float* kscale;      // index [B][Hkv][N]
  float* mean;        // index [B][Hkv][D]
  float* vsum;        // index [B][Hkv][cdiv(N, HALF)][D] V sums per half chunk (residual)
  Partials part;      // workspace: one split per chunk of `ch` tokens
  u64* flags;     // workspace [B][Hkv][cdiv(G, GT)][nch] arrivals (kevo/splits.cuh arrive_last)
  long long index_end, ws_end;
  // The layout for chunks of ch tokens (CH or HALF); the workspace has room for either.
  __device__ Layout(const Args& a, int ch) {
    const int nch = cdiv(a.N, ch), nhalf = cdiv(a.N, HALF);
    const long long bh = (long long)a.B * a.Hkv;
    Carve ix(a.index);
    kq = ix.take<unsigned char>(bh * a.N * ROWB);
    kscale = ix.take<float>(bh * a.N);
    mean = ix.take<float>(bh * a.D);
    vsum = ix.take<float>(bh * nhalf * a.D);
    index_end = ix.end();
    Carve ws(a.workspace);
    part.nsplit = nch;
    part.o = ws.take<float>((long long)a.B * a.Hq * nhalf * a.D);
    part.lse = ws.take<float>((long long)a.B * a.Hq * nhalf);
    flags = ws.take<u64>(bh * cdiv(a.Hq / a.Hkv, GT) * nhalf);
    ws_end = ws.end();
  }
};

// ------------------------------------------------------------------------------- build phase

extern "C" __global__ void __launch_bounds__(256) key_mean(const Args a) {
  KEVO_CHECK(RowLanes::supported(a.D) && a.D <= MAXD && a.D % 32 == 0 && DI <= a.D);
  Layout Ly(a, CH);
  KEVO_CHECK(Ly.index_end <= a.index_bytes);
  key_mean_block(a, Ly.mean);
}

extern "C" __global__ void __launch_bounds__(256) index_keys(const Args a) {
  const Layout Ly(a, CH);
  int4_keys_block(a, Ly.mean, DI, kRotSeed, Ly.kq, Ly.kscale);
}

// V sums per half chunk (HALF tokens), for the residual estimate (kevo/residual.cuh).
extern "C" __global__ void __launch_bounds__(256) value_sums(const Args a) {
  const Layout Ly(a, CH);
  value_sums_block(a, HALF, Ly.vsum);
}

// ------------------------------------------------------------------------------ decode phase

// One attend block per (chunk of CH or HALF tokens, KV head, slice of GT query heads): it scores
// the chunk's index rows, keeps the chunk's top KC tokens (plus the sinks and the local window),
// attends them with the residual estimate, and writes one split of the partials; the group's
// last chunk to finish merges the splits. Everything between reading the index and writing the
// partial stays in the block (no global keys, histograms or thresholds), so the decode is a handful
// of memory round trips per block.
// `attend` runs blocks of AW warps (8; at 4, under the same register cap, four blocks fit an SM
// where two did: ncu put its time in one block's serial chain at 25% occupancy, docs/decisions.md
// "Run 18"); `attend_half`, which runs where blocks are few, keeps 8. A block of W warps ranks its
// chunk's scores in 32 W bins (4 W an octave) and each thread holds 1 / (32 W) of its tokens, at
// most 16 (so chunks of 4096 keep 8 warps).
constexpr int kAttendWarps = AW > CH / 512 ? AW : CH / 512;

template <int V>
struct Int {  // a compile-time int as a value (picks a lambda's instantiation)
  static constexpr int value = V;
};

// Bin of a score relative to the chunk's largest among kBins: kBins / 8 per octave, 8 octaves;
// smaller and non-positive scores share bin 0.
template <int kBins>
__device__ __forceinline__ int score_bin(float s, float inv_max) {
  if (!(s > 0.f)) return 0;
  const int bin = kBins - 1 + (int)floorf(__log2f(s * inv_max) * (float)(kBins / 8));
  return bin < 0 ? 0 : (bin > kBins - 1 ? kBins - 1 : bin);
}

// The attend block for chunks of kCh tokens, kWarps warps (the kernels `attend` and
// `attend_half` below).
template <int kCh, int kWarps>
__device__ __forceinline__ void attend_chunk_of(const Args& a) {
  constexpr int TPB = 32 * kWarps, NW = kWarps;
  constexpr int NBIN = TPB;  // selection bins: 8 octaves below the chunk max, 32 each at 8 warps
  static_assert(kCh % TPB == 0, "one bin per thread in the threshold scan, whole rows of tokens");
  constexpr int PER = kCh / TPB;                               // chunk tokens per thread
  static_assert(PER <= 16, "per-thread counts are packed in 16 bits");
  constexpr int KC = kCh / TOPK_DIV;                           // top-k share of a full chunk
  constexpr int LIST = KC + SINK + WIN;                        // the most tokens a chunk can select
  const TopkBlock tb = topk_block<GT>(a, kCh, false);
  const int c = tb.chunk, b = tb.hg.b, hkv = tb.hg.hkv, D = a.D, N = a.N, G = a.Hq / a.Hkv;
  const long long bh = (long long)b * a.Hkv + hkv;
  const int n0 = tb.base, n_items = tb.n_items;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  Layout Ly(a, kCh);
  KEVO_CHECK(Ly.ws_end <= a.workspace_bytes && G <= MAXG && D == kTileD);
  __shared__ __align__(16) u32 s_q8[MAXG][DI / 8][2];  // rotated int8 queries: even / odd
  __shared__ float s_qs[MAXG];                        // their scales
  __shared__ float s_vsum[MAXD];                      // the chunk's V sum (residual estimate)
  __shared__ u16 s_list[LIST];
  __shared__ u32 s_bits[kCh / 32];
  __shared__ int s_samp[RSAMP > 0 ? RSAMP : 1];
  __shared__ int s_scratch[40];
  __shared__ float s_max[33];
  // Dynamic: the attend's tile buffers, and before them the selection's histograms.
  extern __shared__ __align__(16) unsigned char dyn[];
  u32 (*hist)[NBIN] = reinterpret_cast<u32(*)[NBIN]>(dyn);  // [NW][NBIN], one per warp
  u32* total = reinterpret_cast<u32*>(dyn) + NW * NBIN;     // [NBIN], their sum
  static_assert((NW + 1) * NBIN * 4 <= NW * ASTAGES * (int)sizeof(TileBuf), "histograms fit");

  if (threadIdx.x < D) {  // the chunk's V sum: one half chunk's, or two
    constexpr int H = kCh / HALF;
    const int nhalf = cdiv(N, HALF), h0 = c * H, h1 = min(h0 + H, nhalf);
    float v = 0.f;
    for (int h = h0; h < h1; ++h) v += __ldg(Ly.vsum + (bh * nhalf + h) * D + threadIdx.x);
    s_vsum[threadIdx.x] = v;
  }
  // Index queries (int8, rotated like the keys); padding heads up to MAXG score 0.
  int8_queries<NW>(a, b, hkv, DI, kRotSeed, MAXG, &s_q8[0][0][0], s_qs);
  __syncthreads();

  // Scores I = sum_j ReLU(q_j . k) * scale over the heads (MAXG of them, the padding heads
  // score 0) on tensor cores (kevo/index_build.cuh int4_group_scores, TU tiles of 16 tokens in
  // flight per warp). They meet in shared memory (after the selection's histograms), and each
  // thread takes its PER tokens back; -1 marks the forced tokens (sinks, local window), -2 the
  // positions past the cache.
  float* s_sc = reinterpret_cast<float*>(dyn) + (NW + 1) * NBIN;  // [kCh]
  static_assert(((NW + 1) * NBIN + kCh) * 4 <= NW * ASTAGES * (int)sizeof(TileBuf), "fits");
  int4_group_scores<DI, TU, NW>(Ly.kq + (bh * N + n0) * ROWB, Ly.kscale + bh * N + n0, n_items,
                                &s_q8[0][0][0], s_qs,
                                [&](int i, float s) { s_sc[i] = fmaxf(s, 0.f); });
  __syncthreads();
  float score[PER];
#pragma unroll
  for (int r = 0; r < PER; ++r) {
    const int i = r * TPB + threadIdx.x, n = n0 + i;
    score[r] = i >= n_items ? -2.f : ((n < SINK || n >= N - WIN) ? -1.f : s_sc[i]);
  }

  // Top KC of the chunk: bins relative to the chunk's best score, a histogram per warp (peers
  // with the same bin add once), the threshold bin, then ties by quota in (thread, row) order.
  float best = 0.f;
#pragma unroll
  for (int r = 0; r < PER; ++r) best = fmaxf(best, score[r]);
  best = block_max(best, s_max);
  const float inv_best = best > 0.f ? 1.f / best : 0.f;
  for (int e = threadIdx.x; e < NW * NBIN; e += TPB) (&hist[0][0])[e] = 0;
  __syncthreads();
  int bin[PER];
#pragma unroll
  for (int r = 0; r < PER; ++r) {
    bin[r] = score[r] >= 0.f ? score_bin<NBIN>(score[r], inv_best) : (score[r] == -1.f ? NBIN : -1);
    const bool counted = bin[r] >= 0 && bin[r] < NBIN;
    const u32 peers = __match_any_sync(0xffffffffu, counted ? bin[r] : -1);
    if (counted && lane == __ffs(peers) - 1) atomicAdd(&hist[warp][bin[r]], (u32)__popc(peers));
  }
  __syncthreads();
  {
    u32 t = 0;
#pragma unroll
    for (int w = 0; w < NW; ++w) t += hist[w][threadIdx.x];
    total[threadIdx.x] = t;
  }
  __syncthreads();
  const int k = max(1, n_items / TOPK_DIV);
  int above;
  const int t = kth_bin_from_top(total, NBIN, k, &above, s_scratch);
  const int quota = k - above;  // ties at bin t the chunk may take
  int n_def = 0, n_tie = 0;
#pragma unroll
  for (int r = 0; r < PER; ++r) {
    n_def += bin[r] > t;  // forced tokens have bin NBIN > t
    n_tie += bin[r] == t;
  }
  int tile;
  const int packed = block_exclusive_scan(n_def << 16 | n_tie, s_scratch, &tile);
  const int def_total = tile >> 16;
  int def_at = packed >> 16, tie_rank = packed & 0xffff;
  const int n_sel = def_total + min(quota, tile & 0xffff);
  KEVO_CHECK(n_sel <= LIST);
  // The list, and (RSAMP > 0) a bitmap of it: warp w's tokens of row r are one 32-bit word.
#pragma unroll
  for (int r = 0; r < PER; ++r) {
    const int i = r * TPB + threadIdx.x;
    bool selected = false;
    if (bin[r] > t) {
      s_list[def_at++] = (u16)i;
      selected = true;
    } else if (bin[r] == t) {
      if (tie_rank < quota) {
        s_list[def_total + tie_rank] = (u16)i;
        selected = true;
      }
      ++tie_rank;
    }
    if (RSAMP > 0) {
      const u32 word = __ballot_sync(0xffffffffu, selected);
      if (lane == 0) s_bits[r * NW + warp] = word;
    }
  }
  __syncthreads();

  // The residual draws, attention over the selected tokens on tensor cores, split c of the
  // group's partials, and the merge by the group's last chunk to finish (kevo/topk_attend.cuh).
  attend_topk<NW, ASTAGES, RSAMP>(a, tb, s_list, n_sel, true, s_vsum,
                                  {s_bits, s_samp, s_scratch, reinterpret_cast<TileBuf*>(dyn)},
                                  {Ly.part, Ly.flags});
}

// MINB: 8-warp blocks' worth resident per SM the compiler must allow, i.e. the register cap,
// 65536 / (256 MINB) a thread whatever AW is (128 at MINB = 2: two blocks of 8 warps, four of
// 4).
extern "C" __global__ void __launch_bounds__(32 * kAttendWarps, MINB * 8 / kAttendWarps)
    attend(const Args a) {
  attend_chunk_of<CH, kAttendWarps>(a);
}
extern "C" __global__ void __launch_bounds__(256, MINB) attend_half(const Args a) {
  attend_chunk_of<HALF, 8>(a);
}

// Below the crossover: the dense baseline's decode (kevo/dense_decode.cuh), 8 warps, 2 stages.
extern "C" __global__ void __launch_bounds__(256, 1) dense(const Args a) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  dense_decode<8, 2>(a, smem_raw);
}
// EVOLVE-BLOCK-END
