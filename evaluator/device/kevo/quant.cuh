// Low-precision key projections for indexers (part of kevo/attention.cuh; include that header).
//
// A randomised Hadamard rotation (random signs, then the orthonormal Walsh-Hadamard transform,
// as DeepSeek's lightning indexer and QuaRot use before quantising) spreads outlier channels
// over all coordinates, so one scale per row quantises well. Rows are held as in attend_list:
// D/8 lanes per row, 8 consecutive coordinates per lane (li = lane index within the row).
// int4 keys pack 8 coordinates per 32-bit word, byte b holding coordinate 2b (low nibble) and
// 2b+1 (high nibble); int8 queries are split into even and odd coordinates so that one int8
// product (dp4a, or an s8 mma: int4_group_scores) per nibble plane gives 16 * q . k without
// unpacking.
#pragma once

namespace kevo {

// In-place rotation of one row; the whole warp must call (shuffles within the row's lanes).
__device__ __forceinline__ void hadamard_rotate(float x[8], int li, int lpt, int D, u64 seed) {
  const u32 signs = plane_word(seed, 0, li * 8 / 32) >> ((li * 8) & 31);
#pragma unroll
  for (int j = 0; j < 8; ++j)
    if ((signs >> j) & 1u) x[j] = -x[j];
#pragma unroll
  for (int h = 1; h < 8; h <<= 1) {
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      if (!(j & h)) {
        const float u = x[j], v = x[j + h];
        x[j] = u + v;
        x[j + h] = u - v;
      }
    }
  }
  for (int m = 1; m < lpt; m <<= 1) {
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const float y = __shfl_xor_sync(0xffffffffu, x[j], m);
      x[j] = (li & m) ? y - x[j] : x[j] + y;
    }
  }
  const float f = rsqrtf((float)D);
#pragma unroll
  for (int j = 0; j < 8; ++j) x[j] *= f;
}

// Symmetric quantisation scale (absmax / LEVELS) over the lanes li < kept_lanes of a row; the
// whole warp must call.
template <int kLevels>
__device__ __forceinline__ float row_scale(const float x[8], int li, int lpt, int kept_lanes) {
  float amax = 0.f;
  if (li < kept_lanes)
    for (int j = 0; j < 8; ++j) amax = fmaxf(amax, fabsf(x[j]));
  for (int off = lpt >> 1; off > 0; off >>= 1)
    amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, off));
  return amax > 0.f ? amax / kLevels : 1.f;
}

// 8 coordinates to int4 [-7, 7] in one word (nibble j = coordinate j).
__device__ __forceinline__ u32 pack_int4(const float x[8], float scale) {
  u32 w = 0;
  for (int j = 0; j < 8; ++j) w |= (u32)(__float2int_rn(x[j] / scale) & 0xf) << (4 * j);
  return w;
}
// 8 coordinates to int8: even coordinates in *even, odd ones in *odd (byte b = pair b).
__device__ __forceinline__ void pack_int8_pairs(const float x[8], float scale, u32* even,
                                                u32* odd) {
  u32 e = 0, o = 0;
  for (int b = 0; b < 4; ++b) {
    e |= (u32)(__float2int_rn(x[2 * b] / scale) & 0xff) << (8 * b);
    o |= (u32)(__float2int_rn(x[2 * b + 1] / scale) & 0xff) << (8 * b);
  }
  *even = e;
  *odd = o;
}

}  // namespace kevo
