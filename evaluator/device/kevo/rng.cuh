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
// Hash of a few counters: hash3(seed, a, b) etc. Distinct argument tuples give independent-looking
// outputs.
__device__ __forceinline__ u64 hash2(u64 seed, u64 a) { return mix64(seed ^ mix64(a)); }
__device__ __forceinline__ u64 hash3(u64 seed, u64 a, u64 b) {
  return mix64(seed ^ mix64(a ^ mix64(b + 0x632be59bd9b4e019ull)));
}

// Philox4x32-10 (Salmon et al., SC'11): four 32-bit outputs per (counter, key); the generator
// cuRAND uses. For bulk draws where a call gives four numbers.
__device__ __forceinline__ uint4 philox4x32(uint4 ctr, uint2 key) {
#pragma unroll
  for (int r = 0; r < 10; ++r) {
    const u32 hi0 = __umulhi(0xD2511F53u, ctr.x), lo0 = 0xD2511F53u * ctr.x;
    const u32 hi1 = __umulhi(0xCD9E8D57u, ctr.z), lo1 = 0xCD9E8D57u * ctr.z;
    ctr = make_uint4(hi1 ^ ctr.y ^ key.x, lo1, hi0 ^ ctr.w ^ key.y, lo0);
    key.x += 0x9E3779B9u;
    key.y += 0xBB67AE85u;
  }
  return ctr;
}

// Uniform float in [0, 1) from 24 random bits; uniform integer in [0, n) by multiply-shift
// (bias < n / 2^32, negligible for n < 2^24).
__device__ __forceinline__ float u01(u32 bits) { return (bits >> 8) * (1.0f / 16777216.0f); }
__device__ __forceinline__ int uniform_below(u32 bits, int n) {
  return (int)(((u64)bits * (u64)(u32)n) >> 32);
}

// Standard normal from two uniforms (Box-Muller).
__device__ __forceinline__ float gaussian(u64 bits) {
  const float u1 = fmaxf(u01((u32)bits), 1e-7f), u2 = u01((u32)(bits >> 32));
  return sqrtf(-2.f * __logf(u1)) * __cosf(6.2831853f * u2);
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
__device__ __forceinline__ int same_bits64(u64 a, u64 b) { return __popcll(~(a ^ b)); }
__device__ __forceinline__ int hamming32(u32 a, u32 b) { return __popc(a ^ b); }

// Number of equal bytes between two words (4 packed 8-bit codes): for LSH table collisions.
__device__ __forceinline__ int equal_bytes(u32 a, u32 b) {
  return __popc(__vcmpeq4(a, b)) >> 3;
}
// Number of equal 16-bit halves between two words (2 packed 16-bit codes).
__device__ __forceinline__ int equal_halves(u32 a, u32 b) {
  return __popc(__vcmpeq2(a, b)) >> 4;
}

}  // namespace kevo
