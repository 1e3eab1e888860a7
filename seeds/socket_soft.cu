// socket_soft: SOCKET soft-collision scoring over L tables of P sign planes, times ||v||, top-k,
// sink and local window.
//
// Method: SOCKET (arXiv 2602.06283, https://arxiv.org/abs/2602.06283; code amarka8/SOCKET,
// https://github.com/amarka8/SOCKET; skylight-org
// sparse-attention-hub socket_top_k.py): each key is hashed into L tables by P sign random
// projections (code = P bits per table). The query is not hashed hard: per table it gets a soft
// distribution over the 2^P buckets, P_l(r) = softmax_r(sum_p h_lp c_r[p] / tau) with
// h_lp = tanh(q . w_lp) / sqrt(D) and c_r in {+-1}^P. A token scores
//     score_i = ||v_i|| * sum_l P_l(code_l(k_i)),
// each chunk's top n / TOPK_DIV of its tokens (TOPK_DIV_SHORT in the short chunks below
// LONG_BN; a per-chunk top-k, as hash_topk's and dsa_indexer's: the score block that hashed the
// chunk finds its threshold bin and tie quota from the chunk's histogram, so no threshold kernel
// waits for every chunk) plus SINK and WIN tokens get exact attention.
// The corner softmax factorises per bit: P_l(r) = prod_p sigmoid(2 h_lp c_r[p] / tau)
// (research notes, SOCKET derivation), so a prologue kernel builds each table's 2^P
// probabilities from P per-bit log-probabilities and the score kernel does one shared-memory
// lookup per table and token. The score kernels are launched `pdl` behind that prologue and let
// the attend blocks start as they begin, so no launch gap is left between the three kernels (run
// 20: 3.04x -> 3.10x at B1-N128K, 2.58x -> 2.67x at B8-N32K; H100). P=8 and tau=0.3 follow
// SOCKET's accuracy code; its L=60 became 45 after the tuner's search on the H100
// (docs/decisions.md, "Seed defaults from the tuner"), then 32 with 64 residual draws in run 18
// (2.49x -> 3.02x at B1-N128K, worst call 0.125; "Run 18").
// Chunks are 2048 tokens: the tuner had picked 1024 while compacting a chunk's selection cost a
// block scan per 128 tokens; with one scan per chunk (kevo/select.cuh compact_chunk) 2048 is
// faster at B1-N128K (attend 50.6 -> 38.9 us, 1.78x -> 2.07x; H100, same call) and even elsewhere.
// With RSAMP > 0 the tokens left out are estimated as in kevo/residual.cuh (without it, any
// top-k at 1/32 of the tokens loses the mass of near-uniform heads: oracle error ~0.2).
// Departures: planes are +-1 (Rademacher) regenerated from a fixed seed, keys are mean-centred
// before hashing (as MagicPIG does), and the bucket probabilities of the G query heads of a KV
// head are summed, so the group shares one selection and reads each K/V row once.
//
// Index: L (padded to 16) code bytes + 2 bytes of ||v|| per token per KV head (34 B at L=32) +
// the key mean + V sums per chunk.
// Error target: mean relative error <= 0.1 on the llama3-8b suite at the defaults (measured
// figures in seeds/README.md).
// Crossover: at N <= DENSE_N (default 8192), or where the batch's caches hold B*N <= DENSE_BN
// tokens (default 16384), only the dense seed's decode runs (kevo/dense_decode.cuh: `dense`, or
// `dense_wide` for long caches as the dense seed picks them; the other decode grids are 0 there,
// so they are not launched): there selecting costs more than it saves, and dense is exact. Run
// 25 measured the sparse path at 0.70x (hash_topk) and 0.66x (socket_soft) of dense at the
// holdout's B1-N16K-H28x4, and 1.16x at its B4-N16K-H64x8 (H100; docs/decisions.md, "Run 26").
// Roofline (scripts/roofline.py, default params, llama3-8b B1-N8K / B1-N32K / B1-N128K /
// B8-N32K): the method reads 33.6 / 20.3 / 59.0 / 123.2 MB per decode call,
// 8.4 / 5.1 / 14.8 / 30.8 us at 4 TB/s.
#include "kevo/attention.cuh"

// EVOLVE-BLOCK-START

// kevo:param TABLES = 32 in {16, 30, 32, 45, 60, 75}
// kevo:param PLANES = 8 in {6, 7, 8}
// kevo:param TAU_X10 = 3 in {3, 5, 10}
// kevo:param TOPK_DIV = 32 in {8, 16, 32, 64}
// kevo:param TOPK_DIV_SHORT = 16 in {8, 16, 32, 64}
// kevo:param SINK = 64 in {0, 16, 64, 128}
// kevo:param WIN = 128 in {32, 64, 128, 256}
// kevo:param CH = 2048 in {1024, 2048}
// kevo:param CH_LONG = 3072 in {2048, 3072}
// kevo:param LONG_BN = 65536 in {32768, 65536, 131072}
// kevo:param RSAMP = 64 in {0, 16, 32, 64}
// kevo:param ASTAGES = 2 in {1, 2, 3}
// kevo:param DENSE_N = 8192 in {0, 8192, 16384}
// kevo:param DENSE_BN = 16384 in {0, 8192, 16384, 32768}
// kevo:let        CHUNK = CH+(CH_LONG-CH)*(B*N>=LONG_BN)
// kevo:let        NCH = cdiv(N,CHUNK)
// kevo:let        SPARSE = (N>DENSE_N)*(B*N>DENSE_BN)
// kevo:index      B*Hkv*N*(cdiv(TABLES,16)*16 + 2) + B*Hkv*D*4 + B*Hkv*NCH*D*4 + 1024
// kevo:workspace  max(B*Hkv*TABLES*512 + B*Hkv*N*2 + B*Hkv*NCH*8 + (B*Hq*(D+1)*4 + B*Hkv*cdiv(G,8)*8)*NCH*max(1,min(8,32/NCH)) + 2048, (264 + B*Hkv*cdiv(G,16)) * (min(G,16)*(D+1)*4 + 8) + 1024)
// kevo:build   key_mean     grid(Hkv, B) block(256)
// kevo:build   hash_keys    grid(cdiv(N,64), Hkv, B) block(256)
// kevo:build   value_sums   grid(NCH, Hkv, B) block(256)
// kevo:decode  bucket_probs grid(TABLES*SPARSE, Hkv, B) block(256)
// kevo:decode  score        grid(cdiv(N,CH)*SPARSE*(B*N<LONG_BN), Hkv, B) block(256) pdl
// kevo:decode  score_long   grid(cdiv(N,CH_LONG)*SPARSE*(B*N>=LONG_BN), Hkv, B) block(256) pdl
// kevo:decode  attend       grid(cdiv(N,CH)*max(1,min(8,32/cdiv(N,CH)))*SPARSE*(B*N<LONG_BN), Hkv*cdiv(G,8), B) block(128) smem(4*ASTAGES*8192) pdl
// kevo:decode  attend_long  grid(cdiv(N,CH_LONG)*max(1,min(8,32/cdiv(N,CH_LONG)))*SPARSE*(B*N>=LONG_BN), Hkv*cdiv(G,8), B) block(128) smem(4*ASTAGES*8192) pdl
// kevo:decode  dense        grid(132*(1-SPARSE)*(B*Hkv*cdiv(G,16)*N<131072)) block(256) smem(16*8192)
// kevo:decode  dense_wide   grid(264*(1-SPARSE)*(B*Hkv*cdiv(G,16)*N>=131072)) block(128) smem(8*8192)

using namespace kevo;

constexpr int GT = 8, MAXD = 256, MAXG = 8;
constexpr int LP = (TABLES + 15) / 16 * 16;  // code bytes per token, padded for 16-byte loads
constexpr int R = 1 << PLANES;               // buckets per table
constexpr int NB = kMaxBins;            // log_key bins
constexpr u64 kPlaneSeed = 0x6b65766f534f434bull;
static_assert(TABLES * R * 2 <= 38400, "the bucket table must fit in shared memory");

// Tokens a chunk: CH, or CH_LONG where the batch's caches hold B*N >= LONG_BN tokens. Longer
// chunks mean fewer, fuller attend blocks (H100, B1-N128K: 512 blocks at CH=2048 are 1.29 waves,
// 344 at 3072 one); at B1-N32K they leave the score's 88 blocks short of 132 SMs. The plan's
// expressions use the same rule (kevo:let CHUNK); `score` and `attend` run below
// LONG_BN, `score_long` and `attend_long` above (two kernels each, so that each block's positions
// are constants: a chunk length read at run time cost hash_topk's attend 7 registers and spills;
// and so that each kernel holds one body: hash_topk's score kernel with both bodies spent 62% of
// its stall samples waiting for instructions at B1-N32K, 20.7 us against 11.2; ncu, H100).
__host__ __device__ constexpr int chunk_len(int B, int N) {
  return (long long)B * N >= LONG_BN ? CH_LONG : CH;
}

struct Layout {
  unsigned char* codes;  // index [B][Hkv][N][LP]
  u16* vnorm;            // index [B][Hkv][N] ||v|| as bf16 bits
  float* mean;           // index [B][Hkv][D]
  float* vsum;           // index [B][Hkv][nch][D] V sums per chunk (residual estimate)
  u16* probs;            // workspace [B][Hkv][TABLES][R] summed bucket probabilities (bf16 bits)
  u16* keys;             // workspace [B][Hkv][N]
  int2* sel;             // workspace [B][Hkv][nch]
  SplitsOut out;          // workspace: partials and arrival flags of the attend blocks
  long long index_end, ws_end;
  // ch: chunk_len(B, N), passed as a constant by the kernels that know it.
  __device__ explicit Layout(const Args& a, int ch) {
    const int G = a.Hq / a.Hkv, nch = cdiv(a.N, ch);
    const long long bh = (long long)a.B * a.Hkv;
    Carve ix(a.index);
    codes = ix.take<unsigned char>(bh * a.N * LP);
    vnorm = ix.take<u16>(bh * a.N);
    mean = ix.take<float>(bh * a.D);
    vsum = ix.take<float>(bh * nch * a.D);
    index_end = ix.end();
    Carve ws(a.workspace);
    probs = ws.take<u16>(bh * TABLES * R);
    keys = ws.take<u16>(bh * a.N);
    sel = ws.take<int2>(bh * nch);
    out.p.nsplit = nch * attend_parts(nch);
    out.p.o = ws.take<float>((long long)a.B * a.Hq * out.p.nsplit * a.D);
    out.p.lse = ws.take<float>((long long)a.B * a.Hq * out.p.nsplit);
    out.flags = ws.take<u64>(bh * cdiv(G, GT) * out.p.nsplit);
    ws_end = ws.end();
  }
};

__device__ __forceinline__ u16 f2bf(float x) {
  return __bfloat16_as_ushort(__float2bfloat16_rn(x));
}

// ------------------------------------------------------------------------------- build phase

extern "C" __global__ void __launch_bounds__(256) key_mean(const Args a) {
  KEVO_CHECK(RowLanes::supported(a.D) && a.D <= MAXD && a.D % 32 == 0);
  Layout Ly(a, chunk_len(a.B, a.N));
  KEVO_CHECK(Ly.index_end <= a.index_bytes);
  key_mean_block(a, Ly.mean);
}

// Codes: bit p of table l = sign of (k - mean) . w_lp; and ||v||. D/8 lanes per row.
extern "C" __global__ void __launch_bounds__(256) hash_keys(const Args a) {
  const int WD = a.D / 32;
  const long long bh = (long long)blockIdx.z * a.Hkv + blockIdx.y;
  Layout Ly(a, chunk_len(a.B, a.N));
  __shared__ u32 s_planes[TABLES * PLANES * (MAXD / 32)];
  load_planes(s_planes, TABLES * PLANES, a.D, kPlaneSeed);
  for_each_centred_key(a, Ly.mean, [&](const KeyRow& k, float (&x)[8]) {
    float v[8], vv = 0.f;
    if (k.ok) {
      bf16x8_to_float(ld_stream(a.v + kv_offset(a, blockIdx.z, blockIdx.y, k.n) + k.d0), v);
    } else {
      for (int j = 0; j < 8; ++j) v[j] = 0.f;
    }
    for (int j = 0; j < 8; ++j) vv += v[j] * v[j];
    vv = group_sum(vv, k.lpt);
    unsigned char* out = Ly.codes + (bh * a.N + (k.ok ? k.n : 0)) * LP;
    for (int l = 0; l < LP; ++l) {
      u32 code = 0;
      if (l < TABLES) {
        for (int p = 0; p < PLANES; ++p) {
          const float s =
              group_sum(signed_sum8(s_planes[(l * PLANES + p) * WD + k.d0 / 32], k.d0, x), k.lpt);
          if (s >= 0.f) code |= 1u << p;
        }
      }
      if (k.ok && k.li == 0) out[l] = (unsigned char)code;
    }
    if (k.ok && k.li == 0) Ly.vnorm[bh * a.N + k.n] = f2bf(sqrtf(vv));
  });
}

// V sums per chunk of chunk_len tokens, for the residual estimate (kevo/residual.cuh).
extern "C" __global__ void __launch_bounds__(256) value_sums(const Args a) {
  const Layout Ly(a, chunk_len(a.B, a.N));
  value_sums_block(a, chunk_len(a.B, a.N), Ly.vsum);
}

// ------------------------------------------------------------------------------ decode phase

// Table l of the KV head's group: probs[l][r] = sum_g prod_p sigmoid(2 h_glp c_r[p] / tau).
extern "C" __global__ void __launch_bounds__(256) bucket_probs(const Args a) {
  launch_dependents();  // the score blocks may start; they wait for these tables
  const int l = blockIdx.x, hkv = blockIdx.y, b = blockIdx.z;
  const int D = a.D, WD = D / 32, G = a.Hq / a.Hkv;
  const long long bh = (long long)b * a.Hkv + hkv;
  Layout Ly(a, chunk_len(a.B, a.N));
  KEVO_CHECK(Ly.ws_end <= a.workspace_bytes && G <= MAXG);
  KEVO_CHECK(RowLanes::supported(D) && D <= MAXD && D % 32 == 0);
  __shared__ u32 s_planes[PLANES * (MAXD / 32)];
  __shared__ __align__(16) float s_q[MAXG * MAXD];
  __shared__ float s_lp[MAXG * PLANES][2];  // log2 probability of bit p being 0 / 1
  for (int i = threadIdx.x; i < PLANES * WD; i += blockDim.x)
    s_planes[i] = plane_word(kPlaneSeed, l * PLANES + i / WD, i % WD);
  for (int i = threadIdx.x; i < G * D; i += blockDim.x)
    s_q[i] = __bfloat162float(a.q[q_offset(a, b, hkv * G + i / D) + i % D]);
  __syncthreads();
  const float inv_tau = 10.f / TAU_X10;
  for (int j = threadIdx.x; j < G * PLANES; j += blockDim.x) {
    const int g = j / PLANES, p = j % PLANES;
    float acc = 0.f;
    for (int d0 = 0; d0 < D; d0 += 8)
      acc += signed_sum8(s_planes[p * WD + d0 / 32], d0, s_q + g * D + d0);
    const float h = tanhf(acc) * rsqrtf((float)D);
    const float z = 2.f * h * inv_tau;  // log sigmoid(+-z), in base 2
    s_lp[j][1] = -log2f(1.f + exp2f(-z * kLog2e));
    s_lp[j][0] = -log2f(1.f + exp2f(z * kLog2e));
  }
  __syncthreads();
  for (int r = threadIdx.x; r < R; r += blockDim.x) {
    float sum = 0.f;
    for (int g = 0; g < G; ++g) {
      float lp = 0.f;
      for (int p = 0; p < PLANES; ++p) lp += s_lp[g * PLANES + p][(r >> p) & 1];
      sum += exp2f(lp);
    }
    Ly.probs[(bh * TABLES + l) * R + r] = f2bf(sum);
  }
}

// A score block's chunk of kCh tokens: soft-collision keys and the chunk's histogram.
template <int kCh, int kTopkDiv>
__device__ __forceinline__ void score_chunk(const Args& a) {
  constexpr int U = 4;  // tokens per thread whose code rows are loaded together
  launch_dependents();  // the attend blocks may find their places
  const int c = blockIdx.x, hkv = blockIdx.y, b = blockIdx.z, N = a.N;
  const long long bh = (long long)b * a.Hkv + hkv;
  Layout Ly(a, kCh);
  __shared__ __align__(16) u16 s_probs[TABLES * R];
  __shared__ __align__(16) u16 s_keys[kCh];
  __shared__ u32 s_hist[NB];
  hist_clear(s_hist, NB);
  wait_prior_kernels();  // bucket_probs' tables (and, through it, the last call's attends)
  {
    const uint4* src = reinterpret_cast<const uint4*>(Ly.probs + bh * TABLES * R);
    uint4* dst = reinterpret_cast<uint4*>(s_probs);
#pragma unroll 4
    for (int i = threadIdx.x; i < TABLES * R / 8; i += blockDim.x) dst[i] = src[i];
  }
  __syncthreads();
  const int n0 = c * kCh, n_items = min(kCh, N - n0);
  const u16* vnorm = Ly.vnorm + bh * N + n0;
  score_index_rows<LP, U>(
      Ly.codes + (bh * N + n0) * LP, n_items, [&](int i) { return bf16_lo(vnorm[i]); },
      [&](int i, const uint4(&row)[LP / 16], float vn) -> u16 {
        const int n = n0 + i;
        float sum = 0.f;
#pragma unroll
        for (int w = 0; w < LP / 16; ++w) {
          const u32 words[4] = {row[w].x, row[w].y, row[w].z, row[w].w};
#pragma unroll
          for (int j = 0; j < 16; ++j) {
            const int l = w * 16 + j;
            if (l < TABLES)
              sum += bf16_lo(s_probs[l * R + ((words[j >> 2] >> (8 * (j & 3))) & (R - 1))]);
          }
        }
        return (n < SINK || n >= N - WIN) ? kKeyForced : (u16)log_key(sum * vn);
      },
      s_keys);
  // A separate share for the chunks of CH below LONG_BN (TOPK_DIV_SHORT): at 32 tables nearly
  // every worst call came from B1-N32K, which has speed to spare (docs/decisions.md, "Run 20");
  // 1/16 there since run 21 (H100, 10 evaluations each: worst call 0.142 -> 0.122, 1.52x ->
  // 1.44x at B1-N32K, B1-N128K unchanged).
  // The chunk's own top n / kTopkDiv (a per-chunk top-k): its threshold bin and tie quota for
  // the attend blocks' compact_chunk. One threshold over the whole list took a kernel of its own
  // (8 us on the H200, after every score block) for a budget that the sink, window and residual
  // estimate already spread over the chunks.
  __shared__ int s_scratch[40];
  store_chunk_keys_topk(s_keys, n_items, Ly.keys + bh * N + n0, s_hist, NB,
                        max(1, n_items / kTopkDiv), Ly.sel + bh * cdiv(N, kCh) + c, s_scratch);
}

// 4 blocks an SM where a token's code row is at most 48 bytes (TABLES <= 48: 64 registers, no
// spills; at 3 an SM, 77 registers, B1-N128K's 512 blocks took 1.29 waves: ncu 40.1 us, DRAM
// 40.7%, H100). Longer rows (U rows of LP/16 uint4 in flight) need more registers than 64.
extern "C" __global__ void __launch_bounds__(256, LP <= 48 ? 4 : 1) score(const Args a) {
  score_chunk<CH, TOPK_DIV_SHORT>(a);
}
extern "C" __global__ void __launch_bounds__(256, LP <= 48 ? 4 : 1) score_long(const Args a) {
  score_chunk<CH_LONG, TOPK_DIV>(a);
}

// Chunks of CH tokens below LONG_BN, of CH_LONG above (kevo/topk_attend.cuh).
extern "C" __global__ void __launch_bounds__(128, 3) attend(const Args a) {
  attend_keyed_kernel<Layout, GT, CH, ASTAGES, RSAMP>(a);
}
extern "C" __global__ void __launch_bounds__(128, 3) attend_long(const Args a) {
  attend_keyed_kernel<Layout, GT, CH_LONG, ASTAGES, RSAMP>(a);
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
