// Split-KV partial results and their merge (part of kevo/attention.cuh; include that header).
//
// A decode that splits each query head's tokens over several blocks writes, per split, the
// normalised partial output o_s = sum_i p_i v_i / sum_i p_i and its base-2 log-sum-exp
// lse_s = log2(sum_i 2^(s_i)); the result is sum_s w_s o_s / sum_s w_s with w_s = 2^(lse_s - max).
// The merge runs in the last block to finish (arrive_last: one launch, no merge kernel).
#pragma once

namespace kevo {

// Split partials laid out per query head: split s of head h of batch b at row (b*Hq + h)*nsplit +
// s.
struct Partials {
  float* o;    // [B][Hq][nsplit][D]
  float* lse;  // [B][Hq][nsplit]
  int nsplit;
  // Row of split s of head h of batch b (o + row * D, lse + row).
  __device__ __forceinline__ long long row(const Args& a, int b, int h, int s) const {
    return ((long long)b * a.Hq + h) * nsplit + s;
  }
  // Dim d of split s of head h from an online-softmax state (numerator num, base-2 max m,
  // denominator den); the thread with d == 0 also writes the split's lse.
  __device__ __forceinline__ void store(const Args& a, int b, int h, int s, int d, float num,
                                        float m, float den) const {
    const long long r = row(a, b, h, s);
    o[r * a.D + d] = den > 0.f ? num / den : 0.f;
    if (d == 0) lse[r] = den > 0.f ? m + log2f(den) : neg_inf();
  }
};

// The splits of one output row for merge_splits: split k (k < n) at o + k * o_step (D floats)
// and lse[k * lse_step].
struct SplitSpan {
  const float* o;
  long long o_step;
  const float* lse;
  long long lse_step;
  int n;
};

// The SplitSpan of head h of batch b in a Partials array.
__device__ __forceinline__ SplitSpan span_of(const Partials& p, const Args& a, int b, int h) {
  const long long r = p.row(a, b, h, 0);
  return {p.o + r * a.D, a.D, p.lse + r, 1, p.nsplit};
}

// Running merge of split partials over 4 output dims: m = max lse so far, w = sum of weights
// 2^(lse - m), acc = sum of weight * o.
struct SplitMerge4 {
  float m, w, acc[4];
  __device__ __forceinline__ void init() {
    m = neg_inf();
    w = 0.f;
    acc[0] = acc[1] = acc[2] = acc[3] = 0.f;
  }
  // Adds splits first, first + step, ... < sp.n, dims d0 .. d0+3, kPer independent loads in
  // flight (a chained online merge would wait a round trip per split). Reads through L2
  // (__ldcg): the partials were written by other blocks of the same launch.
  template <int kPer>
  __device__ __forceinline__ void add(const SplitSpan& sp, int d0, int first, int step) {
    for (int k0 = first; k0 < sp.n; k0 += step * kPer) {
      float l[kPer];
      float4 x[kPer];
#pragma unroll
      for (int j = 0; j < kPer; ++j) {
        const int k = k0 + j * step;
        l[j] = k < sp.n ? __ldcg(sp.lse + k * sp.lse_step) : neg_inf();
        x[j] = k < sp.n ? __ldcg(reinterpret_cast<const float4*>(sp.o + k * sp.o_step + d0))
                        : make_float4(0.f, 0.f, 0.f, 0.f);
      }
      float mn = m;
#pragma unroll
      for (int j = 0; j < kPer; ++j) mn = fmaxf(mn, l[j]);
      if (mn == neg_inf()) continue;  // only empty splits so far
      const float c = exp2f(m - mn);  // m = -inf gives 0
      w *= c;
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[e] *= c;
#pragma unroll
      for (int j = 0; j < kPer; ++j) {
        const float wj = exp2f(l[j] - mn);  // an empty split has lse = -inf: weight 0
        w += wj;
        acc[0] += wj * x[j].x;
        acc[1] += wj * x[j].y;
        acc[2] += wj * x[j].z;
        acc[3] += wj * x[j].w;
      }
      m = mn;
    }
  }
  // Folds another running merge into this one.
  __device__ __forceinline__ void merge(const SplitMerge4& x) {
    const float mn = fmaxf(m, x.m);
    if (mn == neg_inf()) return;
    const float c1 = exp2f(m - mn), c2 = exp2f(x.m - mn);
    w = w * c1 + x.w * c2;
#pragma unroll
    for (int e = 0; e < 4; ++e) acc[e] = acc[e] * c1 + x.acc[e] * c2;
    m = mn;
  }
  // The merged output o[4] = acc / w (0 when every split was empty); returns the merged lse.
  __device__ __forceinline__ float result(float (&o)[4]) const {
    const float inv = w > 0.f ? 1.f / w : 0.f;
#pragma unroll
    for (int e = 0; e < 4; ++e) o[e] = acc[e] * inv;
    return w > 0.f ? m + log2f(w) : neg_inf();
  }
};

// Merges the splits of rows r < nrows (span(r): their SplitSpan, D dims each) with one block and
// hands each row's result to out(r, d0, o[4], lse) for dims d0 .. d0+3 (o normalised, lse base
// 2). Threads are spread over (row, 4 dims) columns and, when the block is larger than that, over
// several split lanes per column whose merges meet in shared memory, so that a few dozen splits
// arrive in one round trip. s_red: 6 * blockDim.x floats of shared memory. D % 4 == 0. All
// threads must call.
template <int kPer = 8, class Span, class Out>
__device__ __forceinline__ void merge_splits(int nrows, int D, Span span, Out out, float* s_red) {
  const int cols = nrows * (D >> 2);
  const int lanes = max(1, (int)blockDim.x / max(cols, 1)), per_pass = blockDim.x / lanes;
  for (int c0 = 0; c0 < cols; c0 += per_pass) {
    const int col = c0 + (int)threadIdx.x % per_pass, lane = threadIdx.x / per_pass;
    const bool active = col < cols && lane < lanes;
    const int r = active ? col / (D >> 2) : 0, d0 = active ? (col % (D >> 2)) * 4 : 0;
    SplitMerge4 mg;
    mg.init();
    if (active) mg.add<kPer>(span(r), d0, lane, lanes);
    if (lanes > 1) {
      float* x = s_red + threadIdx.x * 6;
      x[0] = mg.m, x[1] = mg.w;
#pragma unroll
      for (int e = 0; e < 4; ++e) x[2 + e] = mg.acc[e];
      __syncthreads();
      if (active && lane == 0) {
        for (int k = 1; k < lanes; ++k) {
          const float* y = s_red + (k * per_pass + threadIdx.x) * 6;
          SplitMerge4 other;
          other.m = y[0], other.w = y[1];
#pragma unroll
          for (int e = 0; e < 4; ++e) other.acc[e] = y[2 + e];
          mg.merge(other);
        }
      }
      __syncthreads();
    }
    if (active && lane == 0) {
      float o[4];
      const float lse = mg.result(o);
      out(r, d0, o, lse);
    }
  }
}

// Writes row r's merged dims d0 .. d0+3 (from merge_splits) as bf16 to the output of head h.
__device__ __forceinline__ void store_output4(const Args& a, int b, int h, int d0,
                                              const float (&o)[4]) {
  __nv_bfloat162* dst = reinterpret_cast<__nv_bfloat162*>(a.o + q_offset(a, b, h) + d0);
  dst[0] = __floats2bfloat162_rn(o[0], o[1]);
  dst[1] = __floats2bfloat162_rn(o[2], o[3]);
}

// Arrival of block k of the n blocks whose partials one merge combines: true in a block that
// finds every block's flag set (the last to arrive; rarely two, which then merge the same
// partials to the same bits). Each block sets flags[k] to a 64-bit tag drawn from a.seed (fresh
// on every call), so flags may hold garbage on entry (the workspace does) and no earlier kernel
// has to zero them; the block that returns true clears them again (for callers that reuse a
// seed). Unlike an atomic counter, nothing contends: blocks finishing together each pay one read
// of the n flags instead of a queue of compare-and-swaps (seen costing ~20 us with 17 blocks).
// Publishes this block's writes first and, when it returns true, makes the other blocks' writes
// visible. Only warp 0 fences: after the block barrier its fence is cumulative over the other
// warps' writes (the pattern of cooperative groups' grid sync); with every warp fencing three
// times the fences' waits were 5-6% of the top-k attends' stall samples (ncu, B1-N128K), and
// hash_topk's attend took 57.7 us against 56.4 (H100, B1-N128K; B8-N32K 107.7 against 102.9).
// All threads must call.
// kLight: the flag is a release store (cumulative over the block's writes, which the barrier
// orders before it) instead of fence.sc + store, and a last block's reads of the flags are
// followed by an acquire fence (fence.acq_rel) instead of fence.sc; the one fence.sc left orders
// the block's flag store before its loads of the others' flags. The dense decode uses it: 1.9% /
// 2.9% faster at B1-N8K / B1-N32K (run 25, H100, 5 evaluations); in dsa_indexer's attend it
// changed nothing beyond noise (-1.9% / 0.0% / +1.0% at B1-N32K / B1-N128K / B8-N32K), so the
// sparse attends keep the measured default.
template <bool kLight = false>
__device__ __forceinline__ bool arrive_last(const Args& a, u64* flags, int k, int n) {
  const u64 tag = mix64(a.seed ^ 0x6b65766f41525256ull) | 1ull;
  __syncthreads();  // every warp's writes before warp 0's release
  bool all = false;
  if (threadIdx.x < 32) {
    const int lane = threadIdx.x;
    if (lane == 0) {
      if (kLight) {
        asm volatile("st.release.gpu.global.u64 [%0], %1;" ::"l"(flags + k), "l"(tag) : "memory");
      } else {
        __threadfence();  // release: the block's writes before its flag
        *reinterpret_cast<volatile u64*>(flags + k) = tag;
      }
    }
    __syncwarp();
    __threadfence();  // the flag before the reads: of two blocks finishing together, one sees both
    bool mine = true;
    for (int j = lane; j < n; j += 32) {
      if (kLight) {
        u64 f;
        asm volatile("ld.relaxed.gpu.global.u64 %0, [%1];" : "=l"(f) : "l"(flags + j) : "memory");
        mine &= j == k || f == tag;
      } else {
        mine &= j == k || *reinterpret_cast<volatile u64*>(flags + j) == tag;
      }
    }
    all = __all_sync(0xffffffffu, mine);
    if (all) {
      if (kLight)
        asm volatile("fence.acq_rel.gpu;" ::: "memory");  // acquire: the others' writes
      else
        __threadfence();  // acquire: the other blocks' writes after their flags
      for (int j = lane; j < n; j += 32) flags[j] = 0;
    }
  }
  // No __shared__ flag: 16 bytes of static shared memory move the dynamic tile buffers off
  // their 128-byte alignment (the dense decode lost 6% to that at B1-N128K).
  return __syncthreads_or(threadIdx.x == 0 && all);
}

}  // namespace kevo
