// The attend step shared by the top-k seeds (part of kevo/attention.cuh; include that header).
//
// One block = one part of one chunk's selected tokens, for one KV head's query group slice:
//   grid.x = nch * S (S parts per chunk, more when the cache is short so that small caches
//   still fill the GPU), grid.y = Hkv * cdiv(G, GT), grid.z = B.
// The block has compacted the chunk's selected tokens (chunk-local positions, identical in every
// part); it takes its share of the list, attends it, adds its share of the residual estimate
// (RSAMP > 0, kevo/residual.cuh), writes split (c * S + part) of the partials, and the last
// block to finish merges all nch * S splits into o.
#pragma once

namespace kevo {

// Parts per chunk: up to 8, so that at least ~32 blocks per KV head exist (plan expressions
// must use the same formula: max(1, min(8, 32 / cdiv(N, CH)))).
__device__ __forceinline__ int attend_parts(int nch) { return max(1, min(8, 32 / nch)); }

// kWarps: blockDim.x / 32 of the block that attends (the block merge needs a slot per warp).
template <int kGT, int kRsamp, int kMaxD = 256, int kWarps = 4>
struct TopkAttendSmem {
  float red[attend_smem_floats(kGT, kWarps, kMaxD)];
  float m[kGT], d[kGT], o[kGT * kMaxD], vsum[kMaxD], restl[kGT];
  int samp[kRsamp > 0 ? kRsamp : 1];
  int scratch[40];
  int flag;
};

// list[0..n): the chunk's selected tokens as chunk-local positions (rewritten to token indices);
// bits: a shared bitmap of >= cdiv(n_items, 32) words; chunk_vsum: the chunk's V sum (index or
// shared memory). Attends this part's share of the list, adds its share of the residual and
// writes split (c * parts + part) of the partials. blockDim.x must be 32 * kWarps. All threads
// must call.
template <int kGT, int kRsamp, int kMaxD, int kWarps, class Variant>
__device__ __forceinline__ void attend_selected_partial(
    const Args& a, int b, int hkv, int gs, int c, int part, int parts, int chunk_base, int n_items,
    int* list, int n, u32* bits, const float* chunk_vsum, const Partials& p, Variant& var,
    TopkAttendSmem<kGT, kRsamp, kMaxD, kWarps>& sm) {
  const int G = a.Hq / a.Hkv, h0 = hkv * G + gs * kGT, ng = min(kGT, G - gs * kGT);
  const long long bh = (long long)b * a.Hkv + hkv;
  int n_drawn = 0;
  if (kRsamp > 0) {
    mark_list(list, n, bits, cdiv(n_items, 32));
    n_drawn = draw_rest(n_items, kRsamp, a.seed, (u64)bh, (u64)c, bits, chunk_base, sm.samp,
                        sm.scratch);
  }
  for (int i = threadIdx.x; i < n; i += blockDim.x) list[i] += chunk_base;
  __syncthreads();
  const int lo = (int)((long long)n * part / parts), hi = (int)((long long)n * (part + 1) / parts);
  attend_list<kGT, 4>(a, b, hkv, h0, ng, list + lo, hi - lo, var, sm.red, sm.m, sm.d, sm.o,
                     kRsamp > 0 ? sm.vsum : nullptr);
  if (kRsamp > 0) {
    rest_logsum<kGT>(a, b, hkv, h0, ng, sm.samp, n_drawn, a.scale * kLog2e, sm.red, sm.restl);
    if (part == 0) {
      add_residual(a, ng, sm.m, sm.d, sm.o, sm.restl, n_items - n, n_drawn, chunk_vsum, sm.vsum);
    } else {
      add_residual_share(a, ng, sm.m, sm.o, sm.restl, n_drawn, sm.vsum);
    }
  }
  write_partials(a, p, b, h0, ng, c * parts + part, sm.m, sm.d, sm.o);
}

// attend_selected_partial, then the last block to finish (of gridDim.x, per counter) merges all
// nch * parts splits into o. counter must be zero before the kernel.
template <int kGT, int kRsamp, int kMaxD, int kWarps, class Variant>
__device__ __forceinline__ void attend_selected(const Args& a, int b, int hkv, int gs, int c,
                                                int part, int parts, int chunk_base,
                                                int n_items, int* list, int n, u32* bits,
                                                const float* chunk_vsum, const Partials& p,
                                                int* counter, Variant& var,
                                                TopkAttendSmem<kGT, kRsamp, kMaxD, kWarps>& sm) {
  attend_selected_partial(a, b, hkv, gs, c, part, parts, chunk_base, n_items, list, n, bits,
                          chunk_vsum, p, var, sm);
  const int G = a.Hq / a.Hkv, h0 = hkv * G + gs * kGT, ng = min(kGT, G - gs * kGT);
  if (arrive_last(counter, gridDim.x, &sm.flag)) merge_partials_to_output(a, p, b, h0, ng);
}

}  // namespace kevo
