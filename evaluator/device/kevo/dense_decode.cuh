// Dense decode attention over every token as one block body (part of kevo/attention.cuh; include
// that header): the dense seed's kernel, and the path a sparse seed takes below its crossover
// (at short contexts, selecting costs more than it saves; a deployment attends densely there).
// Head dimension 128.
//
// Flash-Decoding (https://crfm.stanford.edu/2023/10/12/flashdecoding.html), persistent: one wave
// of gridDim.x blocks (a multiple of the SM count) shares the B*Hkv*cdiv(G,16)*cdiv(N,16) tiles of
// 16 tokens evenly, so every block streams the same number of bytes and all finish together; a
// block's range may run from one (batch, KV head) into the next, and it writes one partial per
// piece. Each warp takes every kWarps-th tile of a piece, keeps kStages-1 tiles in flight with
// cp.async (8 KB each), and attends each tile for all query heads of the KV head at once on tensor
// cores (kevo/tile_attend.cuh), so K and V are read once per GQA group and a tile costs ~140 warp
// instructions: bound by DRAM, not by issue. The warps' states meet in shared memory, the block
// writes its partial, and the last block of a (batch, KV head) to finish merges that head's
// partials (no second kernel).
#pragma once

namespace kevo {

// Query heads per tile in dense_decode (the M rows of the mma).
constexpr int kDenseGroup = 16;

// The workspace dense_decode carves from a.workspace (at its start) for a grid of `ctas` blocks:
// normalised partial outputs and their base-2 LSE per (slot, head row), and an arrival flag per
// slot; slots = ctas + B*Hkv*cdiv(G,16). A plan writes the same size as
//   (CTAS + B*Hkv*cdiv(G,16)) * (min(G,16) * (D+1) * 4 + 8) + 1024
struct DenseLayout {
  float* part_o;    // [slots][GS][128] normalised partial outputs
  float* part_lse;  // [slots][GS] their base-2 log-sum-exp
  u64* flags;       // [slots] arrival flags (kevo/splits.cuh arrive_last)
  long long ws_end;
  __device__ DenseLayout(const Args& a, int slots, int gs) {
    Carve ws(a.workspace);
    part_o = ws.take<float>((long long)slots * gs * kTileD);
    part_lse = ws.take<float>((long long)slots * gs);
    flags = ws.take<u64>(slots);
    ws_end = ws.end();
  }
};

namespace detail {

// The block whose tile range [x*C/TT, ...) holds tile x (blocks own [i*TT/C, (i+1)*TT/C)).
__device__ __forceinline__ int block_of(long long x, int C, long long TT) {
  return (int)(((x + 1) * C + TT - 1) / TT) - 1;
}

// Tiles t0 .. t1-1 of (b, hkv) for heads h0 .. h0+ng-1: the warps' pipelines, then the block's
// partial into slot `slot`. smem: the kWarps x kStages tile buffers.
template <int kWarps, int kStages, bool kHi>
__device__ __forceinline__ void attend_piece(const Args& a, const DenseLayout& L, TileBuf* smem,
                                             int b, int hkv, int h0, int ng, int t0, int t1,
                                             long long slot, int gs_rows) {
  const int warp = threadIdx.x >> 5;
  const __nv_bfloat16* kb = a.k + kv_offset(a, b, hkv, 0);
  const __nv_bfloat16* vb = a.v + kv_offset(a, b, hkv, 0);
  TileBuf* wb = smem + warp * kStages;
  TileAttention<kHi> at;
  at.init(a.q + q_offset(a, b, h0), ng);
  const float sl = a.scale * kLog2e;
  const int first = t0 + warp;
  const int n = first < t1 ? (t1 - first + kWarps - 1) / kWarps : 0;  // this warp's tiles
  tile_pipeline<kStages>(
      wb, n,
      [&](int k, TileBuf& buf) {
        const int base = (first + k * kWarps) * kTileRows;
        issue_tile(buf, kb, vb, min(kTileRows, a.N - base), [&](int r) { return base + r; });
      },
      [&](int k, const TileBuf& buf) {
        at.add_tile(buf, min(kTileRows, a.N - (first + k * kWarps) * kTileRows), sl);
      });
  at.finish();

  // The warps meet in shared memory, each at its own (now idle) buffers.
  static_assert(16 * kTileRowFloats * 4 <= kStages * (int)sizeof(TileBuf), "state fits");
  at.store_state(reinterpret_cast<float*>(wb), ng);
  __syncthreads();
  const float* all = reinterpret_cast<const float*>(smem);
  constexpr int WS = kStages * (int)(sizeof(TileBuf) / sizeof(float));  // floats per warp region
  for (int e = threadIdx.x; e < ng * kTileD; e += blockDim.x) {
    const int r = e / kTileD, d = e % kTileD;
    const TileRow t = combine_warps<kWarps>(all, WS, r, d);
    const long long row = slot * gs_rows + r;
    L.part_o[row * kTileD + d] = t.den > 0.f ? t.num / t.den : 0.f;
    if (d == 0) L.part_lse[row] = t.den > 0.f ? t.m + log2f(t.den) : neg_inf();
  }
}

}  // namespace detail

// Exact attention over all N tokens of every (batch, query head) into a.o. The kernel calling it
// runs gridDim.x blocks (one wave: a multiple of the SM count) of 32*kWarps threads with
// kWarps*kStages*8192 bytes of dynamic shared memory at smem_raw, and a.workspace as DenseLayout
// says. Writes nothing when a.D != 128. The whole block calls.
template <int kWarps, int kStages>
__device__ __forceinline__ void dense_decode(const Args& a, unsigned char* smem_raw) {
  if (a.D != kTileD) return;
  TileBuf* smem = reinterpret_cast<TileBuf*>(smem_raw);
  const int G = a.Hq / a.Hkv, ngs = cdiv(G, kDenseGroup), gs_rows = min(G, kDenseGroup);
  const int segments = a.B * a.Hkv * ngs, T = cdiv(a.N, kTileRows);
  const long long TT = (long long)segments * T;
  const int C = (int)min((long long)gridDim.x, TT), i = blockIdx.x;
  const DenseLayout L(a, gridDim.x + segments, gs_rows);
  KEVO_CHECK(L.ws_end <= a.workspace_bytes);
  if (i >= C) return;
  const long long lo = (long long)i * TT / C, hi = (long long)(i + 1) * TT / C;
#pragma unroll 1
  for (int s = (int)(lo / T); (long long)s * T < hi; ++s) {  // the pieces of [lo, hi)
    const long long x0 = (long long)s * T;
    const int t0 = (int)(max(lo, x0) - x0), t1 = (int)(min(hi, x0 + T) - x0);
    const int gs = s % ngs, b = s / ngs / a.Hkv, hkv = s / ngs % a.Hkv;
    const int h0 = hkv * G + gs * kDenseGroup, ng = min(kDenseGroup, G - gs * kDenseGroup);
    if (ng > 8) {
      detail::attend_piece<kWarps, kStages, true>(a, L, smem, b, hkv, h0, ng, t0, t1, i + s,
                                                  gs_rows);
    } else {
      detail::attend_piece<kWarps, kStages, false>(a, L, smem, b, hkv, h0, ng, t0, t1, i + s,
                                                   gs_rows);
    }
    // Blocks i_lo .. i_hi hold this segment's tiles; their partials sit in slots i + s.
    const int i_lo = detail::block_of(x0, C, TT), i_hi = detail::block_of(x0 + T - 1, C, TT);
    if (arrive_last</*kLight=*/true>(a, L.flags + i_lo + s, i - i_lo, i_hi - i_lo + 1)) {
      merge_splits<16>(
          ng, kTileD,
          [&](int r) -> SplitSpan {
            const long long row = (long long)(i_lo + s) * gs_rows + r;
            return {L.part_o + row * kTileD, (long long)gs_rows * kTileD, L.part_lse + row, gs_rows,
                    i_hi - i_lo + 1};
          },
          [&](int r, int d0, const float(&o)[4], float) { store_output4(a, b, h0 + r, d0, o); },
          reinterpret_cast<float*>(smem_raw));
    }
    __syncthreads();  // the next piece reuses the shared memory
  }
}

}  // namespace kevo
