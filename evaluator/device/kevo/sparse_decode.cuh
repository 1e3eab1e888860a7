// kevo task header for `sparse_decode` (GQA decode attention). Supplied to NVRTC from memory;
// device code only, and it includes nothing outside NVRTC's allow-list.
//
// Tensors (bf16, contiguous):  q [B, Hq, D]   k, v [B, Hkv, N, D]   o [B, Hq, D]
// Query head h reads KV head h / G, with G = Hq / Hkv.
// o = softmax(q k^T * scale) v over the tokens the kernel chooses; scale = 1/sqrt(D).
// `index` (index_bytes) is written by the build kernels once per KV cache and read by decode.
// `workspace` (workspace_bytes) is scratch for decode; its contents are garbage on entry.
// `seed` is fresh on every decode call, for sampling methods.
#pragma once

#include <cuda_bf16.h>
#include <cuda/std/cstdint>

namespace kevo {

// What every kernel of a candidate receives (by value): tensors, buffers, shape, scale, seed.
struct Args {
  const __nv_bfloat16* q;
  const __nv_bfloat16* k;
  const __nv_bfloat16* v;
  __nv_bfloat16* o;
  unsigned char* index;
  unsigned char* workspace;
  int B, Hq, Hkv, N, D;
  float scale;
  unsigned long long seed;
  long long index_bytes;
  long long workspace_bytes;
};

// Ceiling division of positive integers (also usable in host-side plan arithmetic).
__host__ __device__ constexpr int cdiv(int a, int b) { return (a + b - 1) / b; }

// Element offset of query (and output) head h of batch b: q + q_offset(a, b, h) is its row.
__device__ __forceinline__ long long q_offset(const Args& a, int b, int h) {
  return ((long long)b * a.Hq + h) * a.D;
}
// Element offset of token n of KV head hkv of batch b in k and v.
__device__ __forceinline__ long long kv_offset(const Args& a, int b, int hkv, int n) {
  return (((long long)b * a.Hkv + hkv) * a.N + n) * a.D;
}

}  // namespace kevo
