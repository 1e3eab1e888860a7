// dsa_indexer: a DeepSeek-style lightning indexer (low-precision key projection, ReLU scores over
// index heads, top-k), then exact attention over the selected tokens.
//
// Method: DeepSeek Sparse Attention (DeepSeek-AI, "DeepSeek-V3.2-Exp: Boosting Long-Context
// Efficiency with DeepSeek Sparse Attention", 2025,
// https://github.com/deepseek-ai/DeepSeek-V3.2-Exp/blob/main/DeepSeek_V3_2.pdf). The lightning
// indexer scores token s for a query as I_s = sum_j w_j ReLU(q^I_j . k^I_s) over a few index
// heads j, in FP8, and the top-k tokens get attention.
// DSA learns its indexer projections; here they are derived without training: k^I is the
// mean-centred key after a randomised Hadamard rotation (random signs, then the orthonormal
// Walsh-Hadamard transform: the rotation DeepSeek's indexer also applies before quantising; it
// spreads outlier channels over all coordinates), truncated to its first DI coordinates and
// quantised to int4 with one scale per token (4-bit integers rather than FP8: at 128 B per token
// per KV head, int4 over all 128 coordinates ranks tokens almost like exact logits, and the dot
// products run on dp4a). The index heads are the KV head's G query heads (int8), rotated the
// same way, with weights w_j = 1; the sum over heads makes the selection shared by the group,
// so each selected K/V row is read once. Top k = N / TOPK_DIV tokens plus SINK first and WIN
// last tokens, and (RSAMP > 0) the residual estimate of kevo/residual.cuh for the rest: without
// it, any top-k at 1/32 of the tokens loses the mass of near-uniform heads (oracle error ~0.2).
//
// Index: DI/2 + 4 bytes per token per KV head (68 B at DI=128) + the key mean + V sums per chunk.
// Error target: mean relative error <= 0.05 on the llama3-8b suite at the defaults (measured
// figures in seeds/README.md).
#include "kevo/attention.cuh"

// kevo:param DI = 128 in {32, 64, 96, 128}
// kevo:param TOPK_DIV = 32 in {8, 16, 32, 64}
// kevo:param SINK = 64 in {0, 16, 64, 128}
// kevo:param WIN = 128 in {32, 64, 128, 256}
// kevo:param CH = 2048 in {1024, 2048, 4096}
// kevo:param RSAMP = 32 in {0, 16, 32, 64}
// kevo:index      B*Hkv*N*(DI/2+4) + B*Hkv*D*4 + B*Hkv*cdiv(N,CH)*D*4 + 1024
// kevo:workspace  B*Hkv*N*2 + B*Hkv*cdiv(N,CH)*(1024*2 + 8) + B*Hq*cdiv(N,CH)*(D+1)*4 + B*Hkv*cdiv(G,4)*4 + 2048
// kevo:build   key_mean    grid(Hkv, B) block(256)
// kevo:build   index_keys  grid(cdiv(N,64), Hkv, B) block(256)
// kevo:build   value_sums  grid(cdiv(N,CH), Hkv, B) block(256)
// kevo:decode  score       grid(cdiv(N,CH), Hkv, B) block(256)
// kevo:decode  threshold   grid(Hkv, B) block(1024)
// kevo:decode  attend      grid(cdiv(N,CH), Hkv*cdiv(G,4), B) block(128)

using namespace kevo;

constexpr int GT = 4, MAXD = 256, MAXG = 8, NB = kMaxBins;
constexpr u64 kRotSeed = 0x6b65766f44534121ull;
static_assert(DI % 32 == 0, "index rows (DI/2 bytes) are read 16 bytes at a time");
constexpr int ROWB = DI / 2;  // bytes per index row: two int4 coordinates per byte

struct Layout {
  unsigned char* kq;  // index [B][Hkv][N][ROWB] int4 rotated centred key, first DI coordinates
  float* kscale;      // index [B][Hkv][N]
  float* mean;        // index [B][Hkv][D]
  float* vsum;        // index [B][Hkv][nch][D] V sums per chunk (residual estimate)
  u16* keys;        // workspace [B][Hkv][N]
  u16* hist;        // workspace [B][Hkv][NB][nch] (bin-major)
  int2* sel;        // workspace [B][Hkv][nch]
  Partials part;
  int* counters;  // workspace [B][Hkv][cdiv(G, GT)]
  long long index_end, ws_end;
  __device__ explicit Layout(const Args& a) {
    const int G = a.Hq / a.Hkv, nch = cdiv(a.N, CH);
    const long long bh = (long long)a.B * a.Hkv;
    Carve ix(a.index);
    kq = ix.take<unsigned char>(bh * a.N * ROWB);
    kscale = ix.take<float>(bh * a.N);
    mean = ix.take<float>(bh * a.D);
    vsum = ix.take<float>(bh * nch * a.D);
    index_end = ix.end();
    Carve ws(a.workspace);
    keys = ws.take<u16>(bh * a.N);
    hist = ws.take<u16>(bh * nch * NB);
    sel = ws.take<int2>(bh * nch);
    part.nsplit = nch;
    part.o = ws.take<float>((long long)a.B * a.Hq * nch * a.D);
    part.lse = ws.take<float>((long long)a.B * a.Hq * nch);
    counters = ws.take<int>(bh * cdiv(G, GT));
    ws_end = ws.end();
  }
};

// ------------------------------------------------------------------------------- build phase

extern "C" __global__ void __launch_bounds__(256) key_mean(const Args a) {
  const int hkv = blockIdx.x, b = blockIdx.y;
  KEVO_CHECK(RowLanes::supported(a.D) && a.D <= MAXD && a.D % 32 == 0 && DI <= a.D);
  Layout Ly(a);
  KEVO_CHECK(Ly.index_end <= a.index_bytes);
  __shared__ float s_acc[256 * 8];
  block_row_mean(a.k + kv_offset(a, b, hkv, 0), a.N, a.D, s_acc,
                 Ly.mean + ((long long)b * a.Hkv + hkv) * a.D);
}

extern "C" __global__ void __launch_bounds__(256) index_keys(const Args a) {
  const int hkv = blockIdx.y, b = blockIdx.z, D = a.D;
  const long long bh = (long long)b * a.Hkv + hkv;
  Layout Ly(a);
  const RowLanes rl = RowLanes::of(D);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int slot = lane / rl.lpt, li = lane % rl.lpt, d0 = li * 8;
  float mu[8];
  for (int j = 0; j < 8; ++j) mu[j] = Ly.mean[bh * D + d0 + j];
  for (int r = warp * rl.slots; r < 64; r += 8 * rl.slots) {  // warp-uniform
    const int n = blockIdx.x * 64 + r + slot;
    float x[8];
    if (n < a.N) {
      bf16x8_to_float(ld_stream(a.k + kv_offset(a, b, hkv, n) + d0), x);
    } else {
      for (int j = 0; j < 8; ++j) x[j] = mu[j];
    }
    for (int j = 0; j < 8; ++j) x[j] -= mu[j];
    hadamard_rotate(x, li, rl.lpt, D, kRotSeed);
    const float scale = row_scale<7>(x, li, rl.lpt, DI / 8);
    const u32 w = pack_int4(x, scale);
    if (n < a.N) {
      if (li < DI / 8) *reinterpret_cast<u32*>(Ly.kq + (bh * a.N + n) * ROWB + li * 4) = w;
      if (li == 0) Ly.kscale[bh * a.N + n] = scale;
    }
  }
}

// V sums per chunk of CH tokens, for the residual estimate (kevo/residual.cuh).
extern "C" __global__ void __launch_bounds__(256) value_sums(const Args a) {
  const int c = blockIdx.x, hkv = blockIdx.y, b = blockIdx.z;
  Layout Ly(a);
  __shared__ float s_acc[256 * 8];
  block_row_sum(a.v + kv_offset(a, b, hkv, c * CH), min(CH, a.N - c * CH), a.D, s_acc,
                Ly.vsum + (((long long)b * a.Hkv + hkv) * cdiv(a.N, CH) + c) * a.D, false);
}

// ------------------------------------------------------------------------------ decode phase
// EVOLVE-BLOCK-START

extern "C" __global__ void __launch_bounds__(256) score(const Args a) {
  const int c = blockIdx.x, hkv = blockIdx.y, b = blockIdx.z;
  const int D = a.D, G = a.Hq / a.Hkv, N = a.N;
  const long long bh = (long long)b * a.Hkv + hkv;
  Layout Ly(a);
  KEVO_CHECK(Ly.ws_end <= a.workspace_bytes && G <= MAXG);
  KEVO_CHECK(RowLanes::supported(D) && D <= MAXD && D % 32 == 0);
  __shared__ u32 s_q8[MAXG][DI / 8][2];  // rotated int8 queries: even / odd coordinates
  __shared__ float s_qs[MAXG];            // their scales
  __shared__ u32 s_hist[NB];
  if (c == 0 && threadIdx.x < cdiv(G, GT)) Ly.counters[bh * cdiv(G, GT) + threadIdx.x] = 0;
  hist_clear(s_hist, NB);
  {  // Index queries: warp g rotates and quantises head g (row slot 0 of the warp).
    const RowLanes rl = RowLanes::of(D);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int li = lane % rl.lpt, d0 = li * 8;
    if (warp < G) {  // warp-uniform
      float x[8];
      bf16x8_to_float(ld_u4(a.q + q_offset(a, b, hkv * G + warp) + d0), x);
      hadamard_rotate(x, li, rl.lpt, D, kRotSeed);
      const float s = row_scale<127>(x, li, rl.lpt, DI / 8);
      u32 e, o;
      pack_int8_pairs(x, s, &e, &o);
      if (lane < rl.lpt && li < DI / 8) {
        s_q8[warp][li][0] = e;
        s_q8[warp][li][1] = o;
      }
      if (lane == 0) s_qs[warp] = s;
    }
  }
  __syncthreads();
  u16* keys = Ly.keys + bh * N;
  for (int n = c * CH + threadIdx.x; n < min(N, (c + 1) * CH); n += blockDim.x) {
    int key;
    if (n < SINK || n >= N - WIN) {
      key = kKeyForced;
    } else {
      const uint4* row = reinterpret_cast<const uint4*>(Ly.kq + (bh * N + n) * ROWB);
      int dot[MAXG] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma unroll
      for (int w = 0; w < ROWB / 16; ++w) {
        const uint4 u = row[w];
        const u32 kw[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
        for (int g = 0; g < MAXG; ++g) {
          if (g < G) {
#pragma unroll
            for (int j = 0; j < 4; ++j)
              dot[g] = dot_int4(kw[j], s_q8[g][w * 4 + j][0], s_q8[g][w * 4 + j][1], dot[g]);
          }
        }
      }
      float s = 0.f;  // I = sum_j w_j ReLU(q_j . k), w_j = 1 (the constant 16 does not matter)
#pragma unroll
      for (int g = 0; g < MAXG; ++g)
        if (g < G) s += s_qs[g] * (float)max(dot[g], 0);
      key = log_key(s * Ly.kscale[bh * N + n]);
      atomicAdd(&s_hist[key], 1u);
    }
    keys[n] = (u16)key;
  }
  __syncthreads();
  hist_store(s_hist, NB, Ly.hist + bh * cdiv(N, CH) * NB, c, cdiv(N, CH));
}

extern "C" __global__ void __launch_bounds__(1024) threshold(const Args a) {
  const int hkv = blockIdx.x, b = blockIdx.y, nch = cdiv(a.N, CH);
  const long long bh = (long long)b * a.Hkv + hkv;
  Layout Ly(a);
  __shared__ u32 s_total[NB];
  __shared__ int scratch[40];
  const int k = a.N / TOPK_DIV > 0 ? a.N / TOPK_DIV : 1;
  select_threshold(Ly.hist + bh * nch * NB, nch, NB, k, Ly.sel + bh * nch, s_total, scratch);
}

extern "C" __global__ void __launch_bounds__(128) attend(const Args a) {
  const int c = blockIdx.x, b = blockIdx.z, G = a.Hq / a.Hkv, ngs = cdiv(G, GT);
  const int hkv = blockIdx.y / ngs, gs = blockIdx.y % ngs;
  const int h0 = hkv * G + gs * GT, ng = min(GT, G - gs * GT), nch = cdiv(a.N, CH);
  const long long bh = (long long)b * a.Hkv + hkv;
  Layout Ly(a);
  __shared__ int s_list[CH];
  __shared__ u32 s_bits[CH / 32];
  __shared__ int s_samp[RSAMP > 0 ? RSAMP : 1];
  __shared__ float s_red[attend_smem_floats(GT, 4, MAXD)];
  __shared__ float s_m[GT], s_d[GT], s_o[GT * MAXD], s_vsum[MAXD], s_restl[GT];
  __shared__ int scratch[40];
  __shared__ int s_flag;

  // This chunk's selected tokens (chunk-local positions), and RSAMP draws among the others.
  const u16* keys = Ly.keys + bh * a.N + (long long)c * CH;
  const int n_items = min(CH, a.N - c * CH);
  const int n = compact_chunk(n_items, [&](int i) { return keys[i]; }, Ly.sel[bh * nch + c],
                              s_list, scratch);
  int n_drawn = 0;
  if (RSAMP > 0) {
    mark_list(s_list, n, s_bits, CH / 32);
    n_drawn = draw_rest(n_items, RSAMP, a.seed, bh, c, s_bits, c * CH, s_samp, scratch);
  }
  for (int i = threadIdx.x; i < n; i += blockDim.x) s_list[i] += c * CH;
  __syncthreads();

  const float sl = a.scale * kLog2e;
  PlainLogits var{sl};
  attend_list<GT, 2>(a, b, hkv, h0, ng, s_list, n, var, s_red, s_m, s_d, s_o,
                     RSAMP > 0 ? s_vsum : nullptr);
  if (RSAMP > 0) {
    rest_logsum<GT>(a, b, hkv, h0, ng, s_samp, n_drawn, sl, s_red, s_restl);
    add_residual(a, ng, s_m, s_d, s_o, s_restl, n_items - n, n_drawn,
                 Ly.vsum + (bh * nch + c) * a.D, s_vsum);
  }
  write_partials(a, Ly.part, b, h0, ng, c, s_m, s_d, s_o);
  if (arrive_last(Ly.counters + bh * ngs + gs, nch, &s_flag))
    merge_partials_to_output(a, Ly.part, b, h0, ng);
}
// EVOLVE-BLOCK-END
