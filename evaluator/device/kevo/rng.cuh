// Counter-based random numbers and hashing helpers (part of kevo/attention.cuh).
//
// Sampling methods draw from a.seed, which the evaluator changes on every decode call; the same
// (seed, counter) always gives the same number, so two runs with the same seed agree exactly.
// Fixed random structures (projection planes) use a fixed hash seed instead, so that build and
// decode kernels regenerate the same planes without storing them.
#pragma once

// Included by kevo/attention.cuh (after its basic definitions); include that header, not this one.
namespace kevo {

// splitmix64 finaliser (Steele, Lea & Flood 2014): a strong 64-bit mixer.
__device__ __forceinline__ u64 mix64(u64 x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
// Hash of a seed and two counters: distinct (a, b) give independent-looking outputs.
__device__ __forceinline__ u64 hash3(u64 seed, u64 a, u64 b) {
  return mix64(seed ^ mix64(a ^ mix64(b + 0x632be59bd9b4e019ull)));
}

// Uniform integer in [0, n) from 32 random bits by multiply-shift (bias < n / 2^32).
__device__ __forceinline__ int uniform_below(u32 bits, int n) {
  return (int)(((u64)bits * (u64)(u32)n) >> 32);
}

// ---------------------------------------------------------------------------------------------
// Random sign planes (Rademacher sign random projections, Achlioptas 2003): plane p has entries
// +-1, bit d of the plane set means -1. 32 dimensions per word. The same (plane_seed, p, w) gives
// the same word in build and decode kernels.
__device__ __forceinline__ u32 plane_word(u64 plane_seed, int p, int w) {
  return (u32)hash3(plane_seed, (u64)p, (u64)w);
}

// Projection of 8 values at dims [d0, d0+8) onto the plane whose sign word covering d0 is `word`.
__device__ __forceinline__ float signed_sum8(u32 word, int d0, const float x[8]) {
  const u32 bits = word >> (d0 & 31);
  float s = 0.f;
#pragma unroll
  for (int j = 0; j < 8; ++j) s += ((bits >> j) & 1u) ? -x[j] : x[j];
  return s;
}

// ---------------------------------------------------------------------------------------------
// Hamming helpers. Similarity = number of equal bits = BITS - Hamming distance; for sign bits
// of random projections, E[similarity] / BITS = 1 - angle / pi (Charikar 2002).
__device__ __forceinline__ int same_bits32(u32 a, u32 b) { return __popc(~(a ^ b)); }
__device__ __forceinline__ int same_bits16(u32 a, u32 b) { return __popc(~(a ^ b) & 0xffffu); }

// Number of equal bytes between two words (4 packed 8-bit codes): for LSH table collisions.
__device__ __forceinline__ int equal_bytes(u32 a, u32 b) {
  return __popc(__vcmpeq4(a, b)) >> 3;
}

}  // namespace kevo
