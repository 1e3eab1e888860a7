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
// quantised to int4 with one scale per token (4-bit integers rather than FP8: under the 128 B
// index cap int4 keeps twice the coordinates, the dot products run on dp4a, and on the default
// suite DI=64 selects almost like exact logits: mean error 0.016 at 1/32 of the tokens, 0.007 at
// DI=128, measured on the H100). The index heads are the KV head's G query heads (int8), rotated the
// same way, with weights w_j = 1; the sum over heads makes the selection shared by the group,
// so each selected K/V row is read once. Top k = N / TOPK_DIV tokens plus SINK first and WIN
// last tokens, and (RSAMP > 0) the residual estimate of kevo/residual.cuh for the rest: without
// it, any top-k at 1/32 of the tokens loses the mass of near-uniform heads (oracle error ~0.2).
//
// Index: DI/2 + 4 bytes per token per KV head (36 B at the default DI=64) + the key mean + V sums
// per chunk.
// Error target: mean relative error <= 0.05 on the llama3-8b suite at the defaults (measured
// figures in seeds/README.md).
#include "kevo/attention.cuh"

// kevo:param DI = 64 in {32, 64, 96, 128}
// kevo:param TOPK_DIV = 32 in {8, 16, 32, 64}
// kevo:param SINK = 64 in {0, 16, 64, 128}
// kevo:param WIN = 128 in {32, 64, 128, 256}
// kevo:param CH = 2048 in {1024, 2048, 4096}
// kevo:param RSAMP = 32 in {0, 16, 32, 64}
// kevo:param MINB = 4 in {2, 3, 4}
// kevo:index      B*Hkv*N*(DI/2+4) + B*Hkv*D*4 + B*Hkv*cdiv(N,CH)*D*4 + 1024
// kevo:workspace  B*Hkv*N*2 + B*Hkv*cdiv(N,CH)*(1024*2 + 8) + B*Hq*cdiv(N,CH)*max(1,min(8,32/cdiv(N,CH)))*(D+1)*4 + B*Hkv*cdiv(G,4)*4 + 2048
// kevo:build   key_mean    grid(Hkv, B) block(256)
// kevo:build   index_keys  grid(cdiv(N,64), Hkv, B) block(256)
// kevo:build   value_sums  grid(cdiv(N,CH), Hkv, B) block(256)
// kevo:decode  score       grid(cdiv(N,CH), Hkv, B) block(256)
// kevo:decode  threshold   grid(Hkv, B) block(1024)
// kevo:decode  attend      grid(cdiv(N,CH)*max(1,min(8,32/cdiv(N,CH))), Hkv*cdiv(G,4), B) block(128)

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
  u16* hist;        // workspace [B][Hkv][nch][NB]
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
    part.nsplit = nch * attend_parts(nch);
    part.o = ws.take<float>((long long)a.B * a.Hq * part.nsplit * a.D);
    part.lse = ws.take<float>((long long)a.B * a.Hq * part.nsplit);
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
  __shared__ __align__(16) u32 s_q8[MAXG][DI / 8][2];  // rotated int8 queries: even / odd
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
  // Index rows of U tokens per thread are loaded together, then scored; keys go through shared
  // memory so that no global store sits between the loads.
  constexpr int U = 4;
  __shared__ __align__(16) u16 s_keys[CH];
  const int n0 = c * CH, n_items = min(CH, N - n0);
  const unsigned char* kq = Ly.kq + (bh * N + n0) * ROWB;
  const float* kscale = Ly.kscale + bh * N + n0;
#pragma unroll 1
  for (int r0 = 0; r0 < n_items; r0 += 256 * U) {
    uint4 row[U][ROWB / 16];
    float sc[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int i = r0 + u * 256 + threadIdx.x;
      if (i < n_items) {
#pragma unroll
        for (int w = 0; w < ROWB / 16; ++w) row[u][w] = ld_stream(kq + (long long)i * ROWB + w * 16);
        sc[u] = kscale[i];
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int i = r0 + u * 256 + threadIdx.x, n = n0 + i;
      if (i >= n_items) continue;
      int dot[MAXG] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma unroll
      for (int w = 0; w < ROWB / 16; ++w) {
        // The two nibble planes of 4 key words (8 coordinates each), as 16 * int8 bytes.
        const u32 kw[4] = {row[u][w].x, row[u][w].y, row[u][w].z, row[u][w].w};
        int klo[4], khi[4];
#pragma unroll
        for (int j = 0; j < 4; ++j) klo[j] = (int)((kw[j] << 4) & 0xf0f0f0f0u), khi[j] = (int)(kw[j] & 0xf0f0f0f0u);
#pragma unroll
        for (int g = 0; g < MAXG; ++g) {
          if (g < G) {
            const uint4* qv = reinterpret_cast<const uint4*>(&s_q8[g][w * 4][0]);
            const uint4 q0 = qv[0], q1 = qv[1];  // {even, odd} of words 0..1, then 2..3
            dot[g] = __dp4a(klo[0], (int)q0.x, dot[g]);
            dot[g] = __dp4a(khi[0], (int)q0.y, dot[g]);
            dot[g] = __dp4a(klo[1], (int)q0.z, dot[g]);
            dot[g] = __dp4a(khi[1], (int)q0.w, dot[g]);
            dot[g] = __dp4a(klo[2], (int)q1.x, dot[g]);
            dot[g] = __dp4a(khi[2], (int)q1.y, dot[g]);
            dot[g] = __dp4a(klo[3], (int)q1.z, dot[g]);
            dot[g] = __dp4a(khi[3], (int)q1.w, dot[g]);
          }
        }
      }
      float sum = 0.f;  // I = sum_j w_j ReLU(q_j . k), w_j = 1 (the constant 16 does not matter)
#pragma unroll
      for (int g = 0; g < MAXG; ++g)
        if (g < G) sum += s_qs[g] * (float)max(dot[g], 0);
      s_keys[i] = (n < SINK || n >= N - WIN) ? kKeyForced : (u16)log_key(sum * sc[u]);
    }
  }
  __syncthreads();
  u16* keys = Ly.keys + bh * N + n0;
  for (int i = threadIdx.x; i < n_items; i += blockDim.x) {
    const u16 key = s_keys[i];
    if (key < kKeySkip) atomicAdd(&s_hist[key], 1u);
    keys[i] = key;
  }
  __syncthreads();
  hist_store(s_hist, NB, Ly.hist + bh * cdiv(N, CH) * NB, c);
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

// MINB: attend blocks resident per SM the compiler must allow (registers <= 65536 / (128 MINB)).
extern "C" __global__ void __launch_bounds__(128, MINB) attend(const Args a) {
  const int nch = cdiv(a.N, CH), parts = attend_parts(nch);
  const int c = blockIdx.x / parts, part = blockIdx.x % parts;
  const int b = blockIdx.z, ngs = cdiv(a.Hq / a.Hkv, GT);
  const int hkv = blockIdx.y / ngs, gs = blockIdx.y % ngs;
  const long long bh = (long long)b * a.Hkv + hkv;
  Layout Ly(a);
  __shared__ __align__(16) u16 s_keys[CH];
  __shared__ int s_list[CH];
  __shared__ u32 s_bits[CH / 32];
  __shared__ TopkAttendSmem<GT, RSAMP> sm;
  const int n_items = min(CH, a.N - c * CH);
  load_keys(Ly.keys + bh * a.N + (long long)c * CH, n_items, s_keys);
  const int n = compact_chunk(n_items, [&](int i) { return s_keys[i]; }, Ly.sel[bh * nch + c],
                              s_list, sm.scratch);
  PlainLogits var{a.scale * kLog2e};
  attend_selected(a, b, hkv, gs, c, part, parts, c * CH, n_items, s_list, n, s_bits,
                  Ly.vsum + (bh * nch + c) * a.D, Ly.part, Ly.counters + bh * ngs + gs, var, sm);
}
// EVOLVE-BLOCK-END
