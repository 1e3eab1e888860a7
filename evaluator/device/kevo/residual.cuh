// Residual estimate for the tokens a top-k selection leaves out (part of kevo/attention.cuh;
// include that header).
//
// Why: on near-uniform heads most of the softmax mass lies outside any small top-k, and dropping
// it (renormalising over the selected tokens) gives errors of 0.2-0.6 at 1/32 of the tokens
// even with an oracle selection. Estimating the dropped part instead brings the oracle error to
// ~0.01. Per chunk of the cache:
//   rest value sum  = (chunk's V sum, stored in the index at build time) - (selected rows' V sum)
//                     exact, since the attend kernel reads the selected V rows anyway;
//   rest weight     = n_rest * mean of 2^(s) over RS uniform draws among the unselected tokens
//                     (stratified by chunk; reads K rows only, RS per chunk);
// and the pair enters the chunk's softmax state as one pseudo-token of weight "rest weight" and
// value "rest value sum / n_rest". This is SparQ's mean value reallocation (Ribar et al. 2023,
// https://arxiv.org/abs/2312.04985) with the weight estimated by sampling, as vAttention does.
// It assumes the unselected tokens' weights and values are uncorrelated, which is what makes
// them unselected in the first place.
#pragma once

namespace kevo {

// Marks list[0..n) (chunk-local positions) in a shared bitmap of the chunk.
__device__ __forceinline__ void mark_list(const u16* list, int n, u32* bits, int nwords) {
  for (int w = threadIdx.x; w < nwords; w += blockDim.x) bits[w] = 0;
  __syncthreads();
  for (int i = threadIdx.x; i < n; i += blockDim.x) atomicOr(&bits[list[i] >> 5], 1u << (list[i] & 31));
  __syncthreads();
}

// Up to rs (<= blockDim) uniform draws among the n_items positions of a chunk that are not
// marked in `bits`; draws that hit a marked token are dropped (the survivors are still uniform
// over the unmarked ones). Writes offset + position to out (in draw order); returns the count.
__device__ __forceinline__ int draw_rest(int n_items, int rs, u64 seed, u64 stream, u64 chunk,
                                         const u32* bits, int offset, int* out, int* scratch) {
  const int r = threadIdx.x;
  int pos = 0;
  bool ok = false;
  if (r < rs && n_items > 0) {
    pos = uniform_below((u32)hash3(seed, stream, chunk * 4096 + r), n_items);
    ok = !((bits[pos >> 5] >> (pos & 31)) & 1u);
  }
  int total;
  const int at = block_exclusive_scan(ok, scratch, &total);
  if (ok) out[at] = offset + pos;
  __syncthreads();
  return total;
}

}  // namespace kevo
