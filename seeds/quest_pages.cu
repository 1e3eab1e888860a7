// quest_pages: Quest query-aware page selection by per-page key min/max bounds.
//
// Method: Quest (Tang, Zhao, Zhu, Xiao, Kasikci, Han. "Quest: Query-Aware Sparsity for Efficient
// Long-Context LLM Inference", ICML 2024, https://arxiv.org/abs/2406.10774; mit-han-lab/Quest).
// The build phase stores, per page of PAGE tokens, the elementwise minimum and maximum of the
// keys. At decode a page's score is an upper bound of q.k over its tokens:
//     score(page) = sum_d max(q_d * min_d, q_d * max_d)
// and the top k = NP / TOPK_DIV pages (NP = pages in the cache) are attended exactly, plus the
// pages holding the first SINK and the last WIN tokens (Quest always keeps the current page).
// GQA: the G query heads of a KV head share one page selection (their bounds are summed), so
// each selected page's K/V is read once for the group.
// The k-th largest page score is found exactly (kevo/select.cuh select_kth_staged: a linear
// histogram of the page scores, then the exact rank of the few in the k-th's bin).
// With RSAMP > 0 the tokens left out are estimated as in kevo/residual.cuh (without it, any
// top-k at 1/32 of the tokens loses the mass of near-uniform heads: oracle error ~0.2).
//
// Defaults: pages of 16 and 1/8 of the pages. The default suite plants isolated heavy hitters,
// which a page's min/max box of many random keys hides (CPU simulation on the evaluator's
// generator: mean error ~0.25 at PAGE=16 and 1/32 even with the residual). At 1/8 of the pages,
// pages of 16 against 8 (H100, 3 evaluations): mean error 0.050 against 0.019, worst call 0.106
// against 0.052, speedup 1.21x/1.76x/1.99x against 0.97x/1.20x/1.42x at B1-N32K/B1-N128K/B8-N32K
// (half the bound bytes to score; docs/decisions.md, "Seed defaults from the tuner").
// Index: 2 * D bf16 per page = 4*D/PAGE bytes per token per KV head (32 B at D=128, PAGE=16) +
// V sums per chunk.
// Error target: mean relative error <= 0.1 on the llama3-8b suite at the defaults (measured
// figures in seeds/README.md).
// Crossover: at N <= DENSE_N (default 8192) only `dense` runs (the dense seed's decode,
// kevo/dense_decode.cuh; the other decode grids are 0 there, so they are not launched): at short
// contexts selecting costs more than it saves, and dense is exact.
// Roofline (scripts/roofline.py, default params, llama3-8b B1-N8K / B1-N32K / B1-N128K /
// B8-N32K): the method reads 33.6 / 26.3 / 104.1 / 210.7 MB per decode call,
// 8.4 / 6.6 / 26.0 / 52.7 us at 4 TB/s.
#include "kevo/attention.cuh"

// EVOLVE-BLOCK-START

// kevo:param PAGE = 16 in {8, 16, 32}
// kevo:param TOPK_DIV = 8 in {4, 8, 16, 32}
// kevo:param SINK = 16 in {0, 16, 64}
// kevo:param WIN = 64 in {16, 64, 128}
// kevo:param CHP = 192 in {64, 128, 192}
// kevo:param RSAMP = 32 in {0, 16, 32, 64}
// kevo:param ASTAGES = 2 in {1, 2, 3}
// kevo:param DENSE_N = 8192 in {0, 8192, 16384}
// kevo:index      B*Hkv*cdiv(N,PAGE)*D*4 + B*Hkv*cdiv(N,PAGE*CHP)*D*4 + 512
// kevo:workspace  max(B*Hkv*cdiv(N,PAGE)*4 + B*Hkv*4 + (B*Hq*(D+1)*4 + B*Hkv*cdiv(G,8)*8)*cdiv(N,PAGE*CHP)*max(1,min(8,32/cdiv(N,PAGE*CHP))) + 1536, (132 + B*Hkv*cdiv(G,16)) * (min(G,16)*(D+1)*4 + 8) + 1024)
// kevo:build   page_bounds  grid(cdiv(N,PAGE*8), Hkv, B) block(256)
// kevo:build   value_sums   grid(cdiv(N,PAGE*CHP), Hkv, B) block(256)
// kevo:decode  score        grid(cdiv(N,PAGE*64)*(N>DENSE_N), Hkv, B) block(256)
// kevo:decode  threshold    grid(Hkv*(N>DENSE_N), B) block(1024) pdl
// kevo:decode  attend       grid(cdiv(N,PAGE*CHP)*max(1,min(8,32/cdiv(N,PAGE*CHP)))*(N>DENSE_N), Hkv*cdiv(G,8), B) block(128) smem(4*ASTAGES*8192) pdl
// kevo:decode  dense        grid(132*(N<=DENSE_N)) block(256) smem(16*8192)

using namespace kevo;

constexpr int GT = 8, MAXD = 256, MAXG = 8;
constexpr u32 kForcedPage = 0xffffffffu;  // above every float_key
constexpr int CT = CHP * PAGE;             // tokens per chunk

struct Layout {
  __nv_bfloat16* bounds;  // index [B][Hkv][NP][2][D]: min row, then max row
  float* vsum;            // index [B][Hkv][nch][D] V sums per chunk (residual estimate)
  u32* keys;              // workspace [B][Hkv][NP] float_key(score) or kForcedPage
  u32* thresh;            // workspace [B][Hkv]
  SplitsOut out;          // workspace: partials and arrival flags of the attend blocks
  long long index_end, ws_end;
  __device__ explicit Layout(const Args& a) {
    const int G = a.Hq / a.Hkv, np = cdiv(a.N, PAGE), nch = cdiv(np, CHP);
    const long long bh = (long long)a.B * a.Hkv;
    Carve ix(a.index);
    bounds = ix.take<__nv_bfloat16>(bh * np * 2 * a.D);
    vsum = ix.take<float>(bh * nch * a.D);
    index_end = ix.end();
    Carve ws(a.workspace);
    keys = ws.take<u32>(bh * np);
    thresh = ws.take<u32>(bh);
    out.p.nsplit = nch * attend_parts(nch);
    out.p.o = ws.take<float>((long long)a.B * a.Hq * out.p.nsplit * a.D);
    out.p.lse = ws.take<float>((long long)a.B * a.Hq * out.p.nsplit);
    out.flags = ws.take<u64>(bh * cdiv(G, GT) * out.p.nsplit);
    ws_end = ws.end();
  }
};

// ------------------------------------------------------------------------------- build phase

// One warp per page: elementwise min and max of its keys (exact: keys are bf16 already).
extern "C" __global__ void __launch_bounds__(256) page_bounds(const Args a) {
  const int hkv = blockIdx.y, b = blockIdx.z, D = a.D, np = cdiv(a.N, PAGE);
  KEVO_CHECK(RowLanes::supported(D) && D <= MAXD);
  Layout Ly(a);
  KEVO_CHECK(Ly.index_end <= a.index_bytes);
  const int page = blockIdx.x * 8 + (threadIdx.x >> 5), lane = threadIdx.x & 31;
  if (page >= np) return;
  const int n0 = page * PAGE, n1 = min(a.N, n0 + PAGE);
  __nv_bfloat16* out = Ly.bounds + (((long long)b * a.Hkv + hkv) * np + page) * 2 * D;
  for (int d = lane; d < D; d += 32) {
    float lo = __int_as_float(0x7f800000), hi = neg_inf();
    for (int n = n0; n < n1; ++n) {
      const float x = __bfloat162float(a.k[kv_offset(a, b, hkv, n) + d]);
      lo = fminf(lo, x);
      hi = fmaxf(hi, x);
    }
    out[d] = __float2bfloat16_rn(lo);
    out[D + d] = __float2bfloat16_rn(hi);
  }
}

// V sums per chunk of CT tokens, for the residual estimate (kevo/residual.cuh).
extern "C" __global__ void __launch_bounds__(256) value_sums(const Args a) {
  const Layout Ly(a);
  value_sums_block(a, CT, Ly.vsum);
}

// ------------------------------------------------------------------------------ decode phase

__device__ __forceinline__ bool forced_page(int page, int N) {
  return page * PAGE < SINK || (page + 1) * PAGE > N - WIN;
}

// Page scores for 64 pages per block: D/8 lanes per page, bounds summed over the group's heads.
extern "C" __global__ void __launch_bounds__(256) score(const Args a) {
  const int hkv = blockIdx.y, b = blockIdx.z, D = a.D, G = a.Hq / a.Hkv;
  const int np = cdiv(a.N, PAGE);
  const long long bh = (long long)b * a.Hkv + hkv;
  Layout Ly(a);
  KEVO_CHECK(Ly.ws_end <= a.workspace_bytes && G <= MAXG);
  KEVO_CHECK(RowLanes::supported(D) && D <= MAXD);
  launch_dependents();
  const RowLanes rl = RowLanes::of(D);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int slot = lane / rl.lpt, d0 = (lane % rl.lpt) * 8;
  // The group's queries in shared memory, not registers: held for MAXG heads in registers they
  // took 64 of the kernel's 166 and left one block per SM (a latency-bound kernel).
  __shared__ __align__(16) float s_q[MAXG][MAXD];
  for (int e = threadIdx.x; e < G * D; e += blockDim.x)
    s_q[e / D][e % D] = __bfloat162float(a.q[q_offset(a, b, hkv * G + e / D) + e % D]);
  __syncthreads();
  // U page rows per lane are loaded together, then scored. The rows stay packed bf16 until
  // used and each head's q slice is read from shared memory once for the U pages: 98 -> 64
  // registers (2 -> 4 blocks per SM) for the same sums in the same order.
  constexpr int U = 4;
  const int p_end = min(np, (int)blockIdx.x * 64 + 64), step = 8 * rl.slots;
#pragma unroll 1
  for (int p0 = blockIdx.x * 64 + warp * rl.slots; p0 < p_end; p0 += U * step) {  // warp-uniform
    uint4 lo[U], hi[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int page = p0 + u * step + slot;
      if (page < p_end) {
        const __nv_bfloat16* bnd = Ly.bounds + (bh * np + page) * 2 * D + d0;
        lo[u] = ld_stream(bnd);
        hi[u] = ld_stream(bnd + D);
      } else {
        lo[u] = hi[u] = make_uint4(0, 0, 0, 0);  // bf16 zeros
      }
    }
    float sum[U];
#pragma unroll
    for (int u = 0; u < U; ++u) sum[u] = 0.f;
#pragma unroll
    for (int g = 0; g < MAXG; ++g) {
      if (g < G) {
        float q[8];
        *reinterpret_cast<float4*>(q) = *reinterpret_cast<const float4*>(&s_q[g][d0]);
        *reinterpret_cast<float4*>(q + 4) = *reinterpret_cast<const float4*>(&s_q[g][d0 + 4]);
#pragma unroll
        for (int u = 0; u < U; ++u) {
          float l[8], h[8];
          bf16x8_to_float(lo[u], l);
          bf16x8_to_float(hi[u], h);
#pragma unroll
          for (int j = 0; j < 8; ++j) sum[u] += fmaxf(q[j] * l[j], q[j] * h[j]);
        }
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int page = p0 + u * step + slot;
      const float total = group_sum(sum[u], rl.lpt);
      if (page < p_end && d0 == 0)
        Ly.keys[bh * np + page] = forced_page(page, a.N) ? kForcedPage : float_key(total);
    }
  }
}

// Exact k-th largest page score of the list (forced pages do not count).
extern "C" __global__ void __launch_bounds__(1024) threshold(const Args a) {
  const int hkv = blockIdx.x, b = blockIdx.y, np = cdiv(a.N, PAGE);
  const long long bh = (long long)b * a.Hkv + hkv;
  Layout Ly(a);
  __shared__ u32 s_hist[2048];
  __shared__ int scratch[40];
  launch_dependents();
  wait_prior_kernels();
  // Up to 8192 pages (128K tokens at PAGE=16) are read once into shared memory, where one
  // histogram pass and an exact rank of the few scores in the k-th's bin find the threshold
  // (select_kth_staged; the three radix passes read the keys three times).
  constexpr int kStaged = 8192;
  __shared__ __align__(16) u32 s_keys[kStaged];
  const u32* keys = Ly.keys + bh * np;
  const int k = np / TOPK_DIV > 0 ? np / TOPK_DIV : 1;
  auto rank_key = [](u32 x) { return x == kForcedPage ? 0u : x; };
  u32 t;
  if (np <= kStaged) {
    // A thread's 8 loads first, then its stores (one load-store loop: 11.1 against 10.4 us at
    // B1-N128K, H100).
    constexpr int kPer = 8;
    for (int i0 = 0; i0 < np; i0 += kPer * blockDim.x) {
      u32 v[kPer];
#pragma unroll
      for (int j = 0; j < kPer; ++j) {
        const int i = i0 + threadIdx.x + j * (int)blockDim.x;
        v[j] = i < np ? __ldg(keys + i) : 0u;
      }
#pragma unroll
      for (int j = 0; j < kPer; ++j) {
        const int i = i0 + threadIdx.x + j * (int)blockDim.x;
        if (i < np) s_keys[i] = rank_key(v[j]);
      }
    }
    __syncthreads();
    __shared__ __align__(16) u32 s_cand[kMaxKthCandidates];
    t = select_kth_staged(np, k, s_keys, s_hist, s_cand, scratch);
  } else {
    t = radix_select_kth(
        np, k, [&](int i) { return rank_key(keys[i]); }, s_hist, scratch);
  }
  if (threadIdx.x == 0) Ly.thresh[bh] = t;
}

extern "C" __global__ void __launch_bounds__(128, 3) attend(const Args a) {
  const TopkBlock tb = topk_block<GT>(a, CT, true);
  const int np = cdiv(a.N, PAGE), c = tb.chunk;
  const long long bh = (long long)tb.hg.b * a.Hkv + tb.hg.hkv;
  Layout Ly(a);
  __shared__ u16 s_list[CT];
  __shared__ u32 s_bits[CT / 32];
  __shared__ int s_samp[RSAMP > 0 ? RSAMP : 1];
  __shared__ int s_scratch[40];
  extern __shared__ __align__(16) unsigned char dyn[];
  launch_dependents();
  wait_prior_kernels();

  // Selected pages of this chunk, expanded to their tokens (chunk-local positions, in order).
  const u32 t = Ly.thresh[bh];
  int n = 0;
  for (int base = 0; base < CHP; base += blockDim.x) {
    const int page = c * CHP + base + threadIdx.x;
    const bool take = page < np && base + (int)threadIdx.x < CHP && Ly.keys[bh * np + page] >= t;
    const int len = take ? min(PAGE, a.N - page * PAGE) : 0;
    int tile;
    const int at = n + block_exclusive_scan(len, s_scratch, &tile);
#pragma unroll 1
    for (int j = 0; j < len; ++j) s_list[at + j] = (u16)((page - c * CHP) * PAGE + j);
    n += tile;
  }
  __syncthreads();
  attend_topk<4, ASTAGES, RSAMP>(a, tb, s_list, n, false, Ly.vsum + (bh * tb.nch + c) * a.D,
                                 {s_bits, s_samp, s_scratch, reinterpret_cast<TileBuf*>(dyn)},
                                 Ly.out);
}

// Below the crossover: the dense baseline's decode (kevo/dense_decode.cuh), 8 warps, 2 stages.
extern "C" __global__ void __launch_bounds__(256, 1) dense(const Args a) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  dense_decode<8, 2>(a, smem_raw);
}
// EVOLVE-BLOCK-END
