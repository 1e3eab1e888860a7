// An honest dense decode in three kernels, the last two launched `pdl` (programmatic dependent
// launch): each kernel lets its dependent start at once (launch_dependents) and waits for the
// kernel before it (wait_prior_kernels) before it reads the workspace. Expected: ok and exact,
// the waits keeping the three in order although their blocks overlap.
#include "kevo/attention.cuh"

// kevo:workspace B*Hq*N*4 + B*Hq*4
// kevo:decode scores   grid(cdiv(N, 256), Hq, B) block(256)
// kevo:decode weights  grid(Hq, B) block(256) pdl
// kevo:decode combine  grid(Hq, B) block(128) pdl

// s[b][h][n] = scale * q . k_n
extern "C" __global__ void scores(const kevo::Args a) {
  kevo::launch_dependents();
  const int n = blockIdx.x * blockDim.x + threadIdx.x, hq = blockIdx.y, b = blockIdx.z;
  if (n >= a.N) return;
  const int h = hq / (a.Hq / a.Hkv);
  const __nv_bfloat16* q = a.q + kevo::q_offset(a, b, hq);
  const __nv_bfloat16* k = a.k + kevo::kv_offset(a, b, h, n);
  float d = 0.f;
  for (int i = 0; i < a.D; ++i) d += __bfloat162float(q[i]) * __bfloat162float(k[i]);
  reinterpret_cast<float*>(a.workspace)[((long long)b * a.Hq + hq) * a.N + n] = d * a.scale;
}

// s[n] <- exp(s[n] - max); sum[b][h] = the sum.
extern "C" __global__ void weights(const kevo::Args a) {
  kevo::launch_dependents();
  const int hq = blockIdx.x, b = blockIdx.y, t = threadIdx.x;
  __shared__ float red[256];
  kevo::wait_prior_kernels();
  float* s = reinterpret_cast<float*>(a.workspace) + ((long long)b * a.Hq + hq) * a.N;
  float mx = -1e30f;
  for (int n = t; n < a.N; n += blockDim.x) mx = fmaxf(mx, s[n]);
  red[t] = mx;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w /= 2) {
    if (t < w) red[t] = fmaxf(red[t], red[t + w]);
    __syncthreads();
  }
  mx = red[0];
  __syncthreads();
  float sum = 0.f;
  for (int n = t; n < a.N; n += blockDim.x) {
    s[n] = expf(s[n] - mx);
    sum += s[n];
  }
  red[t] = sum;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w /= 2) {
    if (t < w) red[t] += red[t + w];
    __syncthreads();
  }
  if (t == 0) {
    reinterpret_cast<float*>(a.workspace)[(long long)a.B * a.Hq * a.N + b * a.Hq + hq] = red[0];
  }
}

// o = sum_n s[n] v_n / sum.
extern "C" __global__ void combine(const kevo::Args a) {
  const int hq = blockIdx.x, b = blockIdx.y, h = hq / (a.Hq / a.Hkv);
  kevo::wait_prior_kernels();
  const float* s = reinterpret_cast<const float*>(a.workspace) + ((long long)b * a.Hq + hq) * a.N;
  const float sum =
      reinterpret_cast<const float*>(a.workspace)[(long long)a.B * a.Hq * a.N + b * a.Hq + hq];
  for (int d = threadIdx.x; d < a.D; d += blockDim.x) {
    float acc = 0.f;
    for (int n = 0; n < a.N; ++n)
      acc += s[n] * __bfloat162float(a.v[kevo::kv_offset(a, b, h, n) + d]);
    a.o[kevo::q_offset(a, b, hq) + d] = __float2bfloat16(acc / sum);
  }
}
