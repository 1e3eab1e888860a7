// Dense split-K FlashDecoding (GQA-aware): the baseline every speedup is measured against.
//
// partial: one CTA per (split of the tokens, KV head, batch row) and chunk of GH query heads;
//   it streams its K/V tokens once for all GH heads of the group (16-byte loads, UNROLL token
//   pairs per warp in flight; with PREFETCH the next group's loads are issued before the
//   current group is computed), keeps an online softmax per head in registers, merges its warps
//   through shared memory and writes a normalised partial output and its log2-sum-exp per
//   (query head, split) into the workspace.
// MIN_CTAS_PER_SM caps registers (launch bounds) so more CTAs share an SM.
// merge: one CTA per query head combines the splits' partials weighted by 2^(lse - max).
//
// The number of splits adapts to the shape: enough CTAs to fill the GPU (about CTAS), but never
// fewer than MIN_SPLIT tokens per CTA. The plan expressions and num_splits() below must agree.
// Defaults from a sweep on an H100 (bench/eval_cost --sweep): 86% of the measured copy
// bandwidth at B=1, N=128K and 91% at B=8, N=32K.
// Head dimension 128 (D != 128 leaves the output unwritten, which the evaluator reports).
#include "kevo/sparse_decode.cuh"

// EVOLVE-BLOCK-START

// kevo:param CTAS = 1536 in {1024, 1536, 2048, 3072, 4096}
// kevo:param MIN_SPLIT = 256 in {128, 256, 512}
// kevo:param GH = 4 in {2, 4, 8}
// kevo:param WARPS = 4 in {2, 4, 8}
// kevo:param UNROLL = 2 in {1, 2, 4, 8}
// kevo:param PREFETCH = 1 in {0, 1}
// kevo:param MIN_CTAS_PER_SM = 1 in {1, 4, 5, 6}
// kevo:param MERGE_WARPS = 16 in {4, 8, 16, 32}
// kevo:workspace B*Hq*min(cdiv(N,MIN_SPLIT),max(1,cdiv(CTAS,B*Hkv*cdiv(G,GH))))*(D+1)*4
// kevo:decode partial grid(cdiv(G,GH)*min(cdiv(N,MIN_SPLIT),max(1,cdiv(CTAS,B*Hkv*cdiv(G,GH)))), Hkv, B) block(32*WARPS)
// kevo:decode merge grid(Hq, B) block(32*MERGE_WARPS)

#define HEAD_DIM 128
#define LOG2E 1.4426950408889634f
#define NEG_INF __int_as_float(0xff800000)

__device__ __forceinline__ int num_splits(const kevo::Args& a) {
  int chunks = kevo::cdiv(a.Hq / a.Hkv, GH);
  return min(kevo::cdiv(a.N, MIN_SPLIT), max(1, kevo::cdiv(CTAS, a.B * a.Hkv * chunks)));
}

// Streaming 16-byte load: read once, so keep it out of L1.
__device__ __forceinline__ uint4 load_stream(const uint4* p) {
  uint4 r;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
      : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
      : "l"(p));
  return r;
}

// 8 bf16 (one uint4) -> 8 floats.
__device__ __forceinline__ void unpack8(const uint4& w, float f[8]) {
  const unsigned int u[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    f[2 * j] = __uint_as_float(u[j] << 16);
    f[2 * j + 1] = __uint_as_float(u[j] & 0xFFFF0000u);
  }
}

// Loads the K and V rows of one group (UNROLL token rows per warp); rows past `end` read as 0.
template <int U, int W, int R, int L>
__device__ __forceinline__ void load_group(const uint4* kp, const uint4* vp, int t0, int end,
                                           int warp, int row, uint4 (&kr)[U], uint4 (&vr)[U]) {
#pragma unroll
  for (int u = 0; u < U; ++u) {
    const int t = t0 + (u * W + warp) * R + row;
    if (t < end) {
      kr[u] = load_stream(kp + (long long)t * L);
      vr[u] = load_stream(vp + (long long)t * L);
    } else {
      kr[u] = make_uint4(0, 0, 0, 0);
      vr[u] = make_uint4(0, 0, 0, 0);
    }
  }
}

extern "C" __global__ void __launch_bounds__(32 * WARPS, MIN_CTAS_PER_SM) partial(const kevo::Args a) {
  constexpr int LANES = HEAD_DIM / 8;  // lanes per token row (8 channels each)
  constexpr int ROWS = 32 / LANES;     // token rows per warp step
  const int G = a.Hq / a.Hkv, chunks = kevo::cdiv(G, GH), nsplit = num_splits(a);
  if (a.D != HEAD_DIM || (int)gridDim.x != chunks * nsplit) return;
  const int chunk = blockIdx.x % chunks, split = blockIdx.x / chunks;
  const int h = blockIdx.y, b = blockIdx.z;
  const int g0 = chunk * GH, ng = min(GH, G - g0);
  const int len = ((kevo::cdiv(a.N, nsplit) + 15) / 16) * 16;
  const int start = split * len, end = min(a.N, start + len);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row_in_step = lane / LANES, sub = lane % LANES;

  float qf[GH][8];
#pragma unroll
  for (int g = 0; g < GH; ++g) {
    if (g < ng) {
      const uint4* qp = reinterpret_cast<const uint4*>(a.q + kevo::q_offset(a, b, h * G + g0 + g));
      unpack8(qp[sub], qf[g]);
#pragma unroll
      for (int e = 0; e < 8; ++e) qf[g][e] *= a.scale * LOG2E;  // scores in the log2 domain
    } else {
#pragma unroll
      for (int e = 0; e < 8; ++e) qf[g][e] = 0;
    }
  }
  float m[GH], l[GH], acc[GH][8];
#pragma unroll
  for (int g = 0; g < GH; ++g) {
    m[g] = NEG_INF;
    l[g] = 0;
#pragma unroll
    for (int e = 0; e < 8; ++e) acc[g][e] = 0;
  }

  const uint4* kp = reinterpret_cast<const uint4*>(a.k + kevo::kv_offset(a, b, h, 0)) + sub;
  const uint4* vp = reinterpret_cast<const uint4*>(a.v + kevo::kv_offset(a, b, h, 0)) + sub;
  constexpr int STEP = UNROLL * WARPS * ROWS;  // tokens per CTA per iteration
  uint4 kr[UNROLL], vr[UNROLL];
#if PREFETCH
  load_group<UNROLL, WARPS, ROWS, LANES>(kp, vp, start, end, warp, row_in_step, kr, vr);
#endif
  for (int t0 = start; t0 < end; t0 += STEP) {
#if PREFETCH
    uint4 kn[UNROLL], vn[UNROLL];  // the next group, in flight while this one is computed
    load_group<UNROLL, WARPS, ROWS, LANES>(kp, vp, t0 + STEP, end, warp, row_in_step, kn, vn);
#else
    load_group<UNROLL, WARPS, ROWS, LANES>(kp, vp, t0, end, warp, row_in_step, kr, vr);
#endif
    bool valid[UNROLL];
#pragma unroll
    for (int u = 0; u < UNROLL; ++u) valid[u] = t0 + (u * WARPS + warp) * ROWS + row_in_step < end;
    float s[UNROLL][GH];
#pragma unroll
    for (int u = 0; u < UNROLL; ++u) {
      float kf[8];
      unpack8(kr[u], kf);
#pragma unroll
      for (int g = 0; g < GH; ++g) {
        float d = 0;
#pragma unroll
        for (int e = 0; e < 8; ++e) d = fmaf(qf[g][e], kf[e], d);
        s[u][g] = d;
      }
    }
#pragma unroll
    for (int off = LANES / 2; off > 0; off /= 2) {
#pragma unroll
      for (int u = 0; u < UNROLL; ++u) {
#pragma unroll
        for (int g = 0; g < GH; ++g) s[u][g] += __shfl_xor_sync(0xffffffffu, s[u][g], off);
      }
    }
    float mref[GH];
#pragma unroll
    for (int g = 0; g < GH; ++g) {
      float mx = m[g];
#pragma unroll
      for (int u = 0; u < UNROLL; ++u) {
        if (!valid[u]) s[u][g] = NEG_INF;
        mx = fmaxf(mx, s[u][g]);
      }
      mref[g] = mx == NEG_INF ? 0.0f : mx;  // nothing valid yet: keep every weight at 0
      const float corr = exp2f(m[g] - mref[g]);
      m[g] = mx;
      l[g] *= corr;
#pragma unroll
      for (int e = 0; e < 8; ++e) acc[g][e] *= corr;
    }
#pragma unroll
    for (int u = 0; u < UNROLL; ++u) {
      float vf[8];
      unpack8(vr[u], vf);
#pragma unroll
      for (int g = 0; g < GH; ++g) {
        const float p = exp2f(s[u][g] - mref[g]);
        l[g] += p;
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[g][e] = fmaf(p, vf[e], acc[g][e]);
      }
    }
#if PREFETCH
#pragma unroll
    for (int u = 0; u < UNROLL; ++u) {
      kr[u] = kn[u];
      vr[u] = vn[u];
    }
#endif
  }

  // Merge the rows of a warp step (lanes sub, sub + LANES, ...), then the warps.
#pragma unroll
  for (int off = LANES; off < 32; off *= 2) {
#pragma unroll
    for (int g = 0; g < GH; ++g) {
      const float mo = __shfl_xor_sync(0xffffffffu, m[g], off);
      const float lo = __shfl_xor_sync(0xffffffffu, l[g], off);
      const float mx = fmaxf(m[g], mo), r = mx == NEG_INF ? 0.0f : mx;
      const float c1 = exp2f(m[g] - r), c2 = exp2f(mo - r);
      l[g] = l[g] * c1 + lo * c2;
#pragma unroll
      for (int e = 0; e < 8; ++e) {
        acc[g][e] = acc[g][e] * c1 + __shfl_xor_sync(0xffffffffu, acc[g][e], off) * c2;
      }
      m[g] = mx;
    }
  }
  __shared__ float sm_m[WARPS][GH], sm_l[WARPS][GH];
  __shared__ float sm_acc[WARPS][GH][HEAD_DIM];
  if (row_in_step == 0) {
#pragma unroll
    for (int g = 0; g < GH; ++g) {
#pragma unroll
      for (int e = 0; e < 8; ++e) sm_acc[warp][g][sub * 8 + e] = acc[g][e];
      if (sub == 0) {
        sm_m[warp][g] = m[g];
        sm_l[warp][g] = l[g];
      }
    }
  }
  __syncthreads();
  float* ws_o = reinterpret_cast<float*>(a.workspace);
  float* ws_lse = ws_o + (long long)a.B * a.Hq * nsplit * HEAD_DIM;
  for (int i = threadIdx.x; i < ng * HEAD_DIM; i += blockDim.x) {
    const int g = i / HEAD_DIM, d = i % HEAD_DIM;
    float mx = NEG_INF;
#pragma unroll
    for (int w = 0; w < WARPS; ++w) mx = fmaxf(mx, sm_m[w][g]);
    const float r = mx == NEG_INF ? 0.0f : mx;
    float L = 0, O = 0;
#pragma unroll
    for (int w = 0; w < WARPS; ++w) {
      const float c = exp2f(sm_m[w][g] - r);
      L += sm_l[w][g] * c;
      O += sm_acc[w][g][d] * c;
    }
    const long long row = (long long)b * a.Hq + h * G + g0 + g;
    ws_o[(row * nsplit + split) * HEAD_DIM + d] = L > 0 ? O / L : 0.0f;
    if (d == 0) ws_lse[row * nsplit + split] = L > 0 ? mx + log2f(L) : NEG_INF;
  }
}

extern "C" __global__ void __launch_bounds__(32 * MERGE_WARPS) merge(const kevo::Args a) {
  const int hq = blockIdx.x, b = blockIdx.y;
  if (a.D != HEAD_DIM) return;
  const int nsplit = num_splits(a);
  const long long row = (long long)b * a.Hq + hq;
  const float* ws_o = reinterpret_cast<const float*>(a.workspace);
  const float* lse = ws_o + (long long)a.B * a.Hq * nsplit * HEAD_DIM + row * nsplit;
  const float* part = ws_o + row * nsplit * HEAD_DIM;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  __shared__ float sm_max[MERGE_WARPS];
  float mx = NEG_INF;
  for (int s = threadIdx.x; s < nsplit; s += blockDim.x) mx = fmaxf(mx, lse[s]);
  for (int off = 16; off > 0; off /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
  if (lane == 0) sm_max[warp] = mx;
  __syncthreads();
  mx = NEG_INF;
#pragma unroll
  for (int w = 0; w < MERGE_WARPS; ++w) mx = fmaxf(mx, sm_max[w]);
  const float r = mx == NEG_INF ? 0.0f : mx;

  // Warp w takes splits w, w + MERGE_WARPS, ...; lane takes channels 4*lane .. 4*lane + 3.
  float4 acc = make_float4(0, 0, 0, 0);
  float den = 0;
#pragma unroll 4
  for (int s = warp; s < nsplit; s += MERGE_WARPS) {
    const float w = exp2f(lse[s] - r);
    const float4 x = reinterpret_cast<const float4*>(part + (long long)s * HEAD_DIM)[lane];
    den += w;
    acc.x = fmaf(w, x.x, acc.x);
    acc.y = fmaf(w, x.y, acc.y);
    acc.z = fmaf(w, x.z, acc.z);
    acc.w = fmaf(w, x.w, acc.w);
  }
  __shared__ float sm_acc[MERGE_WARPS][HEAD_DIM];
  __shared__ float sm_den[MERGE_WARPS];
  sm_acc[warp][4 * lane] = acc.x;
  sm_acc[warp][4 * lane + 1] = acc.y;
  sm_acc[warp][4 * lane + 2] = acc.z;
  sm_acc[warp][4 * lane + 3] = acc.w;
  if (lane == 0) sm_den[warp] = den;
  __syncthreads();
  for (int d = threadIdx.x; d < HEAD_DIM; d += blockDim.x) {
    float o = 0, dn = 0;
#pragma unroll
    for (int w = 0; w < MERGE_WARPS; ++w) {
      o += sm_acc[w][d];
      dn += sm_den[w];
    }
    a.o[kevo::q_offset(a, b, hq) + d] = __float2bfloat16_rn(dn > 0 ? o / dn : 0.0f);
  }
}
// EVOLVE-BLOCK-END
