// The workload generator's math, shared by the GPU generator kernels (internal.cu, compiled by
// NVRTC from memory) and the host generator (generator_host.cc, for tests and statistics). One
// definition, so a host-side test of the data's statistics speaks for what the GPU produces.
//
// Every value is a pure function of (seed, position): a counter-based RNG (splitmix64 finaliser
// of seed, stream and index), so any element can be produced alone, in any order, in parallel.
// Host and device results can differ by an ulp (logf, sincosf), i.e. rarely one bf16 ulp.
//
// The model (docs/design.md, Workloads; research/sparse-attention.md s.4), per KV head h of batch
// row b:
//   background key  k_n = R(n) (mu_h + s_h * z_n)          mean offset, outlier channels, RoPE
//   planted key     + R(N) A_n,  A_n along the head's query direction: attention sinks (n <
//                   sinks, small background, near-zero value), needles ("heavy hitters", a hash
//                   picks about heavy_fraction of the tokens) and recency (last ~window tokens)
//   query           q = R(N) y,  y = |y| unit(qdir_h + 0.6 u_hq + query_noise w_call)
// R(p) is the rotate-half RoPE rotation at position p, so q.k = y . R(n - N) x for background
// tokens and y . A for the planted part. Heads are spread on a peaked..flat axis r in [0, 1):
// the background logit spread tau (temp_max..temp_min) and the mass planted on needles and
// sinks (high..low) follow r, so some heads are retrieval-like and some nearly uniform.
#pragma once

// NVRTC (the evaluator), nvcc (exported packages' self-checks) and plain C++ (host tests).
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define KEVO_GEN_FN __host__ __device__ inline
#else
#define KEVO_GEN_FN inline
#endif
#if !defined(__CUDACC_RTC__)
#include <math.h>
#include <string.h>
#endif

namespace kevo_gen {

typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned short u16;

// Plain data, passed by value to kernels: the host and NVRTC layouts are the same (checked by a
// static_assert on the host side).
struct GenParams {
  u64 seed;
  int B, Hq, Hkv, N, D;
  int sinks;             // attention-sink tokens at the start of the cache
  int outlier_channels;  // key channels (per KV head) scaled by outlier_scale
  float key_mean;        // |mean key| relative to the per-token noise norm
  float outlier_scale;
  float rope_base;
  float qk_align;        // share of the key-mean direction in the query direction
  float temp_min, temp_max;              // background logit standard deviation, flat..peaked
  float heavy_fraction;                  // expected share of tokens planted as needles
  float heavy_mass_min, heavy_mass_max;  // attention mass on needles, flat..peaked heads
  float sink_mass_min, sink_mass_max;    // attention mass on sinks, flat..peaked heads
  float recent_logit, recent_window;     // logit boost of the newest token, e-folding length
  float value_mean;                      // |mean value| relative to the per-token noise
  float value_outlier_frac;              // share of tokens whose value is 3x larger
  float query_noise;                     // weight of the fresh per-call query component
};

enum Stream : u64 {
  kMu = 1, kQdir, kOutlier, kHeadR, kKey, kNeedle, kNeedleDir, kNeedleJitter, kQHead, kQCall,
  kValMean, kValue, kValOutlier, kJitter, kPerturb,
};

KEVO_GEN_FN u64 mix64(u64 z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
KEVO_GEN_FN u64 hash3(u64 seed, u64 stream, u64 i) {
  return mix64(mix64(seed ^ (stream * 0xD1B54A32D192ED03ull)) + i);
}
KEVO_GEN_FN float uniform01(u64 h) { return (float)(h >> 40) * (1.0f / 16777216.0f); }
KEVO_GEN_FN float uniform(u64 seed, u64 stream, u64 i) { return uniform01(hash3(seed, stream, i)); }

// Two independent standard normals from one hash (Box-Muller).
KEVO_GEN_FN void normal2(u64 h, float& z0, float& z1) {
  float u1 = ((float)(h >> 40) + 0.5f) * (1.0f / 16777216.0f);
  float u2 = (float)((h >> 8) & 0xFFFFFFull) * (1.0f / 16777216.0f);
  float r = sqrtf(-2.0f * logf(u1));
  float a = 6.28318530718f * u2;
  z0 = r * cosf(a);
  z1 = r * sinf(a);
}

// float -> bf16 bits, round to nearest even (what __float2bfloat16_rn does).
KEVO_GEN_FN u16 f32_to_bf16(float f) {
#if defined(__CUDA_ARCH__)
  u32 x = __float_as_uint(f);
#else
  u32 x;
  memcpy(&x, &f, 4);
#endif
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return (u16)0x7FC0;  // NaN stays a quiet NaN
  x += 0x7FFFu + ((x >> 16) & 1u);
  return (u16)(x >> 16);
}
KEVO_GEN_FN float bf16_to_f32(u16 h) {
  u32 x = (u32)h << 16;
#if defined(__CUDA_ARCH__)
  return __uint_as_float(x);
#else
  float f;
  memcpy(&f, &x, 4);
  return f;
#endif
}

// ---- per-head properties -------------------------------------------------------------------

// Position of KV head h on the peaked (0) .. flat (1) axis: a golden-ratio sequence, so any
// number of heads covers the range evenly.
KEVO_GEN_FN float head_r(const GenParams& p, int h) {
  float x = uniform(p.seed, kHeadR, 0) + 0.61803398875f * (float)h;
  return x - floorf(x);
}
KEVO_GEN_FN float lerpf(float a, float b, float t) { return a + (b - a) * t; }
// Background logit standard deviation of KV head h (log-interpolated).
KEVO_GEN_FN float head_tau(const GenParams& p, int h) {
  return p.temp_max * powf(p.temp_min / p.temp_max, head_r(p, h));
}
// Query heads of one group differ a little (x0.8 .. x1.2).
KEVO_GEN_FN float qhead_tau(const GenParams& p, int hq) {
  int G = p.Hq / p.Hkv;
  return head_tau(p, hq / G) * (0.8f + 0.4f * uniform(p.seed, kJitter, (u64)hq));
}
KEVO_GEN_FN float channel_scale(const GenParams& p, int h, int d) {
  for (int j = 0; j < p.outlier_channels; ++j) {
    if ((int)(hash3(p.seed, kOutlier, (u64)h * 64 + j) % (u64)p.D) == d) return p.outlier_scale;
  }
  return 1.0f;
}
// Mean of channel_scale^2 over the channels (duplicates among outliers ignored).
KEVO_GEN_FN float mean_sq_scale(const GenParams& p) {
  return 1.0f + (float)p.outlier_channels * (p.outlier_scale * p.outlier_scale - 1.0f) / (float)p.D;
}
// Head-level vectors for the channel pair (i, i + D/2): key mean, query direction, value mean.
KEVO_GEN_FN void head_pair(const GenParams& p, int b, int h, int i, float mu[2], float qdir[2],
                           float vmean[2]) {
  u64 hi = (u64)h * (u64)(p.D / 2) + (u64)i;
  float g0, g1, q0, q1, n0, n1;
  normal2(hash3(p.seed, kMu, hi), g0, g1);
  normal2(hash3(p.seed, kQdir, ((u64)b * p.Hkv) * (u64)(p.D / 2) + hi), q0, q1);
  normal2(hash3(p.seed, kValMean, hi), n0, n1);
  mu[0] = p.key_mean * g0;
  mu[1] = p.key_mean * g1;
  // About unit length: (N(0,1) + a N(0,1)) / sqrt(D (1 + a^2)).
  float inv = 1.0f / sqrtf((float)p.D * (1.0f + p.qk_align * p.qk_align));
  qdir[0] = (q0 + p.qk_align * g0) * inv;
  qdir[1] = (q1 + p.qk_align * g1) * inv;
  vmean[0] = p.value_mean * n0;
  vmean[1] = p.value_mean * n1;
}

// Rotate-half RoPE of the pair (x0 at channel i, x1 at i + D/2) to position pos. The angle is
// reduced in double so position 131071 keeps its precision.
KEVO_GEN_FN void rope(const GenParams& p, int i, long long pos, float& x0, float& x1) {
  float theta = exp2f(-2.0f * (float)i / (float)p.D * log2f(p.rope_base));
  double ang = (double)pos * (double)theta;
  ang -= 6.283185307179586 * floor(ang * 0.15915494309189535);
  float c = cosf((float)ang), s = sinf((float)ang);
  float y0 = x0 * c - x1 * s, y1 = x1 * c + x0 * s;
  x0 = y0;
  x1 = y1;
}

// ---- planted tokens ------------------------------------------------------------------------

// The query's expected cosine with qdir (its other components have norms 0.6 and query_noise).
KEVO_GEN_FN float expected_cos(const GenParams& p) {
  return 1.0f / sqrtf(1.0f + 0.36f + p.query_noise * p.query_noise);
}
// Logit that gives `mass` of the attention to `count` planted tokens over the background
// (about N exp(tau^2 / 2) in softmax weight).
KEVO_GEN_FN float planted_logit(const GenParams& p, float tau, float mass, float count) {
  float m = fminf(fmaxf(mass, 1e-4f), 0.999f);
  return logf(m / (1.0f - m)) + logf((float)p.N / count) + 0.5f * tau * tau;
}
KEVO_GEN_FN bool is_needle(const GenParams& p, int b, int h, int n) {
  if (n < p.sinks) return false;
  u64 row = ((u64)b * p.Hkv + h) * (u64)p.N + (u64)n;
  return uniform(p.seed, kNeedle, row) < p.heavy_fraction;
}

// ---- tensors -------------------------------------------------------------------------------

// Key and value channels (i, i + D/2) of token n of KV head h, batch row b (bf16 bits).
KEVO_GEN_FN void kv_pair(const GenParams& p, int b, int h, int n, int i, u16 k_out[2],
                         u16 v_out[2]) {
  const int half = p.D / 2;
  const u64 row = ((u64)b * p.Hkv + h) * (u64)p.N + (u64)n;
  float mu[2], qd[2], vm[2];
  head_pair(p, b, h, i, mu, qd, vm);
  const bool sink = n < p.sinks;
  const bool needle = is_needle(p, b, h, n);
  float z0, z1;
  normal2(hash3(p.seed, kKey, row * (u64)half + (u64)i), z0, z1);
  float bg = sink ? 0.3f : 1.0f;  // sink keys have a small norm (Gu et al.)
  float x0 = bg * (mu[0] + channel_scale(p, h, i) * z0);
  float x1 = bg * (mu[1] + channel_scale(p, h, i + half) * z1);
  rope(p, i, n, x0, x1);

  // Planted part, in logit units divided by the expected query cosine; scaled by 1/tau so the
  // logit is what planted_logit asked for whatever the head's temperature.
  const float r = head_r(p, h), tau = head_tau(p, h);
  float a0 = 0, a1 = 0;
  float along = 0;
  if (sink) along += planted_logit(p, tau, lerpf(p.sink_mass_max, p.sink_mass_min, r), (float)p.sinks);
  if (p.recent_logit != 0 && p.recent_window > 0) {
    along += p.recent_logit * expf(-(float)(p.N - 1 - n) / p.recent_window);
  }
  a0 += along * qd[0];
  a1 += along * qd[1];
  if (needle) {
    float count = fmaxf(1.0f, p.heavy_fraction * (float)(p.N - p.sinks));
    float L = planted_logit(p, tau, lerpf(p.heavy_mass_max, p.heavy_mass_min, r), count) +
              2.0f * (uniform(p.seed, kNeedleJitter, row) - 0.5f);
    float e0, e1;
    normal2(hash3(p.seed, kNeedleDir, row * (u64)half + (u64)i), e0, e1);
    float inv = 0.7f / sqrtf((float)p.D);
    a0 += L * (qd[0] + inv * e0);
    a1 += L * (qd[1] + inv * e1);
  }
  float ascale = sqrtf(mean_sq_scale(p)) / (tau * expected_cos(p));
  a0 *= ascale;
  a1 *= ascale;
  rope(p, i, p.N, a0, a1);
  k_out[0] = f32_to_bf16(x0 + a0);
  k_out[1] = f32_to_bf16(x1 + a1);

  float w0, w1;
  normal2(hash3(p.seed, kValue, row * (u64)half + (u64)i), w0, w1);
  float vs = uniform(p.seed, kValOutlier, row) < p.value_outlier_frac ? 3.0f : 1.0f;
  if (sink) vs = 0.1f;  // sinks carry attention, not content
  float vm0 = sink ? 0.0f : vm[0], vm1 = sink ? 0.0f : vm[1];
  v_out[0] = f32_to_bf16(vm0 + vs * w0);
  v_out[1] = f32_to_bf16(vm1 + vs * w1);
}

// Raw (unnormalised, unrotated) query channels (i, i + D/2) of query head hq for call_seed.
KEVO_GEN_FN void query_raw_pair(const GenParams& p, u64 call_seed, int b, int hq, int i,
                                float y[2]) {
  const int G = p.Hq / p.Hkv, half = p.D / 2;
  float mu[2], qd[2], vm[2];
  head_pair(p, b, hq / G, i, mu, qd, vm);
  const u64 idx = ((u64)b * p.Hq + hq) * (u64)half + (u64)i;
  float u0, u1, w0, w1;
  normal2(hash3(p.seed, kQHead, idx), u0, u1);
  normal2(hash3(call_seed, kQCall, idx), w0, w1);
  float inv = 1.0f / sqrtf((float)p.D);
  y[0] = qd[0] + (0.6f * u0 + p.query_noise * w0) * inv;
  y[1] = qd[1] + (0.6f * u1 + p.query_noise * w1) * inv;
}

// Full query row of head hq (D bf16 values) for call_seed.
KEVO_GEN_FN void query_row(const GenParams& p, u64 call_seed, int b, int hq, u16* out) {
  const int half = p.D / 2;
  float norm2 = 0;
  for (int i = 0; i < half; ++i) {
    float y[2];
    query_raw_pair(p, call_seed, b, hq, i, y);
    norm2 += y[0] * y[0] + y[1] * y[1];
  }
  // |y| = tau sqrt(D / mean s^2): background logits (q.k / sqrt(D)) then have spread tau.
  float len = qhead_tau(p, hq) * sqrtf((float)p.D / mean_sq_scale(p));
  float f = len / sqrtf(fmaxf(norm2, 1e-30f));
  for (int i = 0; i < half; ++i) {
    float y[2];
    query_raw_pair(p, call_seed, b, hq, i, y);
    float y0 = y[0] * f, y1 = y[1] * f;
    rope(p, i, p.N, y0, y1);
    out[i] = f32_to_bf16(y0);
    out[i + half] = f32_to_bf16(y1);
  }
}

}  // namespace kevo_gen
