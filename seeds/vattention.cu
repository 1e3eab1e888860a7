// vattention: deterministic top-k plus uniform sampling of the rest, with the (epsilon, delta)
// adaptive sample budget.
//
// Method: vAttention (Desai, Agrawal, Yang, Cuadron, Schroeder, Zaharia, Gonzalez, Stoica.
// "vAttention: Verified Sparse Attention", 2025, https://arxiv.org/abs/2510.05688;
// sparse-attention-hub adaptive_sampling.py). The deterministic set is the SINK first and WIN
// last tokens plus an approximate top-k (each chunk's n / HEAVY_DIV; the hub uses an oracle or
// HashAttention; here the int4 indexer keys of dsa_indexer.cu over DI rotated coordinates: the
// sampling only corrects well when the top-k holds the heavy hitters, and 32-bit signatures miss
// too many of them on this suite). The n_s tokens outside sink and window form the residual; per
// (batch, query head):
//   1. base sample of n_b = max(2, n_s / BASE_DIV) uniform draws (with replacement);
//   2. sigma = std of e^(s - m) over it, a draw of a deterministic token counting 0 (its term is
//      exact, and step 4 leaves it out: the estimator's variance is that of the zero-filled
//      residual; with the top-k's tokens counted, the heavy hitters drive sigma and the budget to
//      n_s, every draw of the residual); D = sum_det e^(s - m) + (n_s / n_b) sum_base e^(s - m);
//   3. budget b = clamp((z_(1-delta) sigma n_s / (epsilon D))^2, n_b, n_s);
//   4. b fresh uniform draws; each draw that is not deterministic enters with weight n_s / b.
// The guarantee (paper): P(||o_hat - o|| <= epsilon ||o||) >= 1 - delta, via the denominator.
// GQA: the group shares the top-k and one stream of draws; head g uses the first b_g draws, so
// the K/V rows of the draws are read once for the group.
// Decode kernels: score (and its chunk's top-k), attend_det_stats (the exact part and a bitmap
// of it, and beside it, in blocks of the same grid, step 1's sums; its last block per KV head
// does steps 2-3), attend_sampled (step 4, then the LSE merge of everything).
// The base sample leaves the deterministic tokens out by their keys (key above its chunk's
// threshold), not by the bitmap, so that it runs beside the exact part instead of after it: a
// token whose key equals the threshold counts as residual there (the bitmap takes some of those
// ties), which can only raise sigma and the budget.
//
// Defaults: epsilon 0.1, delta 0.025, a base sample of 1/20 of the residual, a 128-token
// window. epsilon went from 0.05 to 0.1 in run 21 (H100, 5 evaluations each in one call: 2.00x
// -> 2.09x at B1-N128K, mean error 0.0173 -> 0.0178, worst call 0.132 -> 0.126). delta went
// from 0.05 to 0.025 for margin under issue 13's 0.15 per-call rule (run 11's worst call was
// 0.155; H100, 2 evaluations in one call: worst 0.144 -> 0.116 for 105.1 -> 106.9 us at
// B1-N128K; epsilon 0.025 instead reached 0.102 but took 122.8 us).
// The tuner found epsilon 0.1, delta 0.2, 1/40 and 64 (H100, 5 evaluations: 0.82x/1.34x/1.34x
// against ~0.70x/1.07x/0.99x at B1-N32K/B1-N128K/B8-N32K) but at a price the defaults do not
// pay: worst call error 0.148, and holdout error 1.58x the suite's (0.0615 against 0.0389) where
// issue 13 allows 1.5x (docs/decisions.md, "Seed defaults from the tuner").
// Index: DI/2 + 4 bytes per token per KV head (36 B at DI=64) + the key mean.
// Error target: mean relative error <= 0.1 on the llama3-8b suite at the defaults (measured
// figures in seeds/README.md).
// Crossover: where the batch's caches hold B*N <= DENSE_BN tokens (default 32768) only `dense`
// runs (the dense seed's decode, kevo/dense_decode.cuh; the other decode grids are 0 there, so
// they are not launched): there the sampling chain's fixed costs outweigh what it saves, and
// dense is exact. Counted over the batch, not per sequence: at B8-N32K the GPU is full and
// sampling pays (H100: vattention 0.91x at B1-N32K, 1.65x at B8-N32K on its sparse path). A
// second rule, per sequence: at N <= DENSE_N (default 16384) the sample's share of a short cache
// is large and its error the highest (run 25, the holdout's B4-N16K-H64x8: 0.97x at error
// 0.058, against 0.031 at its 64K workloads; docs/decisions.md, "Run 26"), so dense runs there.
// Roofline (scripts/roofline.py, default params, llama3-8b B1-N8K / B1-N32K / B1-N128K /
// B8-N32K): the method reads 33.6 / 134.2 / 95.5 / 195.5 MB per decode call,
// 8.4 / 33.6 / 23.9 / 48.9 us at 4 TB/s (dense at B*N <= DENSE_BN or N <= DENSE_N).
#include "kevo/attention.cuh"

// EVOLVE-BLOCK-START

// kevo:param HEAVY_DIV = 32 in {16, 32, 64, 128}
// kevo:param DI = 64 in {32, 64, 128}
// kevo:param BASE_DIV = 20 in {10, 20, 40, 80}
// kevo:param EPS_MILLI = 100 in {25, 50, 100, 200, 400}
// kevo:param DELTA_MILLI = 25 in {25, 50, 100, 200, 400}
// kevo:param SINK = 64 in {16, 64, 128}
// kevo:param WIN = 128 in {64, 128, 256}
// kevo:param CH = 2048 in {1024, 2048}
// kevo:param DENSE_BN = 32768 in {0, 8192, 16384, 32768, 65536}
// kevo:param DENSE_N = 16384 in {0, 8192, 16384, 32768}
// kevo:param NSB = 32 in {16, 32, 64, 128}
// kevo:param SAMP_MIN = 32 in {16, 32, 64}
// kevo:let        SPARSE = (B*N>DENSE_BN)*(N>DENSE_N)
// kevo:index      B*Hkv*N*(DI/2+4) + B*Hkv*D*4 + 768
// kevo:workspace  max(B*Hkv*N*2 + B*Hkv*cdiv(N,CH)*8 + B*Hkv*cdiv(N,32)*4 + B*Hq*(cdiv(N,CH)*max(1,min(8,32/cdiv(N,CH)))+max(SAMP_MIN,cdiv(N,CH)))*(D+1)*4 + B*Hkv*NSB*24*4 + B*Hq*4 + B*Hkv*8 + B*Hkv*(cdiv(G,4)+1)*4 + 4096, (264 + B*Hkv*cdiv(G,16)) * (min(G,16)*(D+1)*4 + 8) + 1024)
// kevo:build   key_mean        grid(Hkv, B) block(256)
// kevo:build   index_keys      grid(cdiv(N,64), Hkv, B) block(256)
// kevo:decode  score           grid(cdiv(N,CH)*SPARSE, Hkv, B) block(256)
// kevo:decode  attend_det_stats grid((cdiv(N,CH)*max(1,min(8,32/cdiv(N,CH)))+NSB)*SPARSE, Hkv, B) block(128) smem(4*2*8192) pdl
// kevo:decode  attend_sampled  grid(max(SAMP_MIN,cdiv(N,CH))*SPARSE, Hkv*cdiv(G,8), B) block(128) smem(4*2*8192) pdl
// kevo:decode  dense           grid(132*(1-SPARSE)*(B*Hkv*cdiv(G,16)*N<131072)) block(256) smem(16*8192)
// kevo:decode  dense_wide      grid(264*(1-SPARSE)*(B*Hkv*cdiv(G,16)*N>=131072)) block(128) smem(8*8192)

using namespace kevo;

constexpr int GT = 8, MAXD = 256, MAXG = 8;  // GT: query heads per attend block
constexpr int NB = kMaxBins, ROWB = DI / 2;
constexpr u64 kRotSeed = 0x6b65766f44534121ull;

// Blocks of attend_sampled per query group (the plan's grid.x): at least SAMP_MIN, so that a
// short cache still fills the GPU, and at least nch, so no block takes more than CH draws
// (b_max <= n_s < nch * CH). The base sample takes NSB blocks per KV head of attend_det_stats.
__device__ __forceinline__ int sampled_splits(int nch) {
  return max(SAMP_MIN, nch);
}
// Splits of the deterministic part: attend_det's blocks per KV head, each chunk's list split
// over attend_parts(nch) blocks so that a short cache still fills the GPU (kevo/topk_attend.cuh).
__device__ __forceinline__ int det_splits(int nch) {
  return nch * attend_parts(nch);
}

struct Layout {
  unsigned char* kq;  // index [B][Hkv][N][ROWB] int4 rotated centred keys (as dsa_indexer)
  float* kscale;      // index [B][Hkv][N]
  float* mean;        // index [B][Hkv][D]
  u16* keys;       // [B][Hkv][N]
  int2* sel;       // [B][Hkv][nch]
  u32* det_bits;   // [B][Hkv][cdiv(N, 32)] deterministic tokens
  Partials all;    // sampled_splits(nch) sampled splits, then det_splits(nch) of the det part
  float* stats;    // [B][Hkv][NSB][MAXG][3] base-sample max logit m, sums of 2^(s-m), 2^(2(s-m))
  int* budget;     // [B][Hq]
  int* budget_max; // [B][Hkv]
  int* cnt_det;    // [B][Hkv] blocks of attend_det_stats done
  int* cnt_all;    // [B][Hkv][ngs]
  long long index_end, ws_end;
  __device__ explicit Layout(const Args& a) {
    const int G = a.Hq / a.Hkv, nch = cdiv(a.N, CH), ngs = cdiv(G, GT);
    const long long bh = (long long)a.B * a.Hkv, bq = (long long)a.B * a.Hq;
    Carve ix(a.index);
    kq = ix.take<unsigned char>(bh * a.N * ROWB);
    kscale = ix.take<float>(bh * a.N);
    mean = ix.take<float>(bh * a.D);
    index_end = ix.end();
    Carve ws(a.workspace);
    keys = ws.take<u16>(bh * a.N);
    sel = ws.take<int2>(bh * nch);
    det_bits = ws.take<u32>(bh * cdiv(a.N, 32));
    all.nsplit = sampled_splits(nch) + det_splits(nch);
    all.o = ws.take<float>(bq * all.nsplit * a.D);
    all.lse = ws.take<float>(bq * all.nsplit);
    stats = ws.take<float>(bh * NSB * MAXG * 3);
    budget = ws.take<int>(bq);
    budget_max = ws.take<int>(bh);
    cnt_det = ws.take<int>(bh);
    cnt_all = ws.take<int>(bh * ngs);
    ws_end = ws.end();
  }
};

// Residual range [SINK, SINK + n_s) and the base sample size.
__device__ __forceinline__ int residual_size(int N) { return max(0, N - SINK - WIN); }
__device__ __forceinline__ int base_size(int ns) {
  return ns == 0 ? 0 : min(ns, max(2, ns / BASE_DIV));
}
// Draw j of stream `stream` for list bh: a uniform token of the residual range.
__device__ __forceinline__ int draw(const Args& a, int stream, long long bh, int j, int ns) {
  return SINK + uniform_below((u32)hash3(a.seed, (u64)stream << 40 | (u64)bh, (u64)j), ns);
}

// ------------------------------------------------------------------------------- build phase

extern "C" __global__ void __launch_bounds__(256) key_mean(const Args a) {
  KEVO_CHECK(RowLanes::supported(a.D) && a.D <= MAXD && a.D % 32 == 0);
  Layout Ly(a);
  KEVO_CHECK(Ly.index_end <= a.index_bytes);
  key_mean_block(a, Ly.mean);
}

extern "C" __global__ void __launch_bounds__(256) index_keys(const Args a) {
  const Layout Ly(a);
  int4_keys_block(a, Ly.mean, DI, kRotSeed, Ly.kq, Ly.kscale);
}

// ------------------------------------------------------------------------------ decode phase

// Approximate top-k scores (the int4 lightning-indexer score of dsa_indexer.cu).
extern "C" __global__ void __launch_bounds__(256) score(const Args a) {
  launch_dependents();
  const int c = blockIdx.x, hkv = blockIdx.y, b = blockIdx.z;
  const int D = a.D, G = a.Hq / a.Hkv, N = a.N;
  const long long bh = (long long)b * a.Hkv + hkv;
  Layout Ly(a);
  KEVO_CHECK(Ly.ws_end <= a.workspace_bytes && G <= MAXG);
  KEVO_CHECK(RowLanes::supported(D) && D <= MAXD && D % 32 == 0);
  __shared__ __align__(16) u32 s_q8[MAXG][DI / 8][2];  // rotated int8 queries: even / odd
  __shared__ float s_qs[MAXG];            // their scales
  __shared__ u32 s_hist[NB];
  const int ngs = cdiv(G, GT);
  if (c == 0 && threadIdx.x < ngs) {
    Ly.cnt_all[bh * ngs + threadIdx.x] = 0;
    if (threadIdx.x == 0) Ly.cnt_det[bh] = 0;
  }
  hist_clear(s_hist, NB);
  int8_queries<8>(a, b, hkv, DI, kRotSeed, MAXG, &s_q8[0][0][0], s_qs);  // padded: 0
  __syncthreads();
  // The group's index scores on tensor cores (kevo/index_build.cuh int4_group_scores).
  __shared__ __align__(16) u16 s_keys[CH];
  const int n0 = c * CH, n_items = min(CH, N - n0);
  int4_group_scores<DI, 4, 8>(Ly.kq + (bh * N + n0) * ROWB, Ly.kscale + bh * N + n0, n_items,
                              &s_q8[0][0][0], s_qs, [&](int i, float s) {
                                const int n = n0 + i;
                                s_keys[i] =
                                    (n < SINK || n >= N - WIN) ? kKeyForced : (u16)log_key(s);
                              });
  // The chunk's own top n / HEAVY_DIV (a per-chunk top-k): its threshold bin and tie quota.
  __shared__ int s_scratch[40];
  store_chunk_keys_topk(s_keys, n_items, Ly.keys + bh * N + n0, s_hist, NB,
                        max(1, n_items / HEAVY_DIV), Ly.sel + bh * cdiv(N, CH) + c, s_scratch);
}

// Exact attention over the deterministic set on tensor cores (kevo/tile_attend.cuh): each
// chunk's list is compacted from the keys, marked in det_bits (for the draws, which leave these
// tokens out), and attended by attend_parts(nch) blocks, each writing one split of `all` after
// the sampled ones; attend_sampled's last block merges them all.
__device__ __forceinline__ void attend_det(const Args& a) {
  const TopkBlock tb = topk_block<MAXG>(a, CH, true);
  const long long bh = (long long)tb.hg.b * a.Hkv + tb.hg.hkv;
  const Layout Ly(a);
  __shared__ u16 s_list[CH];
  __shared__ u32 s_bits[CH / 32];
  __shared__ int s_scratch[40];
  extern __shared__ __align__(128) unsigned char det_tiles[];
  static_assert(CH * 2 <= 4 * 2 * 8192, "the keys fit the tiles");
  u16* s_keys = reinterpret_cast<u16*>(det_tiles);  // dead once compact_chunk has synced
  load_keys(Ly.keys + bh * a.N + tb.base, tb.n_items, s_keys);
  const int n = compact_chunk(
      tb.n_items, [&](int i) { return s_keys[i]; }, Ly.sel[bh * tb.nch + tb.chunk], s_list,
      s_scratch);
  if (tb.part == 0) {  // one block per chunk writes its bitmap (G <= MAXG: one head group)
    mark_list(s_list, n, s_bits, cdiv(tb.n_items, 32));
    for (int w = threadIdx.x; w < cdiv(tb.n_items, 32); w += blockDim.x)
      Ly.det_bits[bh * cdiv(a.N, 32) + tb.chunk * (CH / 32) + w] = s_bits[w];
  }
  const int lo = (int)((long long)n * tb.part / tb.parts);
  const int hi = (int)((long long)n * (tb.part + 1) / tb.parts);
  const ChunkSel cs{tb.base, s_list + lo, hi - lo, nullptr, 0, 0, nullptr, 1};  // no residual
  const int split = sampled_splits(tb.nch) + tb.chunk * tb.parts + tb.part;
  attend_chunk<4, 2>(a, tb.hg, cs, reinterpret_cast<TileBuf*>(det_tiles),
                     [&](int g, int d, float o, float m, float den) {
                       Ly.all.store(a, tb.hg.b, tb.hg.h0 + g, split, d, o, m, den);
                     });
}

// Weight 2^(m - to) of a partial whose sums are taken from its largest logit m (0 for a partial
// with no draws, m = -inf), when partials are rescaled to the common maximum `to`.
__device__ __forceinline__ float rescale(float m, float to) {
  return m == neg_inf() ? 0.f : exp2f(m - to);
}

// Base sample: per head, the largest logit m of this block's draws and the sums of 2^(s - m) and
// 2^(2 (s - m)), their logits on tensor cores (K rows only). A draw of a deterministic token
// counts 0 and reads nothing: key above its chunk's threshold (threshold ties count as residual).
__device__ __forceinline__ void base_stats(const Args& a, int sb) {
  const int hkv = blockIdx.y, b = blockIdx.z, G = a.Hq / a.Hkv;
  const long long bh = (long long)b * a.Hkv + hkv;
  const int nch = cdiv(a.N, CH), ns = residual_size(a.N), nbase = base_size(ns);
  Layout Ly(a);
  constexpr int kWarps = 4, kStages = 2, kRound = 512;  // draws staged per round
  __shared__ float s_sum[kWarps][MAXG][3];
  __shared__ int s_pos[kRound];  // a round's draws; -1: a deterministic token (x = 0, not read)
  extern __shared__ __align__(128) unsigned char base_tiles[];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, c = lane & 3;
  const float sl = a.scale * kLog2e;
  const int per = cdiv(nbase, NSB), j0 = sb * per, j1 = min(nbase, j0 + per);
  const u16* keys = Ly.keys + bh * a.N;
  const int2* sel = Ly.sel + bh * nch;
  const __nv_bfloat16* kb = a.k + kv_offset(a, b, hkv, 0);
  TileBuf* wb = reinterpret_cast<TileBuf*>(base_tiles) + warp * kStages;
  TileAttention<false> at;
  at.init(a.q + q_offset(a, b, hkv * G), G);
  float m = neg_inf(), sx = 0.f, sxx = 0.f;  // this lane's share of head g's sums, from m
#pragma unroll 1
  for (int r0 = j0; r0 < j1; r0 += kRound) {
    const int nr = min(kRound, j1 - r0);
    __syncthreads();  // the previous round's s_pos and tiles are done with
    for (int i = threadIdx.x; i < nr; i += blockDim.x) {
      const int t = draw(a, 1, bh, r0 + i, ns);
      const int key = keys[t];
      s_pos[i] = key < kKeySkip && key > sel[t / CH].x ? -1 : t;
    }
    __syncthreads();
    const int nt_all = cdiv(nr, kTileRows);
    const int n_mine = warp < nt_all ? (nt_all - warp + kWarps - 1) / kWarps : 0;
    tile_pipeline<kStages>(
        wb, n_mine,
        [&](int k, TileBuf& buf) {
          const int i0 = (warp + k * kWarps) * kTileRows;
          issue_tile(
              buf, kb, kb, min(kTileRows, nr - i0), [&](int i) { return max(s_pos[i0 + i], 0); },
              false);
        },
        [&](int k, const TileBuf& buf) {
          const int i0 = (warp + k * kWarps) * kTileRows, valid = min(kTileRows, nr - i0);
          float x[2][4];
          at.logits(buf, valid, sl, x);
#pragma unroll
          for (int nt = 0; nt < 2; ++nt) {
#pragma unroll
            for (int e = 0; e < 2; ++e) {
              const int t = nt * 8 + 2 * c + e;
              if (t < valid && s_pos[i0 + t] >= 0) {
                const float s = x[nt][e];
                if (s > m) {
                  const float f = exp2f(m - s);
                  sx *= f, sxx *= f * f, m = s;
                }
                const float v = exp2f(s - m);
                sx += v;
                sxx += v * v;
              }
            }
          }
        });
  }
  // Head g's (m, sums): its 4 lanes, then the warps.
#pragma unroll
  for (int o = 1; o <= 2; o <<= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, m, o);
    const float x2 = __shfl_xor_sync(0xffffffffu, sx, o),
                xx2 = __shfl_xor_sync(0xffffffffu, sxx, o);
    const float mm = fmaxf(m, m2);
    const float f1 = rescale(m, mm), f2 = rescale(m2, mm);
    sx = sx * f1 + x2 * f2, sxx = sxx * f1 * f1 + xx2 * f2 * f2, m = mm;
  }
  if (c == 0) s_sum[warp][g][0] = m, s_sum[warp][g][1] = sx, s_sum[warp][g][2] = sxx;
  __syncthreads();
  if (threadIdx.x < MAXG) {
    const int h = threadIdx.x;
    float mm = neg_inf(), x = 0.f, xx = 0.f;
    for (int w = 0; w < kWarps; ++w) mm = fmaxf(mm, s_sum[w][h][0]);
    for (int w = 0; w < kWarps; ++w) {
      const float f = rescale(s_sum[w][h][0], mm);
      x += s_sum[w][h][1] * f, xx += s_sum[w][h][2] * f * f;
    }
    float* st = Ly.stats + ((bh * NSB + sb) * MAXG + h) * 3;
    st[0] = mm, st[1] = x, st[2] = xx;
  }
}

// Head h's budget b = clamp((z sigma n_s / (eps D))^2, n_b, n_s) from the base sample's sums
// (from their largest logit M) and the exact part's log-sum-exp: D = 2^(lse_det - M) + (n_s / n_b)
// sum 2^(s - M), the same ratio as with x = 2^(s - lse_det). One warp.
__device__ __forceinline__ int head_budget(const Args& a, const Layout& Ly, int b, int hkv, int h) {
  const int lane = threadIdx.x & 31, G = a.Hq / a.Hkv, nch = cdiv(a.N, CH);
  const int ns = residual_size(a.N), nbase = base_size(ns);
  const long long bh = (long long)b * a.Hkv + hkv;
  const float* l = Ly.all.lse + Ly.all.row(a, b, hkv * G + h, sampled_splits(nch));
  const int nd = det_splits(nch);
  float mx = neg_inf();
  for (int k = lane; k < nd; k += 32) mx = fmaxf(mx, __ldcg(l + k));
  mx = warp_max(mx);
  float sum = 0.f;
  if (mx != neg_inf())
    for (int k = lane; k < nd; k += 32) sum += exp2f(__ldcg(l + k) - mx);
  sum = warp_sum(sum);
  const float lse_det = mx == neg_inf() ? neg_inf() : mx + log2f(sum);
  const float* st = Ly.stats + (bh * NSB * MAXG + h) * 3;
  float mb = neg_inf();
  for (int s = lane; s < NSB; s += 32) mb = fmaxf(mb, __ldcg(st + s * MAXG * 3));
  mb = warp_max(mb);
  float x = 0.f, xx = 0.f;
  if (mb != neg_inf()) {
    for (int s = lane; s < NSB; s += 32) {
      const float f = rescale(__ldcg(st + s * MAXG * 3), mb);
      x += __ldcg(st + s * MAXG * 3 + 1) * f;
      xx += __ldcg(st + s * MAXG * 3 + 2) * f * f;
    }
  }
  x = warp_sum(x);
  xx = warp_sum(xx);
  if (nbase == 0) return 0;
  const float mean = x / nbase;
  const float var = nbase > 1 ? fmaxf(0.f, (xx - nbase * mean * mean) / (nbase - 1)) : 0.f;
  const float det = mb == neg_inf() ? 1.f : exp2f(lse_det - mb);  // no draw: scale-free
  const float dhat = det + (float)ns / nbase * x;
  const float z = normcdfinvf(1.f - DELTA_MILLI * 1e-3f);
  const float r = dhat > 0.f ? z * sqrtf(var) * ns / (EPS_MILLI * 1e-3f * dhat) : 0.f;
  return (int)fminf(fmaxf(ceilf(r * r), (float)nbase), (float)ns);
}

// The exact part's blocks (grid.x < det_splits), then NSB blocks of the base sample, which need
// only the keys and thresholds, so they run beside the exact part instead of after it; the last
// block of a KV head to finish turns the sums into its heads' budgets.
// Three blocks per SM: the chunk's keys are staged in the tile buffers (idle until the attention
// starts), which leaves 8.4 KiB of static shared memory, and registers are capped at 168.
extern "C" __global__ void __launch_bounds__(128, 3) attend_det_stats(const Args a) {
  KEVO_CHECK(a.D == kTileD && a.Hq / a.Hkv <= MAXG);
  launch_dependents();
  wait_prior_kernels();
  const int nd = det_splits(cdiv(a.N, CH)), hkv = blockIdx.y, b = blockIdx.z, G = a.Hq / a.Hkv;
  if ((int)blockIdx.x < nd)
    attend_det(a);
  else
    base_stats(a, blockIdx.x - nd);
  const Layout Ly(a);
  const long long bh = (long long)b * a.Hkv + hkv;
  __shared__ int s_flag, s_budget[MAXG];
  if (!arrive_last(Ly.cnt_det + bh, gridDim.x, &s_flag)) return;
  const int warp = threadIdx.x >> 5;  // the budgets: warp w for heads w, w + 4
  for (int h = warp; h < G; h += 4) {
    const int bud = head_budget(a, Ly, b, hkv, h);
    if ((threadIdx.x & 31) == 0)
      s_budget[h] = bud, Ly.budget[(long long)b * a.Hq + hkv * G + h] = bud;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    int m = 0;
    for (int h = 0; h < G; ++h) m = max(m, s_budget[h]);
    Ly.budget_max[bh] = m;
  }
}

// Sampled draws enter with weight n_s / b_g for head g when draw j < b_g, on tensor cores
// (attend_rows); deterministic tokens are left out (their contribution is exact).
extern "C" __global__ void __launch_bounds__(128) attend_sampled(const Args a) {
  const int c = blockIdx.x, b = blockIdx.z, G = a.Hq / a.Hkv, ngs = cdiv(G, GT);
  const HeadGroup hg = head_group<GT>(a, b, blockIdx.y / ngs, blockIdx.y % ngs);
  const long long bh = (long long)b * a.Hkv + hg.hkv;
  const int ns = residual_size(a.N);
  Layout Ly(a);
  KEVO_CHECK(a.D == kTileD);
  __shared__ int s_list[CH];
  __shared__ u16 s_jdx[CH];  // draw number - j0 (< CH)
  __shared__ int s_budget[GT];
  __shared__ float s_logw[GT];
  __shared__ int scratch[40];
  __shared__ int s_flag;
  extern __shared__ __align__(128) unsigned char tiles[];
  launch_dependents();
  wait_prior_kernels();
  if (threadIdx.x < GT) {
    const int bud = threadIdx.x < hg.ng ? Ly.budget[(long long)b * a.Hq + hg.h0 + threadIdx.x] : 0;
    s_budget[threadIdx.x] = bud;
    s_logw[threadIdx.x] = bud > 0 ? log2f((float)ns / bud) : 0.f;
  }
  // This block's share of the group's draws (at most CH: see sampled_splits).
  const int bmax = Ly.budget_max[bh], per = cdiv(bmax, (int)gridDim.x);
  const int j0 = c * per, j1 = min(bmax, j0 + per);
  const u32* bits = Ly.det_bits + bh * cdiv(a.N, 32);
  int n = 0;
  for (int base = j0; base < j1; base += blockDim.x) {
    const int j = base + threadIdx.x;
    int t = 0;
    bool take = false;
    if (j < j1) {
      t = draw(a, 2, bh, j, ns);
      take = !((bits[t >> 5] >> (t & 31)) & 1u);
    }
    int tile;
    const int at = n + block_exclusive_scan(take, scratch, &tile);
    if (take) s_list[at] = t, s_jdx[at] = (u16)(j - j0);
    n += tile;
  }
  __syncthreads();
  const int lane = threadIdx.x & 31, g = lane >> 2, cl = lane & 3;
  const int bud_g = g < hg.ng ? s_budget[g] - j0 : 0;  // head g takes list entries of jdx < bud_g
  const float logw_g = g < hg.ng ? s_logw[g] : 0.f;
  attend_rows<4, 2>(
      a, hg, n, [&](int i) { return s_list[i]; }, reinterpret_cast<TileBuf*>(tiles),
      [&](int i0, int valid, float(&x)[2][4]) {
#pragma unroll
        for (int nt = 0; nt < 2; ++nt) {
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const int t = nt * 8 + 2 * cl + e;
            if (t < valid) x[nt][e] = (int)s_jdx[i0 + t] < bud_g ? x[nt][e] + logw_g : neg_inf();
          }
        }
      },
      [&](int h, int d, float num, float m, float den) {
        Ly.all.store(a, b, hg.h0 + h, c, d, num, m, den);
      });
  if (arrive_last(Ly.cnt_all + bh * ngs + blockIdx.y % ngs, gridDim.x, &s_flag))
    merge_partials_to_output(a, Ly.all, b, hg.h0, hg.ng);
}

// Below the crossover: the dense baseline's decode (kevo/dense_decode.cuh), 8 warps, 2 stages;
// for long caches its wide form, two blocks an SM of 4 warps, as the dense seed picks them.
extern "C" __global__ void __launch_bounds__(256, 1) dense(const Args a) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  dense_decode<8, 2>(a, smem_raw);
}
extern "C" __global__ void __launch_bounds__(128, 2) dense_wide(const Args a) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  dense_decode<4, 2>(a, smem_raw);
}
// EVOLVE-BLOCK-END
