// dense_flashdecode: split-KV decode attention over every token, the baseline of every speedup.
//
// Method: Flash-Decoding (Dao, Haziza, Massa, Sizov, "Flash-Decoding for long-context
// inference", 2023, https://crfm.stanford.edu/2023/10/12/flashdecoding.html): the keys and
// values are split over many blocks so that one query token fills the GPU; each split writes a
// partial softmax output and its log-sum-exp, and the partials are merged (kevo/splits.cuh).
//
// Here one wave of CTAS blocks (a multiple of the SM count: 132 on the H100 and H200) shares
// the B*Hkv*cdiv(G,16)*cdiv(N,16) tiles of 16 tokens evenly, so every block streams the same
// number of bytes and all finish together; a block's range may run from one (batch, KV head)
// into the next, and it writes one partial per piece. Each warp takes every WARPS-th tile of a
// piece, keeps STAGES-1 tiles in flight with cp.async (8 KB each), and attends each tile for all
// query heads of the KV head at once on tensor cores (kevo/tile_attend.cuh), so K and V are read
// once per GQA group and a tile costs ~140 warp instructions: the kernel is bound by DRAM, not
// by issue. The warps' states meet in shared memory, the block writes its partial, and the last
// block of a (batch, KV head) to finish merges that head's partials (no second kernel).
// Bytes read: K and V once (B*Hkv*N*512 at D=128), q, and ~0.5 KB of partials per block and
// head; written: o and the partials. Head dimension 128 only (other D leave o unwritten, which
// the evaluator reports).
// Roofline (scripts/roofline.py, default params, llama3-8b B1-N8K / B1-N32K / B1-N128K /
// B8-N32K): the method reads 33.6 / 134.2 / 536.9 / 1073.9 MB per decode call,
// 8.4 / 33.6 / 134.2 / 268.5 us at 4 TB/s.
#include "kevo/attention.cuh"

// EVOLVE-BLOCK-START

// kevo:param CTAS = 132 in {132, 264, 396}
// kevo:param WARPS = 8 in {4, 8}
// kevo:param STAGES = 2 in {2, 3}
// kevo:workspace (CTAS + B*Hkv*cdiv(G,16)) * (min(G,16) * (D+1) * 4 + 8) + 1024
// kevo:decode flash_decode grid(CTAS) block(32*WARPS) smem(WARPS*STAGES*8192)

using namespace kevo;

constexpr int GROUP = 16;  // query heads per tile (the M rows of the mma)

struct Layout {
  float* part_o;    // workspace [slots][GS][128] normalised partial outputs
  float* part_lse;  // workspace [slots][GS] their base-2 log-sum-exp
  u64* flags;       // workspace [slots] arrival flags (kevo/splits.cuh arrive_last)
  long long ws_end;
  __device__ Layout(const Args& a, int slots, int gs) {
    Carve ws(a.workspace);
    part_o = ws.take<float>((long long)slots * gs * kTileD);
    part_lse = ws.take<float>((long long)slots * gs);
    flags = ws.take<u64>(slots);
    ws_end = ws.end();
  }
};

// The block whose tile range [x*C/TT, ...) holds tile x (blocks own [i*TT/C, (i+1)*TT/C)).
__device__ __forceinline__ int block_of(long long x, int C, long long TT) {
  return (int)(((x + 1) * C + TT - 1) / TT) - 1;
}

// Tiles t0 .. t1-1 of (b, hkv) for heads h0 .. h0+ng-1: the warps' pipelines, then the block's
// partial into slot `slot`. smem: the WARPS x STAGES tile buffers.
template <bool kHi>
__device__ __forceinline__ void attend_piece(const Args& a, const Layout& L, TileBuf* smem, int b,
                                             int hkv, int h0, int ng, int t0, int t1,
                                             long long slot, int gs_rows) {
  const int warp = threadIdx.x >> 5;
  const __nv_bfloat16* kb = a.k + kv_offset(a, b, hkv, 0);
  const __nv_bfloat16* vb = a.v + kv_offset(a, b, hkv, 0);
  TileBuf* wb = smem + warp * STAGES;
  TileAttention<kHi> at;
  at.init(a.q + q_offset(a, b, h0), ng);
  const float sl = a.scale * kLog2e;
  const int first = t0 + warp;
  const int n = first < t1 ? (t1 - first + WARPS - 1) / WARPS : 0;  // this warp's tiles
  tile_pipeline<STAGES>(
      wb, n,
      [&](int k, TileBuf& buf) {
        const int base = (first + k * WARPS) * kTileRows;
        issue_tile(buf, kb, vb, min(kTileRows, a.N - base), [&](int r) { return base + r; });
      },
      [&](int k, const TileBuf& buf) {
        at.add_tile(buf, min(kTileRows, a.N - (first + k * WARPS) * kTileRows), sl);
      });
  at.finish();

  // The warps meet in shared memory, each at its own (now idle) buffers.
  static_assert(16 * kTileRowFloats * 4 <= STAGES * (int)sizeof(TileBuf), "state fits");
  at.store_state(reinterpret_cast<float*>(wb), ng);
  __syncthreads();
  const float* all = reinterpret_cast<const float*>(smem);
  constexpr int WS = STAGES * (int)(sizeof(TileBuf) / sizeof(float));  // floats per warp region
  for (int e = threadIdx.x; e < ng * kTileD; e += blockDim.x) {
    const int r = e / kTileD, d = e % kTileD;
    const TileRow t = combine_warps<WARPS>(all, WS, r, d);
    const long long row = slot * gs_rows + r;
    L.part_o[row * kTileD + d] = t.den > 0.f ? t.num / t.den : 0.f;
    if (d == 0) L.part_lse[row] = t.den > 0.f ? t.m + log2f(t.den) : neg_inf();
  }
}

extern "C" __global__ void __launch_bounds__(32 * WARPS, 1) flash_decode(const Args a) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  if (a.D != kTileD) return;
  TileBuf* smem = reinterpret_cast<TileBuf*>(smem_raw);
  const int G = a.Hq / a.Hkv, ngs = cdiv(G, GROUP), gs_rows = min(G, GROUP);
  const int segments = a.B * a.Hkv * ngs, T = cdiv(a.N, kTileRows);
  const long long TT = (long long)segments * T;
  const int C = (int)min((long long)gridDim.x, TT), i = blockIdx.x;
  const Layout L(a, gridDim.x + segments, gs_rows);
  KEVO_CHECK(L.ws_end <= a.workspace_bytes);
  if (i >= C) return;
  const long long lo = (long long)i * TT / C, hi = (long long)(i + 1) * TT / C;
#pragma unroll 1
  for (int s = (int)(lo / T); (long long)s * T < hi; ++s) {  // the pieces of [lo, hi)
    const long long x0 = (long long)s * T;
    const int t0 = (int)(max(lo, x0) - x0), t1 = (int)(min(hi, x0 + T) - x0);
    const int gs = s % ngs, b = s / ngs / a.Hkv, hkv = s / ngs % a.Hkv;
    const int h0 = hkv * G + gs * GROUP, ng = min(GROUP, G - gs * GROUP);
    if (ng > 8) {
      attend_piece<true>(a, L, smem, b, hkv, h0, ng, t0, t1, i + s, gs_rows);
    } else {
      attend_piece<false>(a, L, smem, b, hkv, h0, ng, t0, t1, i + s, gs_rows);
    }
    // Blocks i_lo .. i_hi hold this segment's tiles; their partials sit in slots i + s.
    const int i_lo = block_of(x0, C, TT), i_hi = block_of(x0 + T - 1, C, TT);
    if (arrive_last(a, L.flags + i_lo + s, i - i_lo, i_hi - i_lo + 1)) {
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
// EVOLVE-BLOCK-END
