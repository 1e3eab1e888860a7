// Top-k selection building blocks (part of kevo/attention.cuh; include that header).
//
// Decode-time top-k over N up to 128K+ scores must not sort. Two tools:
//
// 1. Histogram threshold (for many items, small keys). Each item gets a key in [0, nb) with
//    nb <= kMaxBins (an exact small-integer score such as a Hamming similarity, or a quantised
//    float via log_key). Score kernels build one histogram per chunk of items; one block per list
//    then finds the threshold key t and, for items whose key equals t, how many each chunk may
//    take (in item order), so exactly k items are selected and the choice is deterministic:
//       selected(i) = key > t  or  (key == t and rank among the chunk's ties < quota[chunk])
//    Two special keys bypass the count: kKeyForced (always selected: sinks, local window) and
//    kKeySkip (never).
// 2. Exact radix select (for a few thousand items per block): the k-th largest 32-bit ordered
//    key in three histogram passes (11 + 11 + 10 bits).
#pragma once

namespace kevo {

// Histogram bins of the threshold selection, and the u16 keys that force a token in (kKeyForced)
// or keep it out (kKeySkip) whatever its score.
constexpr int kMaxBins = 1024;
constexpr u16 kKeyForced = 0xffff;
constexpr u16 kKeySkip = 0xfffe;

// Order-preserving map of a float to u32 (larger float -> larger key; -0 < +0 harmless).
__device__ __forceinline__ u32 float_key(float f) {
  const u32 u = __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
// Logarithmic 10-bit key of a non-negative score: 8 bins per octave (9% apart) over
// [2^-64, 2^64]; zero, negatives and NaN map to 0. For scores whose scale is unknown.
__device__ __forceinline__ int log_key(float x) {
  if (!(x > 0.f)) return 0;
  const int k = (int)(__float_as_uint(x) >> 20) - ((127 - 64) << 3);
  return k < 1 ? 1 : (k > kMaxBins - 1 ? kMaxBins - 1 : k);
}

// Shared-memory histogram helpers for score kernels.
__device__ __forceinline__ void hist_clear(u32* h, int nb) {
  for (int i = threadIdx.x; i < nb; i += blockDim.x) h[i] = 0;
}
// Writes the histogram of chunk c as u16 counts (chunks hold < 65536 items) into a chunk-major
// [nch][nb] array (the threshold block reads it coalesced, one chunk row at a time).
__device__ __forceinline__ void hist_store(const u32* h, int nb, u16* hist, int c) {
  for (int i = threadIdx.x; i < nb; i += blockDim.x) hist[(long long)c * nb + i] = (u16)h[i];
}

// Copies n u16 keys from global to shared memory (s 16-byte aligned), 8 keys per 16-byte load
// when g is aligned, so that a chunk's keys arrive in one or two round trips.
__device__ __forceinline__ void load_keys(const u16* g, int n, u16* s) {
  if ((reinterpret_cast<unsigned long long>(g) & 15) == 0) {
    const int n8 = n >> 3;
#pragma unroll 4
    for (int i = threadIdx.x; i < n8; i += blockDim.x)
      reinterpret_cast<uint4*>(s)[i] = __ldg(reinterpret_cast<const uint4*>(g) + i);
    for (int i = (n8 << 3) + threadIdx.x; i < n; i += blockDim.x) s[i] = g[i];
  } else {
#pragma unroll 4
    for (int i = threadIdx.x; i < n; i += blockDim.x) s[i] = g[i];
  }
  __syncthreads();
}

// The bin t (0 <= t < nb) where count(key >= t) >= k > count(key > t), over a shared-memory
// histogram; *above = count(key > t). If fewer than k items exist, returns 0 with *above =
// count(key > 0), so that taking all ties takes everything. k <= 0 returns nb (nothing).
// All threads must call; scratch holds >= 36 ints.
__device__ __forceinline__ int kth_bin_from_top(const u32* hist, int nb, int k, int* above,
                                                 int* scratch) {
  if (k <= 0) {
    *above = 0;
    return nb;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    scratch[34] = -1;
    scratch[35] = 0;
  }
  int carry = 0;
  for (int base = 0; base < nb; base += blockDim.x) {
    const int idx = nb - 1 - (base + (int)threadIdx.x);
    const int x = idx >= 0 ? (int)hist[idx] : 0;
    int tile;
    const int excl = block_exclusive_scan(x, scratch, &tile);
    const int gt = carry + excl;
    if (idx >= 0 && gt + x >= k && gt < k) {
      scratch[34] = idx;
      scratch[35] = gt;
    }
    carry += tile;
  }
  __syncthreads();
  int t = scratch[34];
  int ab = scratch[35];
  __syncthreads();
  if (t < 0) {
    t = 0;
    ab = carry - (int)hist[0];
  }
  *above = ab;
  return t;
}

// Threshold and per-chunk tie quotas for one list (one block per list, any blockDim multiple of
// 32). hist: [nch][nb] u16 chunk histograms (see hist_store); out[c] = {t, quota_c}.
// s_total: nb u32 of shared memory; scratch: >= 36 ints of shared memory. The histograms may
// have been written by other blocks of the running kernel: they are read
// through L2 (ld.global.cg), never through the non-coherent path.
// With nb % 8 == 0 (and hist 16-byte aligned) each thread sums 8 bins of every S-th chunk with
// 16-byte loads, 8 of them in flight: at nch = 64, nb = 264 and 256 threads that is 2 round trips
// to L2 instead of 16 (one thread per bin, 8 chunks per round trip).
__device__ __noinline__ void select_threshold(const u16* hist, int nch, int nb, int k, int2* out,
                                              u32* s_total, int* scratch) {
  if (nb % 8 == 0 && (reinterpret_cast<unsigned long long>(hist) & 15) == 0) {
    const int ng = nb / 8, splits = max(1, (int)blockDim.x / ng);
    for (int i = threadIdx.x; i < nb; i += blockDim.x) s_total[i] = 0;
    __syncthreads();
    for (int w = threadIdx.x; w < ng * splits; w += blockDim.x) {
      const int g = w % ng, s = w / ng;
      u32 sum[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      const uint4* col = reinterpret_cast<const uint4*>(hist) + g;
      for (int c0 = s; c0 < nch; c0 += 8 * splits) {
        uint4 v[8];
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          const int c = c0 + j * splits;
          v[j] = c < nch ? __ldcg(col + (long long)c * ng) : make_uint4(0, 0, 0, 0);
        }
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          const u32 x[4] = {v[j].x, v[j].y, v[j].z, v[j].w};
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            sum[2 * e] += x[e] & 0xffffu;
            sum[2 * e + 1] += x[e] >> 16;
          }
        }
      }
#pragma unroll
      for (int e = 0; e < 8; ++e)
        if (sum[e]) atomicAdd(&s_total[g * 8 + e], sum[e]);
    }
  } else {
    for (int bin = threadIdx.x; bin < nb; bin += blockDim.x) {
      u32 s[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // 8 coalesced loads in flight per thread
      int c = 0;
      for (; c + 8 <= nch; c += 8) {
#pragma unroll
        for (int j = 0; j < 8; ++j) s[j] += __ldcg(hist + (long long)(c + j) * nb + bin);
      }
      for (; c < nch; ++c) s[0] += __ldcg(hist + (long long)c * nb + bin);
      s_total[bin] = s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
    }
  }
  __syncthreads();
  int above;
  const int t = kth_bin_from_top(s_total, nb, k, &above, scratch);
  const int ties_wanted = k - above;
  int carry = 0;
  for (int base = 0; base < nch; base += blockDim.x) {
    const int c = base + threadIdx.x;
    const int tie = (c < nch && t < nb) ? (int)__ldcg(hist + (long long)c * nb + t) : 0;
    int tile;
    const int before = carry + block_exclusive_scan(tie, scratch, &tile);
    if (c < nch) {
      int q = ties_wanted - before;
      q = q < 0 ? 0 : (q > tie ? tie : q);
      out[c] = make_int2(t, q);
    }
    carry += tile;
  }
}

// Stream compaction of one chunk's selected items into `list` (shared memory), in item order,
// by the rule above. key_of(i) for i in [0, n) returns the item's key (kKeyForced/kKeySkip
// included). Returns the count (all threads). scratch: >= 36 ints. Ties must fit 16 bits.
// Positions are u16: a chunk holds at most 65536 items.
template <class KeyFn>
__device__ __forceinline__ int compact_chunk(int n, KeyFn key_of, int2 sel, u16* list,
                                             int* scratch) {
  // Each thread takes a run of consecutive items, so that one block scan of the runs' counts
  // places every item (a scan per blockDim items cost 16 scans, 48 barriers, at 2048 items and
  // 128 threads). The list is the same, in the same order.
  const int t = sel.x, quota = sel.y;
  const int per = cdiv(n, (int)blockDim.x);
  const int i0 = min(n, (int)threadIdx.x * per), i1 = min(n, i0 + per);
  auto definite_of = [&](int key) { return key == kKeyForced || (key < kKeySkip && key > t); };
  int n_def = 0, n_tie = 0;
  for (int i = i0; i < i1; ++i) {
    const int key = key_of(i);
    n_def += definite_of(key);
    n_tie += key == t;
  }
  int total;
  const int packed = block_exclusive_scan(n_def << 16 | n_tie, scratch, &total);
  int def_before = packed >> 16, tie_rank = packed & 0xffff;
  for (int i = i0; i < i1; ++i) {
    const int key = key_of(i);
    if (definite_of(key)) {
      list[def_before + min(tie_rank, quota)] = (u16)i;
      ++def_before;
    } else if (key == t) {
      if (tie_rank < quota) list[def_before + tie_rank] = (u16)i;
      ++tie_rank;
    }
  }
  __syncthreads();
  const int ties = total & 0xffff;
  return (total >> 16) + (ties < quota ? ties : quota);
}

// A chunk's own top k items (a per-chunk top-k: no threshold kernel, no global pass): the
// threshold bin and tie quota from the chunk's histogram of its counted keys (hist: nb u32,
// shared memory), then compact_chunk by the rule above. Returns the count; key_of, list and
// scratch as compact_chunk's. All threads must call.
template <class KeyFn>
__device__ __forceinline__ int compact_chunk_topk(int n, KeyFn key_of, const u32* hist, int nb,
                                                  int k, u16* list, int* scratch) {
  int above;
  const int t = kth_bin_from_top(hist, nb, k, &above, scratch);
  return compact_chunk(n, key_of, make_int2(t, max(0, k - above)), list, scratch);
}

// Exact k-th largest of n ordered u32 keys (e.g. float_key), read through key_of(i); returns T
// with count(key >= T) >= k > count(key > T); 0 when n <= k (everything). s_hist: 2048 u32 of
// shared memory; scratch: >= 36 ints. One block; all threads call.
template <class KeyFn>
__device__ __forceinline__ u32 radix_select_kth(int n, int k, KeyFn key_of, u32* s_hist,
                                                int* scratch) {
  if (n <= k) return 0u;
  u32 prefix = 0, mask = 0;
  const int shifts[3] = {21, 10, 0};
  const int widths[3] = {11, 11, 10};
  for (int pass = 0; pass < 3; ++pass) {
    const int sh = shifts[pass], nb = 1 << widths[pass];
    __syncthreads();
    hist_clear(s_hist, nb);
    __syncthreads();
    for (int i0 = threadIdx.x; i0 < n; i0 += 4 * blockDim.x) {  // 4 loads in flight
      u32 key[4];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int i = i0 + j * (int)blockDim.x;
        key[j] = i < n ? key_of(i) : 0u;
      }
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        if (i0 + j * (int)blockDim.x < n && (key[j] & mask) == prefix)
          atomicAdd(&s_hist[(key[j] >> sh) & (nb - 1)], 1u);
      }
    }
    __syncthreads();
    int above;
    const int bin = kth_bin_from_top(s_hist, nb, k, &above, scratch);
    k -= above;
    prefix |= (u32)bin << sh;
    mask |= (u32)(nb - 1) << sh;
  }
  return prefix;
}

// Candidates select_kth_staged ranks exactly (each thread one, against all of them: at 512 about
// a microsecond); past this it falls back to radix_select_kth. A multiple of 4.
constexpr int kMaxKthCandidates = 512;

// radix_select_kth's result for n float_key keys already in shared memory (keys[0..n)), in one
// histogram pass instead of three: 2048 bins spread linearly over the values between the
// smallest and the largest finite key above 0 (0 is the key of items that never count, e.g.
// forced ones), then an exact rank among the keys of the bin the k-th largest falls in. Spread
// scores leave a few keys there (quest's 8192 page scores: a handful); more than
// kMaxKthCandidates (heavy ties, outliers stretching the range) take the radix passes.
// s_hist: 2048 u32; s_cand: kMaxKthCandidates u32, 16-byte aligned; scratch: >= 40 ints. One
// block; all threads call.
__device__ __forceinline__ u32 select_kth_staged(int n, int k, const u32* keys, u32* s_hist,
                                                 u32* s_cand, int* scratch) {
  if (n <= k) return 0u;
  constexpr int kBins = 2048;
  auto value_of = [](u32 x) {  // float_key's inverse
    return __uint_as_float((x & 0x80000000u) ? (x & 0x7fffffffu) : ~x);
  };
  auto finite = [&](u32 x) { return fabsf(value_of(x)) <= 3.402823466e38f; };
  u32* lo_hi = reinterpret_cast<u32*>(scratch + 36);  // [0] min, [1] max of the finite keys > 0
  int* s_count = scratch + 38;
  u32* s_result = reinterpret_cast<u32*>(scratch + 39);
  __syncthreads();  // keys staged, scratch free
  if (threadIdx.x == 0) {
    lo_hi[0] = 0xffffffffu;
    lo_hi[1] = 0u;
    *s_count = 0;
    *s_result = 0u;
  }
  hist_clear(s_hist, kBins);
  u32 lo = 0xffffffffu, hi = 0u;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const u32 x = keys[i];
    if (x > 0u && finite(x)) lo = min(lo, x), hi = max(hi, x);
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    lo = min(lo, __shfl_xor_sync(0xffffffffu, lo, o));
    hi = max(hi, __shfl_xor_sync(0xffffffffu, hi, o));
  }
  __syncthreads();
  if ((threadIdx.x & 31) == 0) atomicMin(&lo_hi[0], lo), atomicMax(&lo_hi[1], hi);
  __syncthreads();
  lo = lo_hi[0], hi = lo_hi[1];
  const float vlo = value_of(lo), span = hi > lo ? value_of(hi) - vlo : 0.f;
  const float scale = span > 0.f && span <= 3.402823466e38f ? (float)(kBins - 2) / span : 0.f;
  // Monotone in the key: 0 -> bin 0; -inf -> 1; finite -> 1 .. kBins-2 linear in the value
  // (rounding may merge neighbours: they become candidates); +inf and NaN -> kBins-1.
  auto bin_of = [&](u32 x) {
    if (x == 0u) return 0;
    if (x > hi) return kBins - 1;
    if (x < lo) return 1;
    return 1 + min(kBins - 3, (int)((value_of(x) - vlo) * scale));
  };
  for (int i = threadIdx.x; i < n; i += blockDim.x) atomicAdd(&s_hist[bin_of(keys[i])], 1u);
  int above;
  const int t = kth_bin_from_top(s_hist, kBins, k, &above, scratch);
  const int m = (int)s_hist[t];
  if (t == 0 || m > kMaxKthCandidates) {  // block-uniform
    return radix_select_kth(
        n, k, [&](int i) { return keys[i]; }, s_hist, scratch);
  }
  const int m4 = (m + 3) & ~3;  // read 4 at a time; the padding (0) is below every candidate
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const u32 x = keys[i];
    if (bin_of(x) == t) s_cand[atomicAdd(s_count, 1)] = x;
  }
  if (threadIdx.x < m4 - m) s_cand[m + threadIdx.x] = 0u;
  __syncthreads();
  const int kk = k - above;  // the kk-th largest candidate is the answer
  for (int i = threadIdx.x; i < m; i += blockDim.x) {
    const u32 x = s_cand[i];
    int greater = 0, equal = 0;
    for (int j = 0; j < m4; j += 4) {
      const uint4 y = *reinterpret_cast<const uint4*>(s_cand + j);
      greater += (y.x > x) + (y.y > x) + (y.z > x) + (y.w > x);
      equal += (y.x == x) + (y.y == x) + (y.z == x) + (y.w == x);
    }
    if (greater < kk && kk <= greater + equal) *s_result = x;
  }
  __syncthreads();
  const u32 result = *s_result;
  __syncthreads();
  return result;
}

}  // namespace kevo
