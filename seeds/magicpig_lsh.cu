// magicpig_lsh: MagicPIG LSH sampling with the collision-probability correction, plus sink and
// local window.
//
// Method: MagicPIG (Chen, Sadhukhan, Ye, Zhou, Zhang, Nolte, Tian, Douze, Bottou, Jia, Chen.
// "MagicPIG: LSH Sampling for Efficient LLM Generation", ICLR 2025,
// https://arxiv.org/abs/2410.16179; Infini-AI-Lab/MagicPIG). Keys are centred by their mean and
// SimHashed into TABLES tables of KBITS sign bits each. A token is sampled for a query head when
// its code equals the query's code in at least MINCOL tables. Sampling is not top-k: each sampled
// token is weighted by the inverse of its probability of being sampled,
//     p = (1 - theta / pi)^KBITS,   theta = angle(q, k - mean),
//     w = P[Binomial(TABLES, p) >= MINCOL]   (MINCOL = 2: 1 - (1-p)^L - L p (1-p)^(L-1)),
// by using the logit s - log w (self-normalised importance sampling). The SINK first and WIN
// last tokens are attended exactly with weight 1, as MagicPIG's GPU part does.
// Here the tables use +-1 planes regenerated in-kernel from a fixed seed. One block serves a KV
// head's query group and reads its samples once on tensor cores (kevo/topk_attend.cuh's
// attend_topk, no residual), a logits hook adding each head's correction.
// Selection, SHARED=1 (the default): one proposal per KV head, shared by its query group. The
// code is the summed query's, q1 + .. + qG (a SimHash code depends only on the direction), every
// head attends the same samples and weights each by 1 / w(cos(q1 + .. + qG, k - mean)), its
// probability under that proposal, so each head's self-normalised importance-sampling estimate
// stays consistent: only the proposal is shared. This departs from MagicPIG, which samples per
// head. On a GPU the group's K/V rows are read once for the union of its heads' samples, ~51% of
// the rows for 4 heads at ~19% each (K=7, L=96, MINCOL=2), which caps per-head sampling near
// 1.3x of dense; one shared set reads ~19%, at mean error 0.043 against per-head sampling's
// 0.033 at B1-N128K and 0.051 against 0.055 at B1-N32K (CPU simulation on the evaluator's
// generator, docs/decisions.md "Run 25"). SHARED=0 is the paper's per-head selection: each head
// has its own code and weights, and the hook masks each head to its own samples.
// The correction needs ||k - mean|| per token: the build stores it in the index (4 bytes a
// token), so the attention does not recompute it from the K rows.
// MagicPIG's published settings (K=10, L=150) need 300 B per token; under the 128 B index cap
// the tables here hold one byte each. On the default suite the planted heavy hitters sit at wide
// angles to the query (cosine ~0.4), so few bits per table and many tables are needed for their
// collision probability (CPU simulation on the evaluator's generator: mean error ~0.19 at K=8,
// L=96; ~0.09 at K=7, L=96, sampling ~19% of the tokens per head). Defaults K=6, L=64, a token
// sampled at >= 3 collisions (MINCOL): ~10% of the tokens (bench/magicpig_sim.cc, shared
// proposal: mean error 0.113 / 0.077 at B1-N32K / B1-N128K, 8 / 4 calls, against 0.057 / 0.034
// at K=7, L=96, MINCOL=2, which samples ~19%), 68 index bytes a token instead of 100. Run 26
// (H200, 5 evaluations in one call): B1-N128K 99.8 us against 130.3, B8-N32K 163.8 against
// 227.9, mean error 0.042 against 0.021, worst call 0.128 against 0.074, holdout error 0.030
// (docs/decisions.md, "Run 26"). Run 31 (H100, after one sample_prob chain a lane and the
// two-level merge): B1-N128K 90.4 us against dense 182.0 (2.01x; run 27: 105.5 us, 1.78x),
// B8-N32K 160.0 against 349.7 (2.19x), mean error 0.042, worst call 0.125 (docs/decisions.md,
// "Runs 30-31").
//
// Index: TABLES + 4 bytes per token per KV head (68 at the default) + the key mean.
// Error target: mean relative error <= 0.15 on the llama3-8b suite at the defaults (measured
// figures in seeds/README.md).
// Crossover: where the batch's caches hold B*N <= DENSE_BN tokens (default 32768) only `dense`
// runs (the dense seed's decode, kevo/dense_decode.cuh; the other decode grids are 0 there, so
// they are not launched): there the sampling chain's fixed costs outweigh what it saves, and
// dense is exact. Counted over the batch, not per sequence: at B8-N32K the GPU is full and
// sampling pays (H100: vattention 0.91x at B1-N32K, 1.65x at B8-N32K on its sparse path). A
// second rule, per sequence: at N <= DENSE_N (default 16384) dense runs too (run 25 measured
// the sparse path at 0.73x of dense at the holdout's B4-N16K-H64x8; docs/decisions.md, "Run 26").
// Roofline (scripts/roofline.py, default params, llama3-8b B1-N8K / B1-N32K / B1-N128K /
// B8-N32K): the method reads 33.6 / 134.2 / 121.6 / 245.2 MB per decode call,
// 8.4 / 33.6 / 30.4 / 61.3 us at 4 TB/s (dense at B*N <= DENSE_BN or N <= DENSE_N). This counts
// one proposal's samples (~10% of the tokens at the defaults, by the simulation) per KV head,
// what SHARED=1 reads; per-head selection (SHARED=0) reads the union of the group's samples.
#include "kevo/attention.cuh"

// EVOLVE-BLOCK-START

// kevo:param KBITS = 6 in {6, 7, 8}
// kevo:param TABLES = 64 in {32, 64, 96, 112}
// kevo:param MINCOL = 3 in {1, 2, 3}
// kevo:param SINK = 16 in {4, 16, 64, 128}
// kevo:param WIN = 64 in {64, 128, 256}
// kevo:param CH = 1024 in {1024, 2048}
// kevo:param ASTAGES = 2 in {1, 2, 3}
// kevo:param DENSE_BN = 32768 in {0, 8192, 16384, 32768, 65536}
// kevo:param DENSE_N = 16384 in {0, 8192, 16384, 32768}
// kevo:param SHARED = 1 in {0, 1}
// kevo:let        SPARSE = (B*N>DENSE_BN)*(N>DENSE_N)
// kevo:index      B*Hkv*N*(TABLES+4) + B*Hkv*D*4 + 768
// kevo:workspace  max(B*Hkv*G*TABLES + B*Hkv*N*2 + (B*Hq*(D+1)*4 + B*Hkv*cdiv(G,8)*8)*cdiv(N,CH)*max(1,min(8,32/cdiv(N,CH)))*2 + 2560, (264 + B*Hkv*cdiv(G,16)) * (min(G,16)*(D+1)*4 + 8) + 1024)
// kevo:build   key_mean   grid(Hkv, B) block(256)
// kevo:build   hash_keys  grid(cdiv(N,64), Hkv, B) block(256)
// kevo:decode  query_codes grid(TABLES*SPARSE, Hkv, B) block(64)
// kevo:decode  score      grid(cdiv(N,CH)*SPARSE, Hkv, B) block(256) pdl
// kevo:decode  attend     grid(cdiv(N,CH)*max(1,min(8,32/cdiv(N,CH)))*SPARSE, Hkv*cdiv(G,8), B) block(128) smem(4*ASTAGES*8192) pdl
// kevo:decode  dense      grid(132*(1-SPARSE)*(B*Hkv*cdiv(G,16)*N<131072)) block(256) smem(16*8192)
// kevo:decode  dense_wide grid(264*(1-SPARSE)*(B*Hkv*cdiv(G,16)*N>=131072)) block(128) smem(8*8192)

using namespace kevo;

constexpr int GT = 8;  // query heads per attend block: the group (G <= MAXG)
constexpr int MAXD = 256, MAXG = 8;
constexpr u64 kPlaneSeed = 0x6b65766f50494721ull;
static_assert(TABLES % 16 == 0, "codes are read 16 tables at a time");

struct Layout {
  unsigned char* codes;  // index [B][Hkv][N][TABLES]
  float* knorm;          // index [B][Hkv][N]: ||k - mean||
  float* mean;           // index [B][Hkv][D]
  unsigned char* qcodes; // workspace [B][Hkv][G][TABLES] the query heads' codes
  u16* keys;             // workspace [B][Hkv][N]: kKeyForced, or the mask of heads sampling it
  SplitsOut out;         // workspace: partials and arrival flags of the attend blocks
  long long index_end, ws_end;
  __device__ explicit Layout(const Args& a) {
    const int G = a.Hq / a.Hkv, nch = cdiv(a.N, CH);
    const long long bh = (long long)a.B * a.Hkv;
    Carve ix(a.index);
    codes = ix.take<unsigned char>(bh * a.N * TABLES);
    knorm = ix.take<float>(bh * a.N);
    mean = ix.take<float>(bh * a.D);
    index_end = ix.end();
    Carve ws(a.workspace);
    qcodes = ws.take<unsigned char>(bh * G * TABLES);
    keys = ws.take<u16>(bh * a.N);
    out.p.nsplit = nch * attend_parts(nch);
    out.p.o = ws.take<float>((long long)a.B * a.Hq * out.p.nsplit * a.D);
    out.p.lse = ws.take<float>((long long)a.B * a.Hq * out.p.nsplit);
    out.flags = ws.take<u64>(bh * cdiv(G, GT) * out.p.nsplit);
    out.run = 16;  // two merge levels above 32 splits (kevo/topk_attend.cuh SplitsOut)
    out.p1.nsplit = cdiv(out.p.nsplit, out.run);
    out.p1.o = ws.take<float>((long long)a.B * a.Hq * out.p1.nsplit * a.D);
    out.p1.lse = ws.take<float>((long long)a.B * a.Hq * out.p1.nsplit);
    out.flags1 = ws.take<u64>(bh * cdiv(G, GT) * out.p1.nsplit);
    ws_end = ws.end();
  }
};

// ------------------------------------------------------------------------------- build phase

extern "C" __global__ void __launch_bounds__(256) key_mean(const Args a) {
  KEVO_CHECK(RowLanes::supported(a.D) && a.D <= MAXD && a.D % 32 == 0);
  Layout Ly(a);
  KEVO_CHECK(Ly.index_end <= a.index_bytes);
  key_mean_block(a, Ly.mean);
}

// Code byte l of a token: bit p = sign of (k - mean) . w_{l,p}; and ||k - mean||.
extern "C" __global__ void __launch_bounds__(256) hash_keys(const Args a) {
  const int WD = a.D / 32;
  const long long bh = (long long)blockIdx.z * a.Hkv + blockIdx.y;
  Layout Ly(a);
  __shared__ u32 s_planes[TABLES * KBITS * (MAXD / 32)];
  load_planes(s_planes, TABLES * KBITS, a.D, kPlaneSeed);
  for_each_centred_key(a, Ly.mean, [&](const KeyRow& k, float (&x)[8]) {
#pragma unroll 1
    for (int l = 0; l < TABLES; ++l) {
      u32 code = 0;
      for (int p = 0; p < KBITS; ++p) {
        const float s =
            group_sum(signed_sum8(s_planes[(l * KBITS + p) * WD + k.d0 / 32], k.d0, x), k.lpt);
        if (s >= 0.f) code |= 1u << p;
      }
      if (k.ok && k.li == 0) Ly.codes[(bh * a.N + k.n) * TABLES + l] = (unsigned char)code;
    }
    float kk = 0.f;
    for (int j = 0; j < 8; ++j) kk += x[j] * x[j];
    kk = group_sum(kk, k.lpt);
    if (k.ok && k.li == 0) Ly.knorm[bh * a.N + k.n] = sqrtf(kk);
  });
}

// ------------------------------------------------------------------------------ decode phase

// Probability that a token at angle theta to the query collides in >= MINCOL of TABLES tables:
// with p = (1 - theta/pi)^KBITS per table and q = 1 - p, 1 - sum_{j < MINCOL} C(L,j) p^j q^(L-j),
// written as 1 - q^(L-MINCOL+1) * poly(p, q): one log2 and one exp2 (a chain of two MUFU ops
// after the acos instead of six).
__device__ __forceinline__ float sample_prob(float cos_theta) {
  const float theta = acosf(fminf(fmaxf(cos_theta, -1.f), 1.f));
  const float base = fmaxf(1.f - theta * 0.31830988618f, 0.f);
  float p = 1.f;
#pragma unroll
  for (int k = 0; k < KBITS; ++k) p *= base;
  const float q = 1.f - p;
  float poly = 1.f;  // sum_{j < MINCOL} C(L,j) p^j q^(MINCOL-1-j)
  if (MINCOL == 2) poly = q + TABLES * p;
  if (MINCOL == 3) poly = q * q + TABLES * p * q + 0.5f * TABLES * (TABLES - 1) * p * p;
  const float below = exp2f((TABLES - MINCOL + 1) * log2f(fmaxf(q, 1e-30f))) * poly;
  return fmaxf(1.f - below, 1e-6f);
}

// Code byte of table l for each query head of the group (one block per table).
extern "C" __global__ void __launch_bounds__(64) query_codes(const Args a) {
  launch_dependents();
  const int l = blockIdx.x, hkv = blockIdx.y, b = blockIdx.z;
  const int D = a.D, WD = D / 32, G = a.Hq / a.Hkv;
  const long long bh = (long long)b * a.Hkv + hkv;
  Layout Ly(a);
  KEVO_CHECK(Ly.ws_end <= a.workspace_bytes && G <= MAXG && G * KBITS <= 64);
  KEVO_CHECK(RowLanes::supported(D) && D <= MAXD && D % 32 == 0);
  __shared__ u32 s_planes[KBITS * (MAXD / 32)];
  __shared__ u32 s_code[MAXG];
  __shared__ float s_qsum[MAXD];
  for (int i = threadIdx.x; i < KBITS * WD; i += blockDim.x)
    s_planes[i] = plane_word(kPlaneSeed, l * KBITS + i / WD, i % WD);
  if (threadIdx.x < MAXG) s_code[threadIdx.x] = 0;
  if (SHARED) {  // the group's summed query, a dim a thread (its projections sum to the code's)
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
      float sum = 0.f;
      for (int g = 0; g < G; ++g) sum += __bfloat162float(a.q[q_offset(a, b, hkv * G + g) + d]);
      s_qsum[d] = sum;
    }
  }
  __syncthreads();
  if (SHARED) {  // one code, the summed query's, for all heads: 8 lanes a plane, D/8 dims a lane
    static_assert(KBITS * 8 <= 64, "8 lanes a plane in a block of 64");
    const int p = threadIdx.x / 8, part = threadIdx.x % 8, span = D / 8;
    float acc = 0.f;
    if (p < KBITS) {
      for (int d = part * span; d < (part + 1) * span; ++d)
        acc += ((s_planes[p * WD + d / 32] >> (d & 31)) & 1u) ? -s_qsum[d] : s_qsum[d];
    }
#pragma unroll
    for (int m = 4; m > 0; m >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, m);
    if (p < KBITS && part == 0 && acc >= 0.f) atomicOr(&s_code[0], 1u << p);
    __syncthreads();
    if (threadIdx.x > 0 && threadIdx.x < G) s_code[threadIdx.x] = s_code[0];
  } else if (threadIdx.x < G * KBITS) {
    const int g = threadIdx.x / KBITS, p = threadIdx.x % KBITS;
    const __nv_bfloat16* q = a.q + q_offset(a, b, hkv * G + g);
    float acc = 0.f;
    for (int d0 = 0; d0 < D; d0 += 8) {
      float x[8];
      bf16x8_to_float(ld_u4(q + d0), x);
      acc += signed_sum8(s_planes[p * WD + d0 / 32], d0, x);
    }
    if (acc >= 0.f) atomicOr(&s_code[g], 1u << p);
  }
  __syncthreads();
  if (threadIdx.x < G) Ly.qcodes[(bh * G + threadIdx.x) * TABLES + l] = (unsigned char)s_code[threadIdx.x];
}

// Per token, the mask of query heads whose code collides in at least MINCOL tables (sink and
// window tokens are forced in). U tokens per thread have their code rows loaded together.
extern "C" __global__ void __launch_bounds__(256) score(const Args a) {
  constexpr int U = 2;
  const int c = blockIdx.x, hkv = blockIdx.y, b = blockIdx.z, G = a.Hq / a.Hkv, N = a.N;
  const long long bh = (long long)b * a.Hkv + hkv;
  Layout Ly(a);
  __shared__ u32 s_qcode[MAXG * TABLES / 4];
  __shared__ __align__(16) u16 s_keys[CH];
  launch_dependents();
  wait_prior_kernels();
  for (int i = threadIdx.x; i < G * TABLES / 4; i += blockDim.x)
    s_qcode[i] = reinterpret_cast<const u32*>(Ly.qcodes + bh * G * TABLES)[i];
  __syncthreads();
  const int n0 = c * CH, n_items = min(CH, N - n0);
  const unsigned char* codes = Ly.codes + (bh * N + n0) * TABLES;
#pragma unroll 1
  for (int r0 = 0; r0 < n_items; r0 += 256 * U) {
    uint4 row[U][TABLES / 16];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int i = r0 + u * 256 + threadIdx.x;
      if (i < n_items) {
#pragma unroll
        for (int w = 0; w < TABLES / 16; ++w)
          row[u][w] = ld_stream(codes + (long long)i * TABLES + w * 16);
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int i = r0 + u * 256 + threadIdx.x, n = n0 + i;
      if (i >= n_items) continue;
      u32 key = 0;
#pragma unroll
      for (int g = 0; g < (SHARED ? 1 : MAXG); ++g) {
        if (g < G) {
          int cnt = 0;
#pragma unroll
          for (int w = 0; w < TABLES / 16; ++w) {
            const u32* qc = s_qcode + g * TABLES / 4 + w * 4;
            cnt += equal_bytes(row[u][w].x, qc[0]) + equal_bytes(row[u][w].y, qc[1]) +
                   equal_bytes(row[u][w].z, qc[2]) + equal_bytes(row[u][w].w, qc[3]);
          }
          if (cnt >= MINCOL) key |= SHARED ? (1u << G) - 1u : 1u << g;
        }
      }
      s_keys[i] = (n < SINK || n >= N - WIN) ? kKeyForced : (u16)key;
    }
  }
  __syncthreads();
  u16* keys = Ly.keys + bh * N + n0;
  for (int i = threadIdx.x; i < n_items; i += blockDim.x) keys[i] = s_keys[i];
}

// The tile attention's logits hook: head g keeps a token it sampled with its logit corrected
// by the inverse sampling probability (s - log2 w, from cos(q_g, k - mean)), drops a token it
// did not sample, and keeps a forced token as it is.
struct PigCorrection {
  const u16* keys;   // the chunk's keys by position (kKeyForced or the heads' sample mask)
  const float* kn;   // the chunk's ||k - mean|| by position
  const float* qmu;  // q_g . mean
  const float* qn;   // ||q_g||
  float inv_sl;      // 1 / (scale * log2(e)): logit back to q . k
  int ng;
  float qbar_mu, qbar_n;  // SHARED: (q_1 + .. + q_G) . mean and its norm
  __device__ __forceinline__ void operator()(const u16* rows, int valid, float (&x)[2][4]) const {
    const int lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3;
    if (SHARED) {
      // The summed query's logit of token nt*8 + 2c + i is the sum of the heads' logits, held by
      // lanes c, c + 4, .., c + 28 (head g = lane / 4): summed across them before any branch.
      float sum[2][2];
#pragma unroll
      for (int nt = 0; nt < 2; ++nt)
#pragma unroll
        for (int i = 0; i < 2; ++i) {
          float v = g < ng ? x[nt][i] : 0.f;
          v += __shfl_xor_sync(0xffffffffu, v, 4);
          v += __shfl_xor_sync(0xffffffffu, v, 8);
          v += __shfl_xor_sync(0xffffffffu, v, 16);
          sum[nt][i] = v;
        }
      // Every lane of column c holds the same four sums: lane (g, c) with g < 4 computes the
      // correction of token j = g (nt = j & 1, i = j >> 1) only, and each lane takes its four
      // from lanes (j << 2) | c: one sample_prob chain a lane instead of four.
      float corr = 0.f;
      {
        const int j = g & 3, nt = j & 1, i = j >> 1, t = nt * 8 + 2 * c + i;
        const float s = nt ? (i ? sum[1][1] : sum[1][0]) : (i ? sum[0][1] : sum[0][0]);
        if (g < 4 && t < valid) {
          const int pos = rows[t];
          if (keys[pos] != kKeyForced) {
            const float cosv = (s * inv_sl - qbar_mu) / fmaxf(qbar_n * kn[pos], 1e-20f);
            corr = log2f(sample_prob(cosv));
          }
        }
      }
      float cj[2][2];
#pragma unroll
      for (int nt = 0; nt < 2; ++nt)
#pragma unroll
        for (int i = 0; i < 2; ++i)
          cj[nt][i] = __shfl_sync(0xffffffffu, corr, ((nt | (i << 1)) << 2) | c);
      if (g >= ng) return;
#pragma unroll
      for (int nt = 0; nt < 2; ++nt)
#pragma unroll
        for (int i = 0; i < 2; ++i) x[nt][i] -= cj[nt][i];  // 0 for forced and invalid tokens
      return;
    }
    if (g >= ng) return;  // rows of no head: ignored by the attention
#pragma unroll
    for (int nt = 0; nt < 2; ++nt) {
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        const int t = nt * 8 + 2 * c + i;
        if (t >= valid) continue;  // already -inf
        const int pos = rows[t];
        const u16 key = keys[pos];
        if (key == kKeyForced) continue;
        if ((key >> g) & 1u) {
          const float cosv = (x[nt][i] * inv_sl - qmu[g]) / fmaxf(qn[g] * kn[pos], 1e-20f);
          x[nt][i] -= log2f(sample_prob(cosv));
        } else {
          x[nt][i] = neg_inf();
        }
      }
    }
  }
};

// One block per chunk part and KV head: the union of the group's samples, attended once on
// tensor cores with PigCorrection, as one split; the splits merge in two levels where a group
// has more than 32 (runs of 16, kevo/topk_attend.cuh SplitsOut: 128 at B1-N128K).
extern "C" __global__ void __launch_bounds__(128, 3) attend(const Args a) {
  const TopkBlock tb = topk_block<GT>(a, CH, true);
  const int D = a.D;
  const long long bh = (long long)tb.hg.b * a.Hkv + tb.hg.hkv;
  Layout Ly(a);
  KEVO_CHECK(D == kTileD && tb.hg.ng <= MAXG);
  __shared__ u16 s_list[CH];
  __shared__ __align__(16) u16 s_keys[CH];
  __shared__ float s_kn[CH];
  __shared__ u32 s_bits[1];
  __shared__ int s_samp[1];
  __shared__ int s_scratch[40];
  __shared__ float s_qmu[GT], s_qn[GT], s_qbar_n;
  extern __shared__ __align__(128) unsigned char kevo_tiles[];

  const float* kn = Ly.knorm + bh * a.N + tb.base;
  for (int i = threadIdx.x; i < tb.n_items; i += blockDim.x) s_kn[i] = __ldg(kn + i);
  {  // q . mean and ||q|| per head: warp w for heads w, w + 4
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const float* mean = Ly.mean + bh * D;
    for (int g = warp; g < GT; g += 4) {
      float qm = 0.f, qq = 0.f;
      if (g < tb.hg.ng) {
        for (int d = lane; d < D; d += 32) {
          const float x = __bfloat162float(a.q[q_offset(a, tb.hg.b, tb.hg.h0 + g) + d]);
          qm += x * mean[d];
          qq += x * x;
        }
      }
      qm = warp_sum(qm);
      qq = warp_sum(qq);
      if (lane == 0) s_qmu[g] = qm, s_qn[g] = sqrtf(qq);
    }
    if (SHARED && warp == 0) {  // || q_1 + .. + q_G ||
      float qq = 0.f;
      for (int d = lane; d < D; d += 32) {
        float x = 0.f;
        for (int g = 0; g < tb.hg.ng; ++g)
          x += __bfloat162float(a.q[q_offset(a, tb.hg.b, tb.hg.h0 + g) + d]);
        qq += x * x;
      }
      qq = warp_sum(qq);
      if (lane == 0) s_qbar_n = sqrtf(qq);
    }
  }
  launch_dependents();
  wait_prior_kernels();  // the keys are the score kernel's
  // The chunk's sampled and forced tokens, in order (keys 1 .. 2^G - 1 and kKeyForced pass the
  // threshold 0 with no tie taken).
  load_keys(Ly.keys + bh * a.N + tb.base, tb.n_items, s_keys);
  const int n = compact_chunk(
      tb.n_items, [&](int i) { return s_keys[i]; }, make_int2(0, 0), s_list, s_scratch);
  __syncthreads();  // s_qbar_n
  float qbar_mu = 0.f;
  for (int g = 0; g < tb.hg.ng; ++g) qbar_mu += s_qmu[g];
  const PigCorrection corr{s_keys,   s_kn,    s_qmu,   s_qn, 1.f / (a.scale * kLog2e),
                           tb.hg.ng, qbar_mu, s_qbar_n};
  attend_topk<4, ASTAGES, 0>(a, tb, s_list, n, true, nullptr,
                             {s_bits, s_samp, s_scratch, reinterpret_cast<TileBuf*>(kevo_tiles)},
                             Ly.out, corr);
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
