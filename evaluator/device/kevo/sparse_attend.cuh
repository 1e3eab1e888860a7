// Attention over a list of selected tokens (part of kevo/attention.cuh; include that header).
//
// GQA sharing: one block serves up to GT query heads of one KV head, so every selected K/V row
// is read once for the whole group (the memory roofline of sparse decode is the K/V rows read).
// Each warp holds 32/(D/8) rows at a time, D/8 lanes per row and 8 dims per lane, with UNROLL
// rows per lane in flight; online softmax per lane, then merged across the warp and the block.
//
// A Variant supplies the logits (FlashInfer's LogitsTransform idea):
//   struct V {
//     static constexpr bool kTokenStat = false;   // true: token_partial is summed over the row
//     __device__ float token_partial(const uint4& k8, int d0);          // e.g. ||k - mean||^2
//     template <int GT> __device__ void logits(const float (&qk)[GT], float stat, int i,
//                                              bool valid, int li, float (&out)[GT]);
//   };
// qk[g] is the raw fp32 dot product q_g . k (unscaled) of head h0+g; i the position in the list
// (valid is false past the end); li the lane's index within the row's D/8 lanes. out[g] is the
// base-2 logit, or -inf to leave the token out for that head. logits() is called by the whole
// warp together (all lanes, valid or not), so it may use shuffles to spread work over the row's
// lanes.
#pragma once

namespace kevo {

// Carves a workspace (or index) buffer into 256-byte aligned arrays, in a fixed order that the
// build/decode kernels of a seed share. The plan's byte count must cover end(); seeds check it.
struct Carve {
  unsigned char* base;
  long long off = 0;
  __device__ __forceinline__ explicit Carve(unsigned char* p) : base(p) {}
  template <class T>
  __device__ __forceinline__ T* take(long long count) {
    off = (off + 255) & ~255ll;
    T* p = reinterpret_cast<T*>(base + off);
    off += count * (long long)sizeof(T);
    return p;
  }
  __device__ __forceinline__ long long end() const { return off; }
};

// The plain variant: softmax(q k * scale).
struct PlainLogits {
  float scale_log2;
  static constexpr bool kTokenStat = false;
  __device__ __forceinline__ float token_partial(const uint4&, int) const { return 0.f; }
  template <int kGT>
  __device__ __forceinline__ void logits(const float (&qk)[kGT], float, int, bool, int,
                                         float (&out)[kGT]) const {
#pragma unroll
    for (int g = 0; g < kGT; ++g) out[g] = qk[g] * scale_log2;
  }
};

// Shared memory (floats) attend_list needs for its block merge.
__host__ __device__ constexpr int attend_smem_floats(int kGT, int nwarps, int D) {
  return nwarps * kGT * (D + 2);
}

// Attention of query heads h0 .. h0+ng-1 (ng <= GT, all reading KV head hkv of batch b) over the
// tokens list[0..n). Result per head g: out_m[g], out_d[g] (base-2 online-softmax max and
// denominator) and out_o[g*D + d] (unnormalised numerator), all in shared memory. red: shared
// scratch of attend_smem_floats(GT, blockDim/32, D). If out_vsum is given, it also gets the
// plain sum of the listed V rows (D floats, for the residual estimate of kevo/residual.cuh).
// All threads must call.
template <int kGT, int kUnroll, class Variant>
__device__ __forceinline__ void attend_list(const Args& a, int b, int hkv, int h0, int ng,
                                            const int* list, int n, Variant& var, float* red,
                                            float* out_m, float* out_d, float* out_o,
                                            float* out_vsum = nullptr) {
  const int D = a.D;
  const RowLanes rl = RowLanes::of(D);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  const int slot = lane / rl.lpt, li = lane % rl.lpt, d0 = li * 8;

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
#pragma unroll
  for (int g = 0; g < kGT; ++g) st[g].init();
  float vsum[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};

  const __nv_bfloat16* kb = a.k + kv_offset(a, b, hkv, 0) + d0;
  const __nv_bfloat16* vb = a.v + kv_offset(a, b, hkv, 0) + d0;
  const int step = nw * rl.slots;
  for (int base = warp * rl.slots; base < n; base += step * kUnroll) {  // warp-uniform bound
    uint4 kr[kUnroll], vr[kUnroll];
    int idx[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      idx[u] = base + u * step + slot;
      if (idx[u] < n) {
        const long long row = (long long)list[idx[u]] * D;
        kr[u] = ld_stream(kb + row);
        vr[u] = ld_stream(vb + row);
      } else {
        kr[u] = make_uint4(0, 0, 0, 0);
        vr[u] = kr[u];
      }
    }
    // Logits of all kUnroll rows first, then one rescale per head and batch: the online
    // softmax per row would pay two exponentials and a rescale of o for every row and head.
    float lg[kUnroll][kGT];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      float s[kGT];
#pragma unroll
      for (int g = 0; g < kGT; ++g) s[g] = group_sum(dot8(q[g], kr[u]), rl.lpt);
      float stat = 0.f;
      if (Variant::kTokenStat) stat = group_sum(var.token_partial(kr[u], d0), rl.lpt);
      var.logits(s, stat, idx[u], idx[u] < n, li, lg[u]);
      if (idx[u] >= n) {
#pragma unroll
        for (int g = 0; g < kGT; ++g) lg[u][g] = neg_inf();
      }
    }
#pragma unroll
    for (int g = 0; g < kGT; ++g) {
      if (g >= ng) continue;  // block-uniform
      float mx = st[g].m;
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) mx = fmaxf(mx, lg[u][g]);
      // With nothing seen yet (mx = -inf) every weight below is exp2(-inf) = 0.
      const float ref = mx == neg_inf() ? 0.f : mx;
      const float c = exp2f(st[g].m - ref);
      st[g].d *= c;
#pragma unroll
      for (int j = 0; j < 8; ++j) st[g].o[j] *= c;
      st[g].m = mx;
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) lg[u][g] = exp2f(lg[u][g] - ref);  // now the weight p
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      float vf[8];
      bf16x8_to_float(vr[u], vf);  // rows past the end are zeros, with weight 0
#pragma unroll
      for (int g = 0; g < kGT; ++g) {
        if (g < ng) {
          st[g].d += lg[u][g];
#pragma unroll
          for (int j = 0; j < 8; ++j) st[g].o[j] = fmaf(lg[u][g], vf[j], st[g].o[j]);
        }
      }
      if (out_vsum) {
#pragma unroll
        for (int j = 0; j < 8; ++j) vsum[j] += vf[j];
      }
    }
  }
  // Merge the row slots of the warp, then the warps of the block.
  for (int off = rl.lpt; off < 32; off <<= 1) {
#pragma unroll
    for (int g = 0; g < kGT; ++g) st[g].merge_xor(off);
  }
  if (slot == 0) {
#pragma unroll
    for (int g = 0; g < kGT; ++g) {
      float* r = red + (warp * kGT + g) * (D + 2);
#pragma unroll
      for (int j = 0; j < 8; ++j) r[d0 + j] = st[g].o[j];
      if (li == 0) {
        r[D] = st[g].m;
        r[D + 1] = st[g].d;
      }
    }
  }
  __syncthreads();
  for (int e = threadIdx.x; e < kGT * D; e += blockDim.x) {
    const int g = e / D, d = e - g * D;
    float m = neg_inf();
    for (int w = 0; w < nw; ++w) m = fmaxf(m, red[(w * kGT + g) * (D + 2) + D]);
    float den = 0.f, num = 0.f;
    if (m != neg_inf()) {
      for (int w = 0; w < nw; ++w) {
        const float* r = red + (w * kGT + g) * (D + 2);
        const float c = exp2f(r[D] - m);  // a warp with no tokens has m = -inf: c = 0
        den += r[D + 1] * c;
        num += r[d] * c;
      }
    }
    out_o[e] = num;
    if (d == 0) {
      out_m[g] = m;
      out_d[g] = den;
    }
  }
  __syncthreads();
  if (out_vsum) {  // the plain V sum: slots of the warp, then the warps (red is free again)
#pragma unroll
    for (int j = 0; j < 8; ++j)
      for (int off = rl.lpt; off < 32; off <<= 1) vsum[j] += __shfl_xor_sync(0xffffffffu, vsum[j], off);
    if (slot == 0) {
#pragma unroll
      for (int j = 0; j < 8; ++j) red[warp * D + d0 + j] = vsum[j];
    }
    __syncthreads();
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
      float s = 0.f;
      for (int w = 0; w < nw; ++w) s += red[w * D + d];
      out_vsum[d] = s;
    }
    __syncthreads();
  }
}

// Writes the block's per-head states (from attend_list, possibly merged with more) as split s.
__device__ __forceinline__ void write_partials(const Args& a, const Partials& p, int b, int h0,
                                               int ng, int s, const float* m, const float* den,
                                               const float* o) {
  const int D = a.D;
  for (int e = threadIdx.x; e < ng * D; e += blockDim.x) {
    const int g = e / D, d = e - g * D;
    p.store(a, b, h0 + g, s, d, o[e], m[g], den[g]);
  }
}

// Threadfence-reduction handshake (CUDA sample "threadFenceReduction"): true in exactly one
// block, the last of `nblocks` to arrive at `counter`, which must be zero before the kernel
// (a previous kernel of the decode phase zeroes it: the workspace is garbage on entry).
// Only thread 0 fences, after the block barrier (cumulative over the block's writes, as in
// cooperative groups' grid sync): one warp's wait instead of every warp's.
__device__ __forceinline__ bool arrive_last(int* counter, int nblocks, int* s_flag) {
  __syncthreads();
  if (threadIdx.x == 0) {
    __threadfence();
    const bool last = atomicAdd(counter, 1) == nblocks - 1;
    if (last) __threadfence();
    *s_flag = last;
  }
  __syncthreads();
  return *s_flag != 0;
}

// Merges the nsplit partials of heads h0 .. h0+ng-1 (written by other blocks: read through L2),
// handing each head's result to out(h, d, o[4], lse) for dims d .. d+3 (lse is base 2, of the
// merged softmax denominator). One thread per (head, 4 dims), all splits (SplitMerge4 of
// kevo/splits.cuh); merge_splits spreads a few heads over more threads.
template <class Out>
__device__ __forceinline__ void merge_partials(const Args& a, const Partials& p, int b, int h0,
                                               int ng, Out out) {
  const int D4 = a.D >> 2;
  for (int e = threadIdx.x; e < ng * D4; e += blockDim.x) {
    const int g = e / D4, d = (e - g * D4) * 4;
    SplitMerge4 mg;
    mg.init();
    mg.add<16>(span_of(p, a, b, h0 + g), d, 0, 1);
    float o[4];
    const float lse = mg.result(o);
    out(h0 + g, d, o, lse);
  }
}

// The merged result as the bf16 output o.
__device__ __forceinline__ void merge_partials_to_output(const Args& a, const Partials& p, int b,
                                                         int h0, int ng) {
  merge_partials(a, p, b, h0, ng, [&](int h, int d, const float* o, float) {
    __nv_bfloat16* dst = a.o + q_offset(a, b, h) + d;
#pragma unroll
    for (int j = 0; j < 4; ++j) dst[j] = __float2bfloat16_rn(o[j]);
  });
}

// The merged result as split s of another partials array (for multi-stage methods).
__device__ __forceinline__ void merge_partials_to_partial(const Args& a, const Partials& p,
                                                          int b, int h0, int ng,
                                                          const Partials& dst, int s) {
  merge_partials(a, p, b, h0, ng, [&](int h, int d, const float* o, float lse) {
    const long long r = dst.row(a, b, h, s);
#pragma unroll
    for (int j = 0; j < 4; ++j) dst.o[r * a.D + d + j] = o[j];
    if (d == 0) dst.lse[r] = lse;
  });
}

// Sum (or mean, if `mean`) of the n rows (D bf16 each) at `rows` into out[D] (fp32), by one
// block: the key mean for centring keys before hashing (MagicPIG), the per-chunk value sums of
// kevo/residual.cuh. s_acc: blockDim / (D/8) * D floats of shared memory.
__device__ __forceinline__ void block_row_sum(const __nv_bfloat16* rows, int n, int D,
                                              float* s_acc, float* out, bool mean) {
  const RowLanes rl = RowLanes::of(D);
  const int rows_per_pass = blockDim.x / rl.lpt;
  const int r0 = threadIdx.x / rl.lpt, d0 = (threadIdx.x % rl.lpt) * 8;
  float acc[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  if (r0 < rows_per_pass) {
    for (int r = r0; r < n; r += rows_per_pass) {
      float x[8];
      bf16x8_to_float(ld_stream(rows + (long long)r * D + d0), x);
#pragma unroll
      for (int j = 0; j < 8; ++j) acc[j] += x[j];
    }
#pragma unroll
    for (int j = 0; j < 8; ++j) s_acc[r0 * D + d0 + j] = acc[j];
  }
  __syncthreads();
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float s = 0.f;
    for (int r = 0; r < rows_per_pass; ++r) s += s_acc[r * D + d];
    out[d] = mean ? (n > 0 ? s / n : 0.f) : s;
  }
  __syncthreads();
}
// block_row_sum with mean = true: the mean of the n rows.
__device__ __forceinline__ void block_row_mean(const __nv_bfloat16* rows, int n, int D,
                                               float* s_acc, float* out) {
  block_row_sum(rows, n, D, s_acc, out, true);
}

}  // namespace kevo
