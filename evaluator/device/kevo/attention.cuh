// Shared device building blocks for sparse decode attention, in the spirit of FlashInfer's
// attention/state.cuh and variants: small pieces that seeds compose, so that each seed's
// method-specific scoring and selection stays short and visible.
//
//   attention.cuh   (this file) bf16 16-byte loads, fp32 dot products, warp/block reductions,
//                   the online-softmax state of the CUDA-core attention
//   kevo/rng.cuh    counter-based random numbers from a.seed, random sign planes, Hamming helpers
//   kevo/select.cuh top-k by histogram threshold, exact radix select, block stream compaction
//   kevo/splits.cuh split-KV partials, their merge, and the arrival of the block that merges
//   kevo/tile_attend.cuh  GQA attention of 16-token tiles on tensor cores (cp.async pipelines)
//   kevo/sparse_attend.cuh  CUDA-core attention over a list of tokens with a logits variant
//                   (MagicPIG's and vAttention's weights), workspace carving, row sums
//   kevo/residual.cuh  the residual draws that estimate what a top-k leaves out
//   kevo/quant.cuh  randomised Hadamard rotation, int4 keys / int8 queries
//   kevo/index_build.cuh  whole-block bodies of kernels several seeds share (key mean, chunk V
//                   sums, int4 indexer keys, the top-k threshold)
//   kevo/topk_attend.cuh  the attend step of the top-k seeds (chunk parts, residual, merge)
//   kevo/dense_decode.cuh  dense decode over every token (the baseline, and the sparse seeds'
//                   path below their crossover)
//
// Device code only; includes only the task header and allow-listed CUDA headers (NVRTC).
// Logits are kept in base 2 (scale * log2(e) folded in), so the softmax uses exp2f.
#pragma once

#include <cuda_bf16.h>

#include "kevo/sparse_decode.cuh"

namespace kevo {

// Short names for the unsigned types the helpers use.
using u16 = unsigned short;
using u32 = unsigned int;
using u64 = unsigned long long;

// log2(e): logits are kept in base 2 (scale * kLog2e folded in), so softmax uses exp2f.
constexpr float kLog2e = 1.4426950408889634f;

// -infinity as a float (the initial running max of an online softmax).
__device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000u); }

// A bug in a seed (a layout that outgrows the planned workspace, an unsupported shape) traps:
// the evaluator reports it as a crash with the kernel's name, instead of a silent wrong answer.
#define KEVO_CHECK(cond) \
  do {                   \
    if (!(cond)) __trap(); \
  } while (0)

// ---------------------------------------------------------------------------------------------
// Programmatic dependent launch (a decode line's `pdl`, Hopper and newer). A `pdl` kernel is
// launched while the decode kernel before it may still run: its blocks start as soon as every
// block of that kernel has called launch_dependents() (or exited), so its setup (queries, planes,
// tables) overlaps the previous kernel's tail and the launch gap. Before it reads or writes
// anything an earlier kernel of the call writes (workspace, the output), it must call
// wait_prior_kernels(), which returns once the previous kernel has completed and its writes are
// visible. Without a `pdl` launch both are no-ops, so a kernel stays correct either way.

// Lets the next kernel (if launched `pdl`) start its blocks; call early, in every block.
__device__ __forceinline__ void launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
// Waits for the kernel before this one (and its memory); every thread that touches workspace
// or the output after it must have passed it.
__device__ __forceinline__ void wait_prior_kernels() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// ---------------------------------------------------------------------------------------------
// bf16 vectors: 8 bf16 = 16 bytes = one uint4.

// Read-only, L1-bypassing 16-byte load: KV rows are read once per decode, caching them in L1
// only evicts what is reused (lists, queries).
__device__ __forceinline__ uint4 ld_stream(const void* p) {
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "l"(p));
  return r;
}
// The same for 8 bytes (index rows read once per decode, such as quest_pages' bounds).
__device__ __forceinline__ uint2 ld_stream8(const void* p) {
  uint2 r;
  asm volatile("ld.global.nc.L1::no_allocate.v2.u32 {%0,%1}, [%2];"
               : "=r"(r.x), "=r"(r.y)
               : "l"(p));
  return r;
}
// Read-only 16-byte load through the texture path (cached): for data read more than once.
__device__ __forceinline__ uint4 ld_u4(const void* p) {
  return __ldg(reinterpret_cast<const uint4*>(p));
}

// Two bf16 packed in a u32 to two floats (exact: bf16 is the top half of an fp32).
__device__ __forceinline__ float bf16_lo(u32 x) { return __uint_as_float(x << 16); }
__device__ __forceinline__ float bf16_hi(u32 x) { return __uint_as_float(x & 0xffff0000u); }

// The 8 bf16 of a 16-byte load as 8 floats.
__device__ __forceinline__ void bf16x8_to_float(const uint4& u, float f[8]) {
  f[0] = bf16_lo(u.x); f[1] = bf16_hi(u.x);
  f[2] = bf16_lo(u.y); f[3] = bf16_hi(u.y);
  f[4] = bf16_lo(u.z); f[5] = bf16_hi(u.z);
  f[6] = bf16_lo(u.w); f[7] = bf16_hi(u.w);
}

// fp32-accumulated dot product of 8 fp32 values with 8 bf16 values.
__device__ __forceinline__ float dot8(const float q[8], const uint4& k) {
  float s = q[0] * bf16_lo(k.x);
  s = fmaf(q[1], bf16_hi(k.x), s);
  s = fmaf(q[2], bf16_lo(k.y), s);
  s = fmaf(q[3], bf16_hi(k.y), s);
  s = fmaf(q[4], bf16_lo(k.z), s);
  s = fmaf(q[5], bf16_hi(k.z), s);
  s = fmaf(q[6], bf16_lo(k.w), s);
  s = fmaf(q[7], bf16_hi(k.w), s);
  return s;
}

// Lane geometry for one row of D bf16 spread over D/8 lanes (8 elements, 16 bytes each).
// D must be a multiple of 8 with D/8 a power of two up to 32 (D in {8,...,64,128,256}).
struct RowLanes {
  int lpt;    // lanes per token (row)
  int slots;  // rows a warp holds at once = 32 / lpt
  __device__ __forceinline__ static RowLanes of(int D) {
    RowLanes r;
    r.lpt = D >> 3;
    r.slots = 32 / r.lpt;
    return r;
  }
  __device__ __forceinline__ static bool supported(int D) {
    int l = D >> 3;
    return D % 8 == 0 && l >= 1 && l <= 32 && (l & (l - 1)) == 0;
  }
};

// ---------------------------------------------------------------------------------------------
// Reductions.

// Sum over groups of `width` consecutive lanes (width a power of two <= 32); every lane of the
// group gets the total. Must be called by the full warp.
__device__ __forceinline__ float group_sum(float x, int width) {
  for (int off = width >> 1; off > 0; off >>= 1) x += __shfl_xor_sync(0xffffffffu, x, off);
  return x;
}
// Sum over the warp; every lane gets the total.
__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) x += __shfl_xor_sync(0xffffffffu, x, off);
  return x;
}
// Maximum over the warp; every lane gets it.
__device__ __forceinline__ float warp_max(float x) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, off));
  return x;
}
// Inclusive prefix sum over the warp.
__device__ __forceinline__ int warp_inclusive_scan(int x) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int off = 1; off < 32; off <<= 1) {
    int y = __shfl_up_sync(0xffffffffu, x, off);
    if (lane >= off) x += y;
  }
  return x;
}

// Block-wide maximum; `scratch` holds at least 33 floats of shared memory; every thread gets it.
__device__ __forceinline__ float block_max(float x, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  x = warp_max(x);
  __syncthreads();
  if (lane == 0) scratch[warp] = x;
  __syncthreads();
  if (warp == 0) {
    float y = lane < nw ? scratch[lane] : neg_inf();
    y = warp_max(y);
    if (lane == 0) scratch[32] = y;
  }
  __syncthreads();
  return scratch[32];
}

// Exclusive prefix sum over the block; `scratch` holds at least 33 ints; `total` gets the sum.
__device__ __forceinline__ int block_exclusive_scan(int x, int* scratch, int* total) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  int inc = warp_inclusive_scan(x);
  __syncthreads();
  if (lane == 31) scratch[warp] = inc;
  __syncthreads();
  if (warp == 0) {
    int y = lane < nw ? scratch[lane] : 0;
    int yi = warp_inclusive_scan(y);
    if (lane < nw) scratch[lane] = yi - y;
    if (lane == 31) scratch[32] = yi;
  }
  __syncthreads();
  int r = inc - x + scratch[warp];
  *total = scratch[32];
  return r;
}

// ---------------------------------------------------------------------------------------------
// Online softmax (Milakov & Gimelshein 2018), base 2: m = running max logit, d = sum of
// 2^(s - m), o = sum of 2^(s - m) * v over the tokens seen. A logit of -inf is a masked token.
template <int kV>
struct SoftmaxState {
  float m, d;
  float o[kV];

  __device__ __forceinline__ void init() {
    m = neg_inf();
    d = 0.f;
#pragma unroll
    for (int i = 0; i < kV; ++i) o[i] = 0.f;
  }
  __device__ __forceinline__ void update(float s, const float v[kV]) {
    if (s == neg_inf()) return;
    const float mn = fmaxf(m, s);
    const float c = exp2f(m - mn);  // m = -inf gives 0
    const float p = exp2f(s - mn);
    d = fmaf(d, c, p);
#pragma unroll
    for (int i = 0; i < kV; ++i) o[i] = fmaf(o[i], c, p * v[i]);
    m = mn;
  }
  __device__ __forceinline__ void merge(float m2, float d2, const float o2[kV]) {
    if (m2 == neg_inf()) return;
    const float mn = fmaxf(m, m2);
    const float c1 = exp2f(m - mn), c2 = exp2f(m2 - mn);
    d = d * c1 + d2 * c2;
#pragma unroll
    for (int i = 0; i < kV; ++i) o[i] = o[i] * c1 + o2[i] * c2;
    m = mn;
  }
  __device__ __forceinline__ void merge(const SoftmaxState& x) { merge(x.m, x.d, x.o); }
  // Merge with the state held by lane (lane ^ off); the whole warp must call.
  __device__ __forceinline__ void merge_xor(int off) {
    float m2 = __shfl_xor_sync(0xffffffffu, m, off);
    float d2 = __shfl_xor_sync(0xffffffffu, d, off);
    float o2[kV];
#pragma unroll
    for (int i = 0; i < kV; ++i) o2[i] = __shfl_xor_sync(0xffffffffu, o[i], off);
    merge(m2, d2, o2);
  }
  // log2 of the softmax denominator: the "LSE" of a partial result (base 2).
  __device__ __forceinline__ float lse() const { return d > 0.f ? m + log2f(d) : neg_inf(); }
};

}  // namespace kevo

#include "kevo/rng.cuh"
#include "kevo/select.cuh"
#include "kevo/splits.cuh"
#include "kevo/tile_attend.cuh"
#include "kevo/sparse_attend.cuh"
#include "kevo/residual.cuh"
#include "kevo/quant.cuh"
#include "kevo/index_build.cuh"
#include "kevo/topk_attend.cuh"

// After tile_attend.cuh and splits.cuh, whose pieces it uses.
#include "kevo/dense_decode.cuh"
