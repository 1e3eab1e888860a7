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
__device__ __forceinline__ void mark_list(const int* list, int n, u32* bits, int nwords) {
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

// log2 of sum_i 2^(scale_log2 * q_g . k_i) over the tokens list[0..n) for heads h0 .. h0+ng-1
// (K rows only). out_l: GT floats of shared memory (-inf when n == 0). red: >= 2*GT*nwarps
// floats of shared scratch. All threads must call.
template <int kGT>
__device__ __forceinline__ void rest_logsum(const Args& a, int b, int hkv, int h0, int ng,
                                            const int* list, int n, float scale_log2, float* red,
                                            float* out_l) {
  const int D = a.D;
  const RowLanes rl = RowLanes::of(D);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  const int slot = lane / rl.lpt, li = lane % rl.lpt, d0 = li * 8;
  float q[kGT][8], m[kGT], s[kGT];
#pragma unroll
  for (int g = 0; g < kGT; ++g) {
    m[g] = neg_inf();
    s[g] = 0.f;
    if (g < ng) {
      bf16x8_to_float(ld_u4(a.q + q_offset(a, b, h0 + g) + d0), q[g]);
    } else {
#pragma unroll
      for (int j = 0; j < 8; ++j) q[g][j] = 0.f;
    }
  }
  const __nv_bfloat16* kb = a.k + kv_offset(a, b, hkv, 0) + d0;
  const int step = nw * rl.slots;
  for (int base = warp * rl.slots; base < n; base += 2 * step) {  // warp-uniform
    uint4 kr[2];
    int idx[2];
#pragma unroll
    for (int u = 0; u < 2; ++u) {
      idx[u] = base + u * step + slot;
      kr[u] = idx[u] < n ? ld_stream(kb + (long long)list[idx[u]] * D) : make_uint4(0, 0, 0, 0);
    }
    float x[2][kGT];
#pragma unroll
    for (int u = 0; u < 2; ++u) {
#pragma unroll
      for (int g = 0; g < kGT; ++g) {
        x[u][g] = group_sum(dot8(q[g], kr[u]), rl.lpt) * scale_log2;
        if (idx[u] >= n) x[u][g] = neg_inf();
      }
    }
#pragma unroll
    for (int g = 0; g < kGT; ++g) {  // one rescale per pair of samples
      const float mx = fmaxf(m[g], fmaxf(x[0][g], x[1][g]));
      const float ref = mx == neg_inf() ? 0.f : mx;
      s[g] = s[g] * exp2f(m[g] - ref) + exp2f(x[0][g] - ref) + exp2f(x[1][g] - ref);
      m[g] = mx;
    }
  }
#pragma unroll
  for (int g = 0; g < kGT; ++g) {
    for (int off = rl.lpt; off < 32; off <<= 1) {
      const float m2 = __shfl_xor_sync(0xffffffffu, m[g], off);
      const float s2 = __shfl_xor_sync(0xffffffffu, s[g], off);
      const float mn = fmaxf(m[g], m2);
      if (mn != neg_inf()) s[g] = s[g] * exp2f(m[g] - mn) + s2 * exp2f(m2 - mn);
      m[g] = mn;
    }
    if (lane == 0) {
      red[(warp * kGT + g) * 2] = m[g];
      red[(warp * kGT + g) * 2 + 1] = s[g];
    }
  }
  __syncthreads();
  if (threadIdx.x < kGT) {
    const int g = threadIdx.x;
    float mm = neg_inf();
    for (int w = 0; w < nw; ++w) mm = fmaxf(mm, red[(w * kGT + g) * 2]);
    float ss = 0.f;
    if (mm != neg_inf())
      for (int w = 0; w < nw; ++w) ss += red[(w * kGT + g) * 2 + 1] * exp2f(red[(w * kGT + g) * 2] - mm);
    out_l[g] = ss > 0.f ? mm + log2f(ss) : neg_inf();
  }
  __syncthreads();
}

// Merges the chunk's residual pseudo-token into the per-head states of attend_list (st_m, st_d,
// st_o, shared memory): weight 2^(rest_l[g]) * n_rest / n_drawn, value (chunk_vsum - sel_vsum)
// / n_rest. chunk_vsum: the chunk's V sum (D floats, from the index); sel_vsum: the selected
// rows' V sum (shared, from attend_list). Nothing happens when n_rest or n_drawn is 0.
__device__ __forceinline__ void add_residual(const Args& a, int ng, float* st_m, float* st_d,
                                             float* st_o, const float* rest_l, int n_rest,
                                             int n_drawn, const float* chunk_vsum,
                                             const float* sel_vsum) {
  const int D = a.D;
  if (n_rest <= 0 || n_drawn <= 0) return;
  const float lw = log2f((float)n_rest / (float)n_drawn), inv_rest = 1.f / n_rest;
  for (int e = threadIdx.x; e < ng * D; e += blockDim.x) {
    const int g = e / D, d = e - g * D;
    const float L = rest_l[g] + lw;
    if (L == neg_inf()) continue;
    const float mn = fmaxf(st_m[g], L);
    const float c1 = exp2f(st_m[g] - mn), c2 = exp2f(L - mn);
    st_o[e] = st_o[e] * c1 + c2 * (chunk_vsum[d] - sel_vsum[d]) * inv_rest;
  }
  __syncthreads();
  if (threadIdx.x < ng) {
    const int g = threadIdx.x;
    const float L = rest_l[g] + lw;
    if (L != neg_inf()) {
      const float mn = fmaxf(st_m[g], L);
      st_d[g] = st_d[g] * exp2f(st_m[g] - mn) + exp2f(L - mn);
      st_m[g] = mn;
    }
  }
  __syncthreads();
}

// A block that attends only part of a chunk's selected tokens (the chunk's list split over
// several blocks) adds its share of the residual linearly: the rest value sum is
// chunk_vsum - sum over all parts of sel_vsum, so the first part adds the pseudo-token with its
// own sel_vsum (add_residual) and every other part subtracts mean_weight * its sel_vsum from its
// numerator. mean_weight = 2^(rest_l) / n_drawn. States with no tokens (m = -inf) are left as they
// are (their sel_vsum is 0).
__device__ __forceinline__ void add_residual_share(const Args& a, int ng, const float* st_m,
                                                   float* st_o, const float* rest_l, int n_drawn,
                                                   const float* sel_vsum) {
  const int D = a.D;
  if (n_drawn <= 0) return;
  const float lw = -log2f((float)n_drawn);
  for (int e = threadIdx.x; e < ng * D; e += blockDim.x) {
    const int g = e / D, d = e - g * D;
    const float L = rest_l[g] + lw;
    if (st_m[g] == neg_inf() || L == neg_inf()) continue;
    st_o[e] -= exp2f(fminf(L - st_m[g], 64.f)) * sel_vsum[d];
  }
  __syncthreads();
}

}  // namespace kevo
