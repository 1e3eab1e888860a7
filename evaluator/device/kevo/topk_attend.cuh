// The attend step of the top-k seeds (part of kevo/attention.cuh; include that header): one
// block attends the tokens a chunk of the cache selected for a KV head's query group, on tensor
// cores (kevo/tile_attend.cuh), adds the residual estimate of what the selection left out
// (kevo/residual.cuh), and the block's result becomes one split of the partials
// (kevo/splits.cuh), which the last block of the group merges.
#pragma once

namespace kevo {

// Query heads h0 .. h0+ng-1 (ng <= 8), all reading KV head hkv of batch b.
struct HeadGroup {
  int b, hkv, h0, ng;
};

// The group slice gs of kGT heads of KV head hkv of batch b (G = Hq / Hkv heads in all).
template <int kGT>
__device__ __forceinline__ HeadGroup head_group(const Args& a, int b, int hkv, int gs) {
  const int G = a.Hq / a.Hkv;
  return {b, hkv, hkv * G + gs * kGT, min(kGT, G - gs * kGT)};
}

// What a block attends of one chunk of the cache: the selected tokens, and the uniform draws
// among the tokens left out that estimate them (kevo/residual.cuh).
// Rows: where the selected positions are, read as list[i] and advanced as list + k: a pointer
// to u16 in shared memory (chunks hold at most 65536 tokens; 2 bytes a token of static shared
// memory less than int, which decides how many attend blocks fit an SM), or a view that computes
// them (quest_pages' pages expanded to their tokens).
template <class Rows>
struct ChunkSelOf {
  int base;   // the chunk's first token; list and samp hold positions relative to it
  Rows list;  // selected positions, n of them
  int n;
  const int* samp;  // residual draws among the unselected positions (shared), n_samp
  int n_samp;
  int n_rest;         // unselected tokens of the chunk (0: no residual)
  const float* vsum;  // the chunk's V sum (D floats), for the residual's value (read as
                      // attend_chunk starts, so global memory is fine)
  int parts;          // blocks sharing the chunk's list (each attends its own list): the
                      // residual is split evenly between them; 1 when one block takes it all
};
using ChunkSel = ChunkSelOf<const u16*>;

// Parts per chunk for short caches: up to 8, so that at least ~32 blocks per KV head exist (plan
// expressions must use the same formula: max(1, min(8, 32 / cdiv(N, CH)))).
__device__ __forceinline__ int attend_parts(int nch) {
  return max(1, min(8, 32 / nch));
}

// Dynamic shared memory attend_chunk needs: one tile buffer per warp and stage.
__host__ __device__ constexpr int attend_chunk_smem(int warps, int stages) {
  return warps * stages * (int)sizeof(TileBuf);
}

// attend_chunk's default logits hook: leaves a tile's logits as they are.
struct KeepLogits {
  template <class Rows>
  __device__ __forceinline__ void operator()(Rows, int, float (&)[2][4]) const {}
};

// Attention of hg's heads over cs's selected tokens plus its residual pseudo-token, by one
// block of kWarps warps: each warp attends every kWarps-th 16-token tile (list tiles, then draw
// tiles whose V rows are not read) with kStages tiles in flight, the warps' states meet in
// shared memory, and out(g, d, num, m, den) receives head g's (< hg.ng) unnormalised numerator
// for dim d with the base-2 max and denominator (one call per (g, d), any thread). The residual:
// each draw enters the softmax with weight 2^(logit) * n_rest / n_samp, and the draws' total
// weight r multiplies the mean rest value (vsum - selected V sum) / n_rest (SparQ's mean value
// reallocation with a sampled weight). bufs: attend_chunk_smem(kWarps, kStages) bytes of shared
// memory, free on entry, clobbered. D = 128. All threads must call.
// adjust(rows, valid, x) may change a list tile's base-2 logits before its softmax: rows are the
// tile's chunk-relative positions (rows[i] for i < valid), x as TileAttention::logits() gives
// them (x[nt][i], i < 2: token nt*8 + 2c + i of head g = lane / 4; -inf drops a token for that
// head). Draw tiles are not adjusted. The default (KeepLogits) leaves the logits as they are.
template <int kWarps, int kStages, class Out, class Adjust = KeepLogits, class Rows = const u16*>
__device__ __forceinline__ void attend_chunk(const Args& a, const HeadGroup& hg,
                                             const ChunkSelOf<Rows>& cs, TileBuf* bufs, Out out,
                                             Adjust adjust = {}) {
  const int warp = threadIdx.x >> 5;
  const __nv_bfloat16* kb = a.k + kv_offset(a, hg.b, hg.hkv, cs.base);
  const __nv_bfloat16* vb = a.v + kv_offset(a, hg.b, hg.hkv, cs.base);
  const int n_samp = cs.n_rest > 0 ? cs.n_samp : 0;
  const int tl = cdiv(cs.n, kTileRows), tt = tl + cdiv(n_samp, kTileRows);
  const float sl = a.scale * kLog2e;
  const float shift = n_samp > 0 ? log2f((float)cs.n_rest / ((float)n_samp * cs.parts)) : 0.f;
  // The V sum dim this thread combines at the end (d = threadIdx.x % kTileD in blocks of a
  // multiple of kTileD threads), read now: a global read there is a last round trip per block
  // (hash_topk's attend: 57.7 -> 56.4 us at B1-N128K, 107.3 -> 102.9 at B8-N32K, H100).
  const bool vsum_early = blockDim.x % kTileD == 0;
  const float vsum_mine = n_samp > 0 && vsum_early ? cs.vsum[threadIdx.x % kTileD] : 0.f;
  TileBuf* wb = bufs + warp * kStages;
  TileAttention<false, true> at;
  at.init(a.q + q_offset(a, hg.b, hg.h0), hg.ng);
  const int n_mine = warp < tt ? (tt - warp + kWarps - 1) / kWarps : 0;
  auto valid_of = [&](int t) {
    return t < tl ? min(kTileRows, cs.n - t * kTileRows)
                  : min(kTileRows, n_samp - (t - tl) * kTileRows);
  };
  tile_pipeline<kStages>(
      wb, n_mine,
      [&](int k, TileBuf& buf) {  // list tiles, then draw tiles (K only)
        const int t = warp + k * kWarps;
        if (t < tl) {
          const Rows rows = cs.list + t * kTileRows;
          issue_tile(buf, kb, vb, valid_of(t), [&](int i) { return rows[i]; });
        } else {
          const int* rows = cs.samp + (t - tl) * kTileRows;
          issue_tile(
              buf, kb, vb, valid_of(t), [&](int i) { return rows[i]; }, false);
        }
      },
      [&](int k, const TileBuf& buf) {
        const int t = warp + k * kWarps;
        if (t < tl) {
          const int valid = valid_of(t);
          float x[2][4];
          at.logits(buf, valid, sl, x);
          adjust(cs.list + t * kTileRows, valid, x);
          at.softmax(x);
          at.accumulate(buf, x, valid);
        } else {
          at.add_weights(buf, valid_of(t), sl, shift);
        }
      });
  at.finish();

  // The warps meet in shared memory, each in its own (now idle) first buffer.
  static_assert(9 * kTileRowFloats * 4 <= (int)sizeof(TileBuf), "a warp's state fits its buffer");
  at.store_state(reinterpret_cast<float*>(wb), hg.ng);
  __syncthreads();
  constexpr int WS = kStages * (int)(sizeof(TileBuf) / sizeof(float));  // floats per warp
  const float* all = reinterpret_cast<const float*>(bufs);
  const float inv_rest = n_samp > 0 ? 1.f / (float)cs.n_rest : 0.f;
  for (int e = threadIdx.x; e < hg.ng * kTileD; e += blockDim.x) {
    const int g = e / kTileD, d = e % kTileD;
    float sel_v = 0.f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) sel_v += all[w * WS + 8 * kTileRowFloats + d];
    const TileRow t = combine_warps<kWarps>(all, WS, g, d);
    const float vsum_d = vsum_early ? vsum_mine : (n_samp > 0 ? cs.vsum[d] : 0.f);
    const float est = n_samp > 0 ? t.r * (vsum_d - (float)cs.parts * sel_v) * inv_rest : 0.f;
    out(g, d, t.num + est, t.m, t.den);
  }
  __syncthreads();  // bufs are free again
}

// Attention of hg's heads over n listed K/V rows, by one block of kWarps warps on tensor cores
// with kStages tiles in flight a warp, no residual (the sampled parts of vattention): row_of(i)
// is list entry i's token position in the (b, hkv) cache, adjust(i0, valid, x) may change the
// base-2 logits of the tile of entries i0 .. i0 + valid - 1 before its softmax (x as in
// attend_chunk's hook), and out(g, d, num, m, den) receives head g's result as attend_chunk's
// does. bufs: attend_chunk_smem(kWarps, kStages) bytes of shared memory, free on entry,
// clobbered. D = 128. All threads must call.
template <int kWarps, int kStages, class RowOf, class Adjust, class Out>
__device__ __forceinline__ void attend_rows(const Args& a, const HeadGroup& hg, int n, RowOf row_of,
                                            TileBuf* bufs, Adjust adjust, Out out) {
  const int warp = threadIdx.x >> 5;
  const __nv_bfloat16* kb = a.k + kv_offset(a, hg.b, hg.hkv, 0);
  const __nv_bfloat16* vb = a.v + kv_offset(a, hg.b, hg.hkv, 0);
  const int tiles = cdiv(n, kTileRows);
  const float sl = a.scale * kLog2e;
  TileBuf* wb = bufs + warp * kStages;
  TileAttention<false> at;
  at.init(a.q + q_offset(a, hg.b, hg.h0), hg.ng);
  const int n_mine = warp < tiles ? (tiles - warp + kWarps - 1) / kWarps : 0;
  tile_pipeline<kStages>(
      wb, n_mine,
      [&](int k, TileBuf& buf) {
        const int i0 = (warp + k * kWarps) * kTileRows;
        issue_tile(buf, kb, vb, min(kTileRows, n - i0), [&](int i) { return row_of(i0 + i); });
      },
      [&](int k, const TileBuf& buf) {
        const int i0 = (warp + k * kWarps) * kTileRows, valid = min(kTileRows, n - i0);
        float x[2][4];
        at.logits(buf, valid, sl, x);
        adjust(i0, valid, x);
        at.softmax(x);
        at.accumulate(buf, x, valid);
      });
  at.finish();
  at.store_state(reinterpret_cast<float*>(wb), hg.ng);  // each warp in its idle first buffer
  __syncthreads();
  constexpr int WS = kStages * (int)(sizeof(TileBuf) / sizeof(float));  // floats per warp
  const float* all = reinterpret_cast<const float*>(bufs);
  for (int e = threadIdx.x; e < hg.ng * kTileD; e += blockDim.x) {
    const int g = e / kTileD, d = e % kTileD;
    const TileRow t = combine_warps<kWarps>(all, WS, g, d);
    out(g, d, t.num, t.m, t.den);
  }
  __syncthreads();  // bufs are free again
}

// Where a top-k attend block stands in a grid (nch * parts, Hkv * cdiv(G, kGT), B): its heads, its
// chunk, and which part of the chunk's list it attends.
struct TopkBlock {
  HeadGroup hg;
  int group;          // (b * Hkv + hkv) * cdiv(G, kGT) + gs: the index of hg
  int chunk, nch;     // the chunk and the number of chunks per KV head
  int part, parts;    // this block's part of the chunk's list (attend_parts(nch) parts)
  int base, n_items;  // the chunk's first token and its number of tokens
};

// The TopkBlock of this block for chunks of ch tokens and slices of kGT query heads; parts > 1
// only with split_parts (grid.x = nch * attend_parts(nch)).
template <int kGT>
__device__ __forceinline__ TopkBlock topk_block(const Args& a, int ch, bool split_parts) {
  TopkBlock t;
  t.nch = cdiv(a.N, ch);
  t.parts = split_parts ? attend_parts(t.nch) : 1;
  t.chunk = blockIdx.x / t.parts;
  t.part = blockIdx.x % t.parts;
  const int ngs = cdiv(a.Hq / a.Hkv, kGT), hkv = blockIdx.y / ngs, gs = blockIdx.y % ngs;
  t.hg = head_group<kGT>(a, blockIdx.z, hkv, gs);
  t.group = (blockIdx.z * a.Hkv + hkv) * ngs + gs;
  t.base = t.chunk * ch;
  t.n_items = min(ch, a.N - t.base);
  return t;
}

// Shared memory a top-k attend block lends attend_topk: the chunk's bitmap (>= cdiv(n_items,
// 32) words), the residual draws (>= kRsamp ints), scan scratch (>= 40 ints) and the tile
// buffers (attend_chunk_smem(kWarps, kStages) bytes).
struct TopkScratch {
  u32* bits;
  int* samp;
  int* scratch;
  TileBuf* bufs;
};

// Where the blocks' results go: split (chunk * parts + part) of each head in p (p.nsplit =
// nch * parts), and one arrival flag per split and group at flags[group * p.nsplit + split].
// Optionally (run > 0, where p.nsplit > 2 * run) the merge takes two levels: the last block of
// each run of `run` consecutive splits merges them into split (split / run) of p1 (p1.nsplit =
// cdiv(p.nsplit, run), flags1 one per run and group) and the last of those merges p1 into o.
// One block merging all of 128 splits waits 8 dependent rounds of loads (merge_splits<16> at
// 128 threads for 4 heads); in two levels it waits one round, an arrival and one round.
struct SplitsOut {
  Partials p;
  u64* flags;
  int run = 0;
  Partials p1;
  u64* flags1 = nullptr;
};

// One split of a group's attention: cs attended with its residual (attend_chunk), stored as
// split `split` of out, and the merge into o by the group's last block to finish. group: the
// index of hg (TopkBlock::group). All threads must call.
template <int kWarps, int kStages, class Rows, class Adjust = KeepLogits>
__device__ __forceinline__ void attend_split(const Args& a, const HeadGroup& hg, int group,
                                             int split, const ChunkSelOf<Rows>& cs, TileBuf* bufs,
                                             const SplitsOut& out, Adjust adjust = {}) {
  attend_chunk<kWarps, kStages>(
      a, hg, cs, bufs,
      [&](int g, int d, float o, float m, float den) {
        out.p.store(a, hg.b, hg.h0 + g, split, d, o, m, den);
      },
      adjust);
  const int nsplit = out.p.nsplit;
  auto merge_into_o = [&](const Partials& p) {
    merge_splits<16>(
        hg.ng, a.D, [&](int r) { return span_of(p, a, hg.b, hg.h0 + r); },
        [&](int r, int d0, const float(&o)[4], float) { store_output4(a, hg.b, hg.h0 + r, d0, o); },
        reinterpret_cast<float*>(bufs));
  };
  if (out.run <= 0 || nsplit <= 2 * out.run) {  // one level
    if (arrive_last(a, out.flags + (long long)group * nsplit, split, nsplit)) merge_into_o(out.p);
    return;
  }
  const int run = split / out.run, r0 = run * out.run, rn = min(out.run, nsplit - r0);
  if (!arrive_last(a, out.flags + (long long)group * nsplit + r0, split - r0, rn)) return;
  merge_splits<16>(
      hg.ng, a.D,
      [&](int r) {
        SplitSpan sp = span_of(out.p, a, hg.b, hg.h0 + r);
        sp.o += (long long)r0 * sp.o_step;
        sp.lse += (long long)r0 * sp.lse_step;
        sp.n = rn;
        return sp;
      },
      [&](int r, int d0, const float(&o)[4], float lse) {
        const long long row = out.p1.row(a, hg.b, hg.h0 + r, run);
        *reinterpret_cast<float4*>(out.p1.o + row * a.D + d0) = make_float4(o[0], o[1], o[2], o[3]);
        if (d0 == 0) out.p1.lse[row] = lse;
      },
      reinterpret_cast<float*>(bufs));
  const int nrun = out.p1.nsplit;
  if (arrive_last(a, out.flags1 + (long long)group * nrun, run, nrun)) merge_into_o(out.p1);
}

// Everything of a top-k attend block after its selection: the residual draws among the chunk's
// unselected tokens (kRsamp of them, kevo/residual.cuh; bits_ready: sm.bits already marks the
// list), this part's share of list[0..n) (chunk-relative positions) attended with the residual
// (attend_chunk), the block's split, and the merge into o by the group's last block to finish.
// chunk_vsum: the chunk's V sum (D floats; unread when kRsamp = 0). adjust: attend_chunk's
// logits hook. All threads must call.
template <int kWarps, int kStages, int kRsamp, class Adjust = KeepLogits>
__device__ __forceinline__ void attend_topk(const Args& a, const TopkBlock& tb, const u16* list,
                                            int n, bool bits_ready, const float* chunk_vsum,
                                            const TopkScratch& sm, const SplitsOut& out,
                                            Adjust adjust = {}) {
  int n_drawn = 0;
  if (kRsamp > 0 && n < tb.n_items) {  // block-uniform
    if (!bits_ready) mark_list(list, n, sm.bits, cdiv(tb.n_items, 32));
    const long long bh = (long long)tb.hg.b * a.Hkv + tb.hg.hkv;
    n_drawn = draw_rest(tb.n_items, kRsamp, a.seed, (u64)bh, (u64)tb.chunk, sm.bits, 0, sm.samp,
                        sm.scratch);
  }
  const int lo = (int)((long long)n * tb.part / tb.parts);
  const int hi = (int)((long long)n * (tb.part + 1) / tb.parts);
  const ChunkSel cs{tb.base, list + lo,      hi - lo,    sm.samp,
                    n_drawn, tb.n_items - n, chunk_vsum, tb.parts};
  const int split = tb.chunk * tb.parts + tb.part;
  attend_split<kWarps, kStages>(a, tb.hg, tb.group, split, cs, sm.bufs, out, adjust);
}

// The attend block of a top-k seed whose score kernel wrote one u16 key per token (kKeyForced,
// kKeySkip or a bin, kevo/select.cuh) and whose threshold kernel wrote each chunk's (threshold
// bin, tie quota): compacts the chunk's selection from keys (the chunk's keys) and *sel, then
// attend_topk. kCh: tokens per chunk. Dynamic shared memory: attend_chunk_smem(kWarps, kStages).
// The chunk's keys are staged in the tile buffers, idle until the attention starts: 2*kCh bytes
// of static shared memory less per block (at kCh = 2048 with 64 KiB of tiles, three blocks fit
// an SM instead of two).
template <int kCh, int kWarps, int kStages, int kRsamp>
__device__ __forceinline__ void attend_keyed(const Args& a, const TopkBlock& tb, const u16* keys,
                                             const int2* sel, const float* chunk_vsum,
                                             const SplitsOut& out) {
  __shared__ u16 s_list[kCh];
  __shared__ u32 s_bits[kCh / 32];
  __shared__ int s_samp[kRsamp > 0 ? kRsamp : 1];
  __shared__ int s_scratch[40];
  // 128-byte aligned (ptxas pads the static arrays before it): hash_topk's attend 57.1 -> 56.4
  // us at B1-N128K, 104.5 -> 102.0 at B8-N32K against 16 (H100).
  extern __shared__ __align__(128) unsigned char kevo_tiles[];
  static_assert(kCh * 2 <= kWarps * kStages * (int)sizeof(TileBuf), "the keys fit the tiles");
  __shared__ float s_vsum[kTileD];
  u16* s_keys = reinterpret_cast<u16*>(kevo_tiles);  // dead once compact_chunk has synced
  // *sel and the V sum are loaded with the keys, not a round trip after them or the tiles.
  const int2 chunk_sel = *sel;
  for (int d = threadIdx.x; d < kTileD; d += blockDim.x) s_vsum[d] = chunk_vsum[d];
  load_keys(keys, tb.n_items, s_keys);
  const int n = compact_chunk(
      tb.n_items, [&](int i) { return s_keys[i]; }, chunk_sel, s_list, s_scratch);
  attend_topk<kWarps, kStages, kRsamp>(
      a, tb, s_list, n, false, s_vsum,
      {s_bits, s_samp, s_scratch, reinterpret_cast<TileBuf*>(kevo_tiles)}, out);
}

// The whole attend kernel of a keyed top-k seed over chunks of kCh tokens and slices of kGT query
// heads, 4 warps a block. Layout: the seed's, constructed as Layout(a, kCh), with keys
// ([B][Hkv][N] u16), sel ([B][Hkv][nch] int2), vsum ([B][Hkv][nch][D] floats) and out
// (SplitsOut). Launched `pdl`: the block finds its place, then lets the next kernel start and
// waits for the score's data.
template <class Layout, int kGT, int kCh, int kStages, int kRsamp>
__device__ __forceinline__ void attend_keyed_kernel(const Args& a) {
  const TopkBlock tb = topk_block<kGT>(a, kCh, true);
  const long long bh = (long long)tb.hg.b * a.Hkv + tb.hg.hkv;
  const Layout L(a, kCh);
  launch_dependents();
  wait_prior_kernels();
  attend_keyed<kCh, 4, kStages, kRsamp>(a, tb, L.keys + bh * a.N + tb.base,
                                        L.sel + bh * tb.nch + tb.chunk,
                                        L.vsum + (bh * tb.nch + tb.chunk) * a.D, L.out);
}

}  // namespace kevo
