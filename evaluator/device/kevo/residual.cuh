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

// s[g] = sum of s[g] over the lpt lanes of a row, for all kGT heads. For 4 heads (lpt >= 4) the
// sums are transposed across the lanes (each halving step exchanges only the half of the values
// the partner keeps), then broadcast: 9 shuffles and 5 adds instead of 16 and 16.
template <int kGT>
__device__ __forceinline__ void group_sum_heads(float (&s)[kGT], int li, int lpt) {
  if constexpr (kGT == 4) {
    const int h1 = lpt >> 1, h2 = lpt >> 2;
    const bool hi1 = li & h1, hi2 = li & h2;
    const float a0 = (hi1 ? s[2] : s[0]) + __shfl_xor_sync(0xffffffffu, hi1 ? s[0] : s[2], h1);
    const float a1 = (hi1 ? s[3] : s[1]) + __shfl_xor_sync(0xffffffffu, hi1 ? s[1] : s[3], h1);
    float x = (hi2 ? a1 : a0) + __shfl_xor_sync(0xffffffffu, hi2 ? a0 : a1, h2);
    for (int off = h2 >> 1; off > 0; off >>= 1) x += __shfl_xor_sync(0xffffffffu, x, off);
    // Lane li now holds head 2 * hi1 + hi2; row base lane = lane - li.
    const int row0 = (threadIdx.x & 31) - li;
#pragma unroll
    for (int g = 0; g < 4; ++g) s[g] = __shfl_sync(0xffffffffu, x, row0 + (g >> 1) * h1 + (g & 1) * h2);
  } else {
#pragma unroll
    for (int g = 0; g < kGT; ++g) s[g] = group_sum(s[g], lpt);
  }
}

// Shared memory (floats) attend_list_residual needs for its block merge.
__host__ __device__ constexpr int attend_residual_smem_floats(int kGT, int nwarps, int D) {
  return nwarps * kGT * (D + 3) + nwarps * D;
}

// attend_list and the residual estimate in one pass: attention of heads h0 .. h0+ng-1 over the
// chunk's selected tokens base + list[0..n), plus the rest of the chunk estimated from the K rows
// of n_samp uniform draws base + samp[j] among the n_rest unselected tokens. Each draw enters the
// online softmax as a pseudo-token of base-2 logit l_j + log2(n_rest / n_samp) whose value is the
// mean rest value (chunk_vsum - selected V sum) / n_rest; since that value is the same for all
// draws, the loop only sums their weights (r) and never reads their V rows, and the selected V
// sum rides along in the loop. The result is the estimate of add_residual, with one block merge
// instead of three (attend_list, its V sum, rest_logsum and add_residual each end in barriers),
// handed to out(g, d, o, m, den) for each head g < ng and dim d: o the unnormalised numerator,
// m and den the base-2 max and denominator of head g (one call per (g, d), any thread).
// red: attend_residual_smem_floats(GT, nwarps, D) floats.
// chunk_vsum: the chunk's V sum (D floats). blockDim.x must be 32 * kWarps. All threads must
// call. Heads past ng are computed too (their q is 0) and not written: a branch per head in the
// loop costs more than the arithmetic, and GQA groups usually fill kGT.
template <int kGT, int kUnroll, int kWarps, class Variant, class Out>
__device__ __forceinline__ void attend_list_residual(const Args& a, int b, int hkv, int h0, int ng,
                                                     int base, const int* list, int n,
                                                     const int* samp, int n_samp, int n_rest,
                                                     const float* chunk_vsum, Variant& var,
                                                     float* red, Out out) {
  const int D = a.D;
  const RowLanes rl = RowLanes::of(D);
  constexpr int nw = kWarps;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int slot = lane / rl.lpt, li = lane % rl.lpt, d0 = li * 8;
  if (n_rest <= 0) n_samp = 0;  // nothing left out: nothing to estimate
  const float samp_log2w = n_samp > 0 ? log2f((float)n_rest / (float)n_samp) : 0.f;
  const int total = n + n_samp;

  float q[kGT][8];
#pragma unroll
  for (int g = 0; g < kGT; ++g) {
    if (g < ng) {
      bf16x8_to_float(ld_u4(a.q + q_offset(a, b, h0 + g) + d0), q[g]);
    } else {
#pragma unroll
      for (int j = 0; j < 8; ++j) q[g][j] = 0.f;
    }
  }
  SoftmaxState<8> st[kGT];
  float rw[kGT];  // the draws' share of st.d (rescaled with it)
#pragma unroll
  for (int g = 0; g < kGT; ++g) st[g].init(), rw[g] = 0.f;
  float vsum[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};

  const __nv_bfloat16* kb = a.k + kv_offset(a, b, hkv, base) + d0;
  const __nv_bfloat16* vb = a.v + kv_offset(a, b, hkv, base) + d0;
  const int step = nw * rl.slots;
  for (int first = warp * rl.slots; first < total; first += step * kUnroll) {  // warp-uniform
    uint4 kr[kUnroll], vr[kUnroll];
    int idx[kUnroll];
    bool drawn[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      idx[u] = first + u * step + slot;
      drawn[u] = idx[u] >= n && idx[u] < total;
      kr[u] = vr[u] = make_uint4(0, 0, 0, 0);
      if (idx[u] < n) {
        const long long row = (long long)list[idx[u]] * D;
        kr[u] = ld_stream(kb + row);
        vr[u] = ld_stream(vb + row);
      } else if (drawn[u]) {
        kr[u] = ld_stream(kb + (long long)samp[idx[u] - n] * D);
      }
    }
    float lg[kUnroll][kGT];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      float s[kGT];
#pragma unroll
      for (int g = 0; g < kGT; ++g) s[g] = dot8(q[g], kr[u]);
      group_sum_heads(s, li, rl.lpt);
      float stat = 0.f;
      if (Variant::kTokenStat) stat = group_sum(var.token_partial(kr[u], d0), rl.lpt);
      var.logits(s, stat, idx[u], idx[u] < total, li, lg[u]);
#pragma unroll
      for (int g = 0; g < kGT; ++g) {
        if (idx[u] >= total) lg[u][g] = neg_inf();
        else if (drawn[u]) lg[u][g] += samp_log2w;
      }
    }
#pragma unroll
    for (int g = 0; g < kGT; ++g) {
      float mx = st[g].m;
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) mx = fmaxf(mx, lg[u][g]);
      const float ref = mx == neg_inf() ? 0.f : mx;
      const float c = exp2f(st[g].m - ref);
      st[g].d *= c;
      rw[g] *= c;
#pragma unroll
      for (int j = 0; j < 8; ++j) st[g].o[j] *= c;
      st[g].m = mx;
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) lg[u][g] = exp2f(lg[u][g] - ref);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      float vf[8];
      bf16x8_to_float(vr[u], vf);  // zeros for draws and rows past the end
#pragma unroll
      for (int g = 0; g < kGT; ++g) {
        st[g].d += lg[u][g];
        rw[g] += drawn[u] ? lg[u][g] : 0.f;
#pragma unroll
        for (int j = 0; j < 8; ++j) st[g].o[j] = fmaf(lg[u][g], vf[j], st[g].o[j]);
      }
#pragma unroll
      for (int j = 0; j < 8; ++j) vsum[j] += vf[j];
    }
  }
  // Merge the row slots of the warp, then the warps of the block (one barrier).
  for (int off = rl.lpt; off < 32; off <<= 1) {
#pragma unroll
    for (int g = 0; g < kGT; ++g) {  // SoftmaxState::merge_xor, with rw scaled alike
      const float m2 = __shfl_xor_sync(0xffffffffu, st[g].m, off);
      const float d2 = __shfl_xor_sync(0xffffffffu, st[g].d, off);
      const float r2 = __shfl_xor_sync(0xffffffffu, rw[g], off);
      float o2[8];
#pragma unroll
      for (int j = 0; j < 8; ++j) o2[j] = __shfl_xor_sync(0xffffffffu, st[g].o[j], off);
      const float mn = fmaxf(st[g].m, m2), ref = mn == neg_inf() ? 0.f : mn;
      const float c1 = exp2f(st[g].m - ref), c2 = exp2f(m2 - ref);  // -inf gives 0
      st[g].d = st[g].d * c1 + d2 * c2;
      rw[g] = rw[g] * c1 + r2 * c2;
#pragma unroll
      for (int j = 0; j < 8; ++j) st[g].o[j] = st[g].o[j] * c1 + o2[j] * c2;
      st[g].m = mn;
    }
#pragma unroll
    for (int j = 0; j < 8; ++j) vsum[j] += __shfl_xor_sync(0xffffffffu, vsum[j], off);
  }
  float* red_v = red + nw * kGT * (D + 3);
  if (slot == 0) {
#pragma unroll
    for (int g = 0; g < kGT; ++g) {
      float* r = red + (warp * kGT + g) * (D + 3);
#pragma unroll
      for (int j = 0; j < 8; ++j) r[d0 + j] = st[g].o[j];
      if (li == 0) {
        r[D] = st[g].m;
        r[D + 1] = st[g].d;
        r[D + 2] = rw[g];
      }
    }
#pragma unroll
    for (int j = 0; j < 8; ++j) red_v[warp * D + d0 + j] = vsum[j];
  }
  __syncthreads();
  const float inv_rest = n_samp > 0 ? 1.f / (float)n_rest : 0.f;
  for (int e = threadIdx.x; e < ng * D; e += blockDim.x) {
    const int g = e / D, d = e - g * D;
    float m = neg_inf();
#pragma unroll
    for (int w = 0; w < nw; ++w) m = fmaxf(m, red[(w * kGT + g) * (D + 3) + D]);
    float den = 0.f, num = 0.f, rest = 0.f, sel_v = 0.f;
#pragma unroll
    for (int w = 0; w < nw; ++w) sel_v += red_v[w * D + d];
    if (m != neg_inf()) {
#pragma unroll
      for (int w = 0; w < nw; ++w) {
        const float* r = red + (w * kGT + g) * (D + 3);
        const float c = exp2f(r[D] - m);  // a warp with no tokens has m = -inf: c = 0
        den += r[D + 1] * c;
        num += r[d] * c;
        rest += r[D + 2] * c;
      }
    }
    out(g, d, num + rest * (chunk_vsum[d] - sel_v) * inv_rest, m, den);
  }
}

}  // namespace kevo
