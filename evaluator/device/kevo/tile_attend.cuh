// GQA attention on tensor cores, 16 tokens at a time per warp (part of kevo/attention.cuh;
// include that header). Head dimension 128.
//
// One warp attends up to 16 query heads of one KV head (the M rows of mma.m16n8k16) over tiles
// of 16 K/V rows, so every row is read once for the whole group, and the dot products and the
// weighted V sum run on tensor cores (32 mma per tile): decode stays memory-bound instead of
// issue-bound (a CUDA-core loop spends ~70 warp instructions per token at G = 4).
// A tile's rows are copied by cp.async into the warp's 8 KB buffer, two whole rows (512 bytes)
// per warp instruction: L2 serves full 128-byte lines (the fragment-ordered copy of a first
// version asked for half lines and was bound by L2 requests at 2.5 TB/s). The buffer holds row
// r's 16-byte chunk q at r*16 + (q ^ (r & 7)), so that the fragment reads below hit every bank
// once per 512 bytes. A warp pipelines several tiles with no block barrier: issue_tile() for
// tile i + STAGES - 1, wait_tile<STAGES - 1>(), add_tile() for tile i.
// Fragment geometry (g = lane / 4, c = lane % 4): K rows g and 8 + g, chunks 4j + c (j < 4), so
// a dot product pairs the dims of those chunks with the same chunks of q; V rows 2c, 2c + 1,
// 8 + 2c, 9 + 2c, chunks g and 8 + g, paired by byte permutes into the B operand of the P.V mma.
// Lane (g, c) ends up with the output dims of chunks 2c, 2c + 1, 8 + 2c and 9 + 2c of heads g and
// 8 + g (for_each_output()).
#pragma once

namespace kevo {

// Head dimension of the tensor-core path (its lane geometry is written for 128).
constexpr int kTileD = 128;
// Tokens per tile.
constexpr int kTileRows = 16;

// One warp's tile buffer: 16 K rows then 16 V rows of 16 chunks of 16 bytes, chunk q of row r at
// r*16 + (q ^ (r & 7)) (tile_chunk()).
using TileBuf = uint4[2 * kTileRows * 16];

// Index in a TileBuf of chunk q (16 bytes) of K row r (v = false) or V row r (v = true).
__device__ __forceinline__ int tile_chunk(bool v, int r, int q) {
  return (v ? kTileRows * 16 : 0) + r * 16 + (q ^ (r & 7));
}

// 16-byte asynchronous copy from global to shared memory through L2 only (cp.async.cg); with
// bytes = 0 nothing is read and the 16 bytes are zero-filled.
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, int bytes) {
  const u32 s = static_cast<u32>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(bytes)
               : "memory");
}
// Closes the group of cp.async issued since the last commit (one group per tile).
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
// Waits until at most kPending of this thread's committed groups are still in flight.
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

// d += A B with A 16x16 (four bf16x2 registers), B 16x8 (two), d 16x8 fp32 (mma.m16n8k16).
__device__ __forceinline__ void mma_bf16_16816(float (&d)[4], u32 a0, u32 a1, u32 a2, u32 a3,
                                               u32 b0, u32 b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// Two floats as a bf16x2 register (lo in the low half, round to nearest).
__device__ __forceinline__ u32 pack_bf16x2(float lo, float hi) {
  const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const u32*>(&h);
}

namespace detail {
__device__ __forceinline__ u32 word(const uint4& v, int w) {
  return w == 0 ? v.x : (w == 1 ? v.y : (w == 2 ? v.z : v.w));
}
}  // namespace detail

// Issues the cp.async of one tile into buf (the caller commits the group): K and V rows
// row_of(i) of kb / vb (row-major, 128 bf16 per row) for tile tokens i < valid, with_v = false
// skipping V (rows whose logits only are needed); rows past valid are zero-filled. row_of(i) is
// called for i < valid only. The whole warp calls; it first waits for the warp's reads of the
// buffer's previous tile (__syncwarp).
template <class RowOf>
__device__ __forceinline__ void issue_tile(TileBuf& buf, const __nv_bfloat16* kb,
                                           const __nv_bfloat16* vb, int valid, RowOf row_of,
                                           bool with_v = true) {
  const int lane = threadIdx.x & 31, q = lane & 15;
  __syncwarp();
#pragma unroll
  for (int i = 0; i < kTileRows / 2; ++i) {
    const int r = 2 * i + (lane >> 4);
    const bool ok = r < valid;
    const long long off = (long long)row_of(ok ? r : 0) * kTileD + q * 8;
    cp_async16(&buf[tile_chunk(false, r, q)], kb + off, ok ? 16 : 0);
    if (with_v) cp_async16(&buf[tile_chunk(true, r, q)], vb + off, ok ? 16 : 0);
  }
}

// Waits until the warp's tile issued kPending commit groups ago has landed (cp_async_wait),
// then makes every lane's copies visible to the whole warp (__syncwarp).
template <int kPending>
__device__ __forceinline__ void wait_tile() {
  cp_async_wait<kPending>();
  __syncwarp();
}

// Runs a warp's pipeline over its n tiles with the kStages buffers wb[0 .. kStages):
// issue(k, buf) starts tile k's copies into buf (issue_tile), consume(k, buf) uses the tile once it
// has landed; kStages - 1 tiles stay in flight while one is consumed. Every copy is complete on
// return. The whole warp calls.
template <int kStages, class Issue, class Consume>
__device__ __forceinline__ void tile_pipeline(TileBuf* wb, int n, Issue issue, Consume consume) {
#pragma unroll
  for (int k = 0; k < kStages - 1; ++k) {
    if (k < n) issue(k, wb[k % kStages]);
    cp_async_commit();
  }
#pragma unroll 1
  for (int k = 0; k < n; ++k) {
    if (k + kStages - 1 < n) issue(k + kStages - 1, wb[(k + kStages - 1) % kStages]);
    cp_async_commit();
    wait_tile<kStages - 1>();
    consume(k, wb[k % kStages]);
  }
  wait_tile<0>();
}

// Floats per row of a stored warp state (128 dims, max, denominator, weight-only share).
constexpr int kTileRowFloats = kTileD + 3;

// One row and dim of a block's attention combined over its warps: the base-2 max m, and relative
// to it the denominator den, the numerator num and the weight-only share r of den.
struct TileRow {
  float m, den, num, r;
};

// Row g, dim d of a block's attention from the states its kWarps warps stored (store_state) at
// all + w * stride (m = -inf and zeros when no warp saw a token).
template <int kWarps>
__device__ __forceinline__ TileRow combine_warps(const float* all, int stride, int g, int d) {
  TileRow t{neg_inf(), 0.f, 0.f, 0.f};
#pragma unroll
  for (int w = 0; w < kWarps; ++w) t.m = fmaxf(t.m, all[w * stride + g * kTileRowFloats + kTileD]);
  if (t.m == neg_inf()) return t;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    const float* x = all + w * stride + g * kTileRowFloats;
    const float c = exp2f(x[kTileD] - t.m);  // a warp without tokens has max -inf: c = 0
    t.den += x[kTileD + 1] * c;
    t.num += x[d] * c;
    t.r += x[kTileD + 2] * c;
  }
  return t;
}

// A warp's online-softmax attention state for query heads h0 .. h0+ng-1 (ng <= 16; kHi: ng > 8,
// rows 8..15 in use). kVsum (needs !kHi): row 8 accumulates the plain sum of the V rows added
// (the selected rows' V sum of the residual estimate), readable through vsum_row().
template <bool kHi, bool kVsum = false>
struct TileAttention {
  static_assert(!(kHi && kVsum), "the V-sum row is row 8, a head row when kHi");
  u32 q[4][4], qh[4][4];  // q chunks 4j + c of heads g and 8 + g (bf16x2 words)
  float o[16][4];         // O fragments: n-tile j, rows g (0, 1) and 8 + g (2, 3)
  float m[2], l[2];       // base-2 running max and (lane-partial) denominator of rows g, 8 + g
  float r[2];             // the share of l that add_weights() added (rescaled with l)

  // Loads the queries (q0: row of head h0; heads are consecutive rows) and clears the state.
  __device__ __forceinline__ void init(const __nv_bfloat16* q0, int ng) {
    const int lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const uint4 z = make_uint4(0, 0, 0, 0);
      const uint4 lo = g < ng ? ld_u4(q0 + g * kTileD + (4 * j + c) * 8) : z;
      const uint4 hi = kHi && g + 8 < ng ? ld_u4(q0 + (g + 8) * kTileD + (4 * j + c) * 8) : z;
      q[j][0] = lo.x, q[j][1] = lo.y, q[j][2] = lo.z, q[j][3] = lo.w;
      qh[j][0] = hi.x, qh[j][1] = hi.y, qh[j][2] = hi.z, qh[j][3] = hi.w;
    }
#pragma unroll
    for (int j = 0; j < 16; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
    m[0] = m[1] = neg_inf();
    l[0] = l[1] = r[0] = r[1] = 0.f;
  }

  // Base-2 logits of the tile: x[nt][i] for token nt*8 + 2c + (i & 1), row g (i < 2) or 8 + g;
  // tokens >= valid get -inf. sl = scale * log2(e).
  __device__ __forceinline__ void logits(const TileBuf& buf, int valid, float sl,
                                         float (&x)[2][4]) const {
    const int lane = threadIdx.x & 31, c = lane & 3;
#pragma unroll
    for (int nt = 0; nt < 2; ++nt) {
      uint4 k[4];
#pragma unroll
      for (int j = 0; j < 4; ++j) k[j] = buf[tile_chunk(false, nt * 8 + (lane >> 2), 4 * j + c)];
      float s[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
      for (int ks = 0; ks < 8; ++ks) {
        const int j = ks >> 1, w = (ks & 1) * 2;
        mma_bf16_16816(s, q[j][w], kHi ? qh[j][w] : 0u, q[j][w + 1], kHi ? qh[j][w + 1] : 0u,
                       detail::word(k[j], w), detail::word(k[j], w + 1));
      }
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int t = nt * 8 + 2 * c + (i & 1);
        x[nt][i] = t < valid ? s[i] * sl : neg_inf();
      }
    }
  }

  // Online-softmax update with the tile's logits x (from logits(), possibly shifted by the
  // caller): rescales the state when a row's max grows and turns x into the weights p.
  __device__ __forceinline__ void softmax(float (&x)[2][4]) {
    constexpr int R = kHi ? 2 : 1;  // rows g (and 8 + g) of the state
    float mt[2];
#pragma unroll
    for (int q = 0; q < R; ++q) {
      mt[q] = fmaxf(fmaxf(x[0][2 * q], x[0][2 * q + 1]), fmaxf(x[1][2 * q], x[1][2 * q + 1]));
      mt[q] = fmaxf(mt[q], __shfl_xor_sync(0xffffffffu, mt[q], 1));
      mt[q] = fmaxf(mt[q], __shfl_xor_sync(0xffffffffu, mt[q], 2));
      mt[q] = fmaxf(mt[q], m[q]);
    }
    // The max rarely grows after the first tiles: rescale only when it does (warp-uniform).
    if (__any_sync(0xffffffffu, mt[0] > m[0] || (kHi && mt[1] > m[1]))) {
#pragma unroll
      for (int q = 0; q < R; ++q) {
        const float c = exp2f(m[q] - (mt[q] == neg_inf() ? 0.f : mt[q]));  // m = -inf gives 0
        l[q] *= c;
        r[q] *= c;
#pragma unroll
        for (int j = 0; j < 16; ++j) o[j][2 * q] *= c, o[j][2 * q + 1] *= c;
      }
    }
#pragma unroll
    for (int q = 0; q < R; ++q) {
      m[q] = mt[q];
      const float ref = mt[q] == neg_inf() ? 0.f : mt[q];
#pragma unroll
      for (int nt = 0; nt < 2; ++nt) {
        x[nt][2 * q] = exp2f(x[nt][2 * q] - ref);
        x[nt][2 * q + 1] = exp2f(x[nt][2 * q + 1] - ref);
        l[q] += x[nt][2 * q] + x[nt][2 * q + 1];
      }
    }
  }

  // O += P V for the tile's weights p (from softmax()); with kVsum, row 8 adds the V rows of the
  // tokens < valid.
  __device__ __forceinline__ void accumulate(const TileBuf& buf, const float (&p)[2][4],
                                             int valid) {
    const int lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3;
    const u32 a0 = pack_bf16x2(p[0][0], p[0][1]), a2 = pack_bf16x2(p[1][0], p[1][1]);
    u32 a1 = kHi ? pack_bf16x2(p[0][2], p[0][3]) : 0u,
        a3 = kHi ? pack_bf16x2(p[1][2], p[1][3]) : 0u;
    if (kVsum && g == 0) {
      a1 = pack_bf16x2(2 * c < valid ? 1.f : 0.f, 2 * c + 1 < valid ? 1.f : 0.f);
      a3 = pack_bf16x2(8 + 2 * c < valid ? 1.f : 0.f, 9 + 2 * c < valid ? 1.f : 0.f);
    }
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      uint4 v[4];
#pragma unroll
      for (int p4 = 0; p4 < 4; ++p4)
        v[p4] = buf[tile_chunk(true, (p4 >> 1) * 8 + 2 * c + (p4 & 1), g + 8 * h)];
#pragma unroll
      for (int e = 0; e < 8; ++e) {
        const u32 sel = (e & 1) ? 0x7632u : 0x5410u;
        const u32 b0 = __byte_perm(detail::word(v[0], e >> 1), detail::word(v[1], e >> 1), sel);
        const u32 b1 = __byte_perm(detail::word(v[2], e >> 1), detail::word(v[3], e >> 1), sel);
        mma_bf16_16816(o[h * 8 + e], a0, a1, a2, a3, b0, b1);
      }
    }
  }

  // One tile: logits, softmax update, O += P V.
  __device__ __forceinline__ void add_tile(const TileBuf& buf, int valid, float sl) {
    float x[2][4];
    logits(buf, valid, sl, x);
    softmax(x);
    accumulate(buf, x, valid);
  }

  // A tile of tokens that enter the softmax with weight 2^(logit + shift) but no V row (the
  // residual draws of kevo/residual.cuh): their weights go to l and to r, not to O. The tile's V
  // rows need not be loaded (issue_tile with_v = false).
  __device__ __forceinline__ void add_weights(const TileBuf& buf, int valid, float sl,
                                              float shift) {
    float x[2][4];
    logits(buf, valid, sl, x);
#pragma unroll
    for (int nt = 0; nt < 2; ++nt) {
#pragma unroll
      for (int i = 0; i < 4; ++i) x[nt][i] += shift;  // -inf stays -inf
    }
    softmax(x);
#pragma unroll
    for (int q = 0; q < (kHi ? 2 : 1); ++q)
      r[q] += x[0][2 * q] + x[0][2 * q + 1] + x[1][2 * q] + x[1][2 * q + 1];
  }

  // Sums the lane-partial l and r over the 4 lanes of a row; call once, after the tiles.
  __device__ __forceinline__ void finish() {
#pragma unroll
    for (int q = 0; q < 2; ++q) {
      l[q] += __shfl_xor_sync(0xffffffffu, l[q], 1);
      l[q] += __shfl_xor_sync(0xffffffffu, l[q], 2);
      r[q] += __shfl_xor_sync(0xffffffffu, r[q], 1);
      r[q] += __shfl_xor_sync(0xffffffffu, r[q], 2);
    }
  }

  // Calls f(row, d0, v8) for the lane's 8-dim output chunks: row r (g, or 8 + g with kHi) of
  // the unnormalised numerator, dims d0 .. d0 + 7 in v8. Row state: m[r >= 8], l[r >= 8].
  template <class F>
  __device__ __forceinline__ void for_each_output(F f) const {
    const int g = (threadIdx.x & 31) >> 2;
#pragma unroll
    for (int r = 0; r < (kHi ? 2 : 1); ++r)
      emit(r, [&](int d0, const float(&v8)[8]) { f(g + 8 * r, d0, v8); });
  }

  // Writes the warp's finished state (after finish()) for the block to combine (combine_warps):
  // row r < ng at red + r * kTileRowFloats as 128 numerator dims, max, denominator, r; with kVsum
  // the V sum at red + 8 * kTileRowFloats. red: this warp's own 16 (kHi) or 9 rows.
  __device__ __forceinline__ void store_state(float* red, int ng) const {
    for_each_output([&](int r, int d0, const float(&v)[8]) {
      if (r < ng) {
#pragma unroll
        for (int e = 0; e < 8; ++e) red[r * kTileRowFloats + d0 + e] = v[e];
      }
    });
    vsum_row([&](int d0, const float(&v)[8]) {
#pragma unroll
      for (int e = 0; e < 8; ++e) red[8 * kTileRowFloats + d0 + e] = v[e];
    });
    const int lane = threadIdx.x & 31, g = lane >> 2;
    if ((lane & 3) == 0) {
#pragma unroll
      for (int q = 0; q < (kHi ? 2 : 1); ++q) {
        if (g + 8 * q < ng) {
          float* x = red + (g + 8 * q) * kTileRowFloats + kTileD;
          x[0] = m[q], x[1] = l[q], x[2] = r[q];
        }
      }
    }
  }

  // With kVsum: calls f(d0, v8) for the lane's chunks of the V sum (lanes with g == 0 only).
  template <class F>
  __device__ __forceinline__ void vsum_row(F f) const {
    if (kVsum && (threadIdx.x & 31) >> 2 == 0) emit(1, f);
  }

 private:
  // f(d0, v8) for the lane's four 8-dim chunks of its row g (half 0) or 8 + g (half 1) of O.
  template <class F>
  __device__ __forceinline__ void emit(int half, F f) const {
    const int c = threadIdx.x & 3;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
#pragma unroll
      for (int t = 0; t < 2; ++t) {
        float v8[8];
#pragma unroll
        for (int e = 0; e < 8; ++e) v8[e] = o[h * 8 + e][2 * half + t];
        f((2 * c + t + 8 * h) * 8, v8);
      }
    }
  }
};

}  // namespace kevo
