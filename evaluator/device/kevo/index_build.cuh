// Whole-block bodies of the kernels several seeds share (part of kevo/attention.cuh; include that
// header): a seed's kernel carves its layout and calls one of these, so the method-specific code
// is what stays in the seed.
#pragma once

namespace kevo {

// Build block of a grid (Hkv, B), 256 threads: the mean key of KV head blockIdx.x of batch
// blockIdx.y into mean + (b * Hkv + hkv) * D (centring keys before hashing, as MagicPIG does).
__device__ __forceinline__ void key_mean_block(const Args& a, float* mean) {
  __shared__ float s_acc[256 * 8];
  const int hkv = blockIdx.x, b = blockIdx.y;
  block_row_mean(a.k + kv_offset(a, b, hkv, 0), a.N, a.D, s_acc,
                 mean + ((long long)b * a.Hkv + hkv) * a.D);
}

// Build block of a grid (cdiv(N, ch), Hkv, B), 256 threads: the V sum of chunk blockIdx.x (ch
// tokens) into vsum + ((b * Hkv + hkv) * cdiv(N, ch) + c) * D, for the residual estimate
// (kevo/residual.cuh).
__device__ __forceinline__ void value_sums_block(const Args& a, int ch, float* vsum) {
  __shared__ float s_acc[256 * 8];
  const int c = blockIdx.x, hkv = blockIdx.y, b = blockIdx.z;
  block_row_sum(a.v + kv_offset(a, b, hkv, c * ch), min(ch, a.N - c * ch), a.D, s_acc,
                vsum + (((long long)b * a.Hkv + hkv) * cdiv(a.N, ch) + c) * a.D, false);
}

// Fills s_planes[0 .. nplanes * D/32) with the sign words of random planes 0 .. nplanes-1
// (plane_word of seed), then syncs the block: the planes hashing kernels share in shared memory.
__device__ __forceinline__ void load_planes(u32* s_planes, int nplanes, int D, u64 seed) {
  const int wd = D / 32;
  for (int i = threadIdx.x; i < nplanes * wd; i += blockDim.x)
    s_planes[i] = plane_word(seed, i / wd, i % wd);
  __syncthreads();
}

// Where for_each_centred_key's callback stands: the token, and the lane within its row.
struct KeyRow {
  int n;        // the token (rows past the cache have ok = false: compute, do not store)
  bool ok;      // n < N
  int li, lpt;  // this lane's index within the row's D / 8 lanes, and D / 8
  int d0;       // the first of this lane's 8 dims
};

// Build block of a grid (cdiv(N, 64), Hkv, B), 256 threads: calls f(row, x) for the 64 tokens
// of block blockIdx.x of KV head blockIdx.y, batch blockIdx.z, with x = this lane's 8 dims of
// key - mean (mean from key_mean_block; 0 past the cache). D / 8 lanes per row; the whole warp
// calls f together, so f may reduce over a row's lanes with shuffles.
template <class F>
__device__ __forceinline__ void for_each_centred_key(const Args& a, const float* mean, F f) {
  const int hkv = blockIdx.y, b = blockIdx.z, D = a.D;
  const long long bh = (long long)b * a.Hkv + hkv;
  const RowLanes rl = RowLanes::of(D);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int slot = lane / rl.lpt, li = lane % rl.lpt, d0 = li * 8;
  float mu[8];
  for (int j = 0; j < 8; ++j) mu[j] = mean[bh * D + d0 + j];
  for (int r = warp * rl.slots; r < 64; r += 8 * rl.slots) {  // warp-uniform
    const int n = blockIdx.x * 64 + r + slot;
    float x[8];
    if (n < a.N) {
      bf16x8_to_float(ld_stream(a.k + kv_offset(a, b, hkv, n) + d0), x);
    } else {
      for (int j = 0; j < 8; ++j) x[j] = mu[j];
    }
    for (int j = 0; j < 8; ++j) x[j] -= mu[j];
    f(KeyRow{n, n < a.N, li, rl.lpt, d0}, x);
  }
}

// Build block of a grid (cdiv(N, 64), Hkv, B), 256 threads: the int4 indexer keys of 64 tokens
// (DeepSeek's lightning indexer without training): key - mean (mean from key_mean_block), a
// randomised Hadamard rotation (rot_seed), the first di coordinates as int4 with one scale per
// token, into kq + (bh * N + n) * di / 2 and kscale[bh * N + n]. di % 8 == 0, di <= D.
__device__ __forceinline__ void int4_keys_block(const Args& a, const float* mean, int di,
                                                u64 rot_seed, unsigned char* kq, float* kscale) {
  const long long bh = (long long)blockIdx.z * a.Hkv + blockIdx.y;
  for_each_centred_key(a, mean, [&](const KeyRow& k, float(&x)[8]) {
    hadamard_rotate(x, k.li, k.lpt, a.D, rot_seed);
    const float scale = row_scale<7>(x, k.li, k.lpt, di / 8);
    const u32 w = pack_int4(x, scale);
    if (k.ok) {
      if (k.li < di / 8) *reinterpret_cast<u32*>(kq + (bh * a.N + k.n) * (di / 2) + k.li * 4) = w;
      if (k.li == 0) kscale[bh * a.N + k.n] = scale;
    }
  });
}

namespace detail {
// int8_queries' work for head g (warp-uniform): the query of g < G, zeros for G <= g < pad.
__device__ __forceinline__ void int8_query_head(const Args& a, int b, int hkv, int g, int di,
                                                u64 rot_seed, int pad, u32* q8, float* qs) {
  const int D = a.D, G = a.Hq / a.Hkv, lane = threadIdx.x & 31;
  const RowLanes rl = RowLanes::of(D);
  const int li = lane % rl.lpt, d0 = li * 8;
  if (g < G) {
    float x[8];
    bf16x8_to_float(ld_u4(a.q + q_offset(a, b, hkv * G + g) + d0), x);
    hadamard_rotate(x, li, rl.lpt, D, rot_seed);
    const float s = row_scale<127>(x, li, rl.lpt, di / 8);
    u32 e, o;
    pack_int8_pairs(x, s, &e, &o);
    if (lane < rl.lpt && li < di / 8) {
      q8[(g * (di / 8) + li) * 2] = e;
      q8[(g * (di / 8) + li) * 2 + 1] = o;
    }
    if (lane == 0) qs[g] = s;
  } else if (g < pad) {
    if (lane < di / 8) q8[(g * (di / 8) + lane) * 2] = q8[(g * (di / 8) + lane) * 2 + 1] = 0u;
    if (lane == 0) qs[g] = 0.f;
  }
}
}  // namespace detail

// Decode: the indexer queries of KV head hkv of batch b, by a block of kWarps warps. Warp w takes
// head g = w (and w + kWarps, ... below 8 warps): it rotates head g < G's query as
// int4_keys_block rotates keys and quantises its first di coordinates to int8, the even and odd
// coordinates of its 8-dim chunk c apart (q8[(g * di/8 + c) * 2 + {0, 1}]), scale qs[g]; for
// G <= g < pad (at most 8) it writes zeros (padding heads that score 0, so a score loop needs no
// bound on G). q8 and qs in shared memory; the caller syncs the block before reading them.
template <int kWarps>
__device__ __forceinline__ void int8_queries(const Args& a, int b, int hkv, int di, u64 rot_seed,
                                             int pad, u32* q8, float* qs) {
  const int warp = threadIdx.x >> 5;
  if constexpr (kWarps >= 8) {
    detail::int8_query_head(a, b, hkv, warp, di, rot_seed, pad, q8, qs);
  } else {
    for (int g = warp; g < 8; g += kWarps)
      detail::int8_query_head(a, b, hkv, g, di, rot_seed, pad, q8, qs);
  }
}

// Decode: the index scores of a chunk's n_items int4 rows (int4_keys_block's: kDI coordinates,
// kDI/2 bytes a row at rows, scale kscale[i]) for the 8 query heads of int8_queries(..., pad = 8)
// (q8, qs in shared memory; padding heads score 0), on tensor cores: mma.m16n8k32 (s8 in, s32
// out) with 16 tokens as A's rows and the heads as B's columns. Lane (grp, t4) of a warp holds u32
// words t4*WPL .. t4*WPL+WPL-1 (WPL = kDI/32) of tokens grp and grp+8 of a tile; k-step j takes
// word t4*WPL+j's low nibble plane (its even coordinates) as k = 4*t4..4*t4+3 and its high plane
// (odd) as k = 16 + 4*t4.., each coordinate an int8 times 16 in its byte's high nibble (the
// constant does not change a ranking), and the query's int8 even / odd words of the same word are
// B's rows there, so the products are exact in int32: two mma per 16 tokens where a dp4a loop
// took 16 dp4a and 2 shared loads per token, head and 16-byte word. Each of the block's kWarps
// warps takes every kWarps-th tile, kTU tiles in flight. out(i, s) gets token i's s = scale_i *
// sum_g qs[g] * max(q_g . k_i, 0) (the heads summed in pairs, then across the quad), called by one
// lane per token. All threads of the block must call (warp shuffles).
template <int kDI, int kTU, int kWarps, class Out>
__device__ __forceinline__ void int4_group_scores(const unsigned char* rows, const float* kscale,
                                                  int n_items, const u32* q8, const float* qs,
                                                  Out out) {
  static_assert(kDI % 32 == 0 && kDI <= 128, "1, 2 or 4 u32 words per lane and token");
  constexpr int WPL = kDI / 32, ROWB = kDI / 2;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int grp = lane >> 2, t4 = lane & 3;
  u32 bq[WPL][2];  // B: head grp's even / odd int8 words of words t4*WPL + j
#pragma unroll
  for (int j = 0; j < WPL; ++j) {
    bq[j][0] = q8[(grp * (kDI / 8) + t4 * WPL + j) * 2];
    bq[j][1] = q8[(grp * (kDI / 8) + t4 * WPL + j) * 2 + 1];
  }
  const float qs0 = qs[2 * t4], qs1 = qs[2 * t4 + 1];
  const int ntiles = cdiv(n_items, 16);
#pragma unroll 1
  for (int t0 = warp; t0 < ntiles; t0 += kWarps * kTU) {
    u32 w[kTU][2][WPL];
    float sc[kTU][2];
#pragma unroll
    for (int u = 0; u < kTU; ++u) {
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const int i = (t0 + kWarps * u) * 16 + grp + 8 * r;
        const bool ok = t0 + kWarps * u < ntiles && i < n_items;
        const u32* src = reinterpret_cast<const u32*>(rows + (long long)i * ROWB) + t4 * WPL;
        if constexpr (WPL == 4) {
          const uint4 v = ok ? __ldg(reinterpret_cast<const uint4*>(src)) : make_uint4(0, 0, 0, 0);
          w[u][r][0] = v.x, w[u][r][1] = v.y, w[u][r][2] = v.z, w[u][r][3] = v.w;
        } else if constexpr (WPL == 2) {
          const uint2 v = ok ? __ldg(reinterpret_cast<const uint2*>(src)) : make_uint2(0, 0);
          w[u][r][0] = v.x, w[u][r][1] = v.y;
        } else {
          w[u][r][0] = ok ? __ldg(src) : 0u;
        }
        sc[u][r] = ok ? __ldg(kscale + i) : 0.f;
      }
    }
#pragma unroll
    for (int u = 0; u < kTU; ++u) {
      int acc[4] = {0, 0, 0, 0};
#pragma unroll
      for (int j = 0; j < WPL; ++j) {
        const int a0 = (int)((w[u][0][j] << 4) & 0xf0f0f0f0u), a2 = (int)(w[u][0][j] & 0xf0f0f0f0u);
        const int a1 = (int)((w[u][1][j] << 4) & 0xf0f0f0f0u), a3 = (int)(w[u][1][j] & 0xf0f0f0f0u);
        asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
            "{%8,%9}, {%0,%1,%2,%3};"
            : "+r"(acc[0]), "+r"(acc[1]), "+r"(acc[2]), "+r"(acc[3])
            : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(bq[j][0]), "r"(bq[j][1]));
      }
      // acc: tokens grp (0, 1) and grp+8 (2, 3) against heads 2*t4 and 2*t4+1.
      float s0 = qs0 * (float)max(acc[0], 0) + qs1 * (float)max(acc[1], 0);
      float s1 = qs0 * (float)max(acc[2], 0) + qs1 * (float)max(acc[3], 0);
      s0 += __shfl_xor_sync(0xffffffffu, s0, 1);
      s1 += __shfl_xor_sync(0xffffffffu, s1, 1);
      s0 += __shfl_xor_sync(0xffffffffu, s0, 2);
      s1 += __shfl_xor_sync(0xffffffffu, s1, 2);
      const int i = (t0 + kWarps * u) * 16 + grp + 8 * t4;
      if (t4 < 2 && t0 + kWarps * u < ntiles && i < n_items)
        out(i, (t4 == 0 ? s0 : s1) * sc[u][t4]);
    }
  }
}

// The scoring loop of a score block of 256 threads over its chunk's n_items index rows
// (kRowBytes per token, a multiple of 16, at rows) and one float per token (side_of(i): a scale
// or a norm): each thread loads kU rows and their side values together, all in flight, then
// scores them; score(i, row, side) returns token i's u16 key, stored in s_keys[i] (shared: no
// global store sits between the loads).
template <int kRowBytes, int kU, class SideFn, class ScoreFn>
__device__ __forceinline__ void score_index_rows(const unsigned char* rows, int n_items,
                                                 SideFn side_of, ScoreFn score, u16* s_keys) {
  static_assert(kRowBytes % 16 == 0, "rows are read 16 bytes at a time");
#pragma unroll 1
  for (int r0 = 0; r0 < n_items; r0 += 256 * kU) {
    uint4 row[kU][kRowBytes / 16];
    float side[kU];
#pragma unroll
    for (int u = 0; u < kU; ++u) {
      const int i = r0 + u * 256 + threadIdx.x;
      if (i < n_items) {
#pragma unroll
        for (int w = 0; w < kRowBytes / 16; ++w)
          row[u][w] = ld_stream(rows + (long long)i * kRowBytes + w * 16);
        side[u] = side_of(i);
      }
    }
#pragma unroll
    for (int u = 0; u < kU; ++u) {
      const int i = r0 + u * 256 + threadIdx.x;
      if (i < n_items) s_keys[i] = score(i, row[u], side[u]);
    }
  }
}

namespace detail {
// The chunk's n keys from s_keys (shared) to keys (global), the counted ones (below kKeySkip)
// into s_hist (zeroed u32 bins), between two block barriers. All threads must call.
__device__ __forceinline__ void copy_and_count_keys(const u16* s_keys, int n, u16* keys,
                                                    u32* s_hist) {
  __syncthreads();
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const u16 key = s_keys[i];
    if (key < kKeySkip) atomicAdd(&s_hist[key], 1u);
    keys[i] = key;
  }
  __syncthreads();
}
}  // namespace detail

// Block of a score kernel, after its chunk's n keys are in s_keys (shared): counts the counted
// keys (below kKeySkip) into s_hist (nb zeroed u32 bins), copies the keys to keys (global) and
// stores the histogram as chunk c of hist_list ([nch][nb] u16, hist_store), for a threshold
// kernel (threshold_block). All threads must call.
__device__ __forceinline__ void store_chunk_keys(const u16* s_keys, int n, u16* keys, u32* s_hist,
                                                 int nb, u16* hist_list, int c) {
  detail::copy_and_count_keys(s_keys, n, keys, s_hist);
  hist_store(s_hist, nb, hist_list, c);
}

// Block of a score kernel, after its chunk's n keys are in s_keys (shared): copies the keys to
// keys (global), counts the counted ones (below kKeySkip) into s_hist (nb zeroed u32 bins) and
// writes *sel = {threshold bin, tie quota} of the chunk's own top k (a per-chunk top-k: the
// attend's compact_chunk takes exactly k plus the forced keys). No histogram leaves the block.
// scratch: >= 36 ints of shared memory. All threads must call.
__device__ __forceinline__ void store_chunk_keys_topk(const u16* s_keys, int n, u16* keys,
                                                      u32* s_hist, int nb, int k, int2* sel,
                                                      int* scratch) {
  detail::copy_and_count_keys(s_keys, n, keys, s_hist);
  int above;
  const int t = kth_bin_from_top(s_hist, nb, k, &above, scratch);
  if (threadIdx.x == 0) *sel = make_int2(t, max(0, k - above));
}

// Decode block of a grid (Hkv, B): the threshold and per-chunk tie quotas that select the k
// largest keys of list (b, hkv) from its chunk histograms (select_threshold; hist: [B][Hkv][nch]
// [nb] u16, sel: [B][Hkv][nch]). nb <= kMaxBins. The score kernel's last block could do this
// instead (it did in hash_topk until its per-chunk top-k): with nb = 1024 (log_key bins) and
// 64-128 chunks one block reading them took longer than the kernel boundary it saved
// (socket_soft, vattention on an H100: docs/decisions.md, "The threshold in the score kernel's
// last block"). A per-chunk top-k needs neither (compact_chunk_topk, or kth_bin_from_top on the
// score block's own histogram), and every seed selects per chunk now ("Per-chunk top-k in the
// score blocks"); this stays for a kernel that wants the papers' global top-k.
__device__ __forceinline__ void threshold_block(const Args& a, const u16* hist, int nch, int nb,
                                                int k, int2* sel) {
  __shared__ u32 s_total[kMaxBins];
  __shared__ int scratch[40];
  const long long bh = (long long)blockIdx.y * a.Hkv + blockIdx.x;
  select_threshold(hist + bh * nch * nb, nch, nb, max(k, 1), sel + bh * nch, s_total, scratch);
}

}  // namespace kevo
