// kevo/select.cuh on the GPU: select_kth_staged (one linear histogram pass and an exact rank of
// the candidates, radix fallback) and radix_select_kth against a sorted reference, on spread,
// signed, tied, forced (0), non-finite and short key sets. Skips visibly without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "evaluator/evaluator.h"
#include "evaluator/gpu_context.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

constexpr const char* kSelectKernel = R"(#include "kevo/attention.cuh"
// kevo:decode select_both grid(1) block(1024)
using namespace kevo;
extern "C" __global__ void __launch_bounds__(1024) select_both(const u32* keys, int n, int k,
                                                              u32* out) {
  __shared__ __align__(16) u32 s_keys[8192];
  __shared__ u32 s_hist[2048];
  __shared__ __align__(16) u32 s_cand[kMaxKthCandidates];
  __shared__ int scratch[40];
  for (int i = threadIdx.x; i < n; i += blockDim.x) s_keys[i] = keys[i];
  __syncthreads();
  const u32 staged = select_kth_staged(n, k, s_keys, s_hist, s_cand, scratch);
  const u32 radix = radix_select_kth(n, k, [&](int i) { return s_keys[i]; }, s_hist, scratch);
  if (threadIdx.x == 0) out[0] = staged, out[1] = radix;
}
)";

// select.cuh's float_key on the host.
uint32_t float_key(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// The contract: T with count(key >= T) >= k > count(key > T), 0 when n <= k.
uint32_t reference_kth(std::vector<uint32_t> keys, int k) {
  if ((int)keys.size() <= k) return 0u;
  std::sort(keys.begin(), keys.end(), std::greater<uint32_t>());
  return keys[k - 1];
}

struct Case {
  std::string name;
  std::vector<uint32_t> keys;
  int k;
};

std::vector<uint32_t> keys_of(const std::vector<float>& v) {
  std::vector<uint32_t> keys(v.size());
  for (size_t i = 0; i < v.size(); ++i) keys[i] = float_key(v[i]);
  return keys;
}

std::vector<Case> cases() {
  std::mt19937 rng(20261206);
  auto normal = [&](int n, float mean, float sd) {
    std::normal_distribution<float> dist(mean, sd);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
  };
  std::vector<Case> out;
  out.push_back({"quest-like page scores", keys_of(normal(8192, 40.f, 10.f)), 1024});
  out.push_back({"both signs", keys_of(normal(8192, 0.f, 1.f)), 1024});
  out.push_back({"k = 1", keys_of(normal(8192, 0.f, 1.f)), 1});
  out.push_back({"k = n - 1", keys_of(normal(8192, 5.f, 1.f)), 8191});
  out.push_back({"n not a multiple of the block", keys_of(normal(1000, 3.f, 2.f)), 77});
  {
    auto keys = keys_of(normal(8192, 40.f, 10.f));
    for (int i = 0; i < 5; ++i) keys[i] = keys[8191 - i] = 0u;  // forced pages
    out.push_back({"forced zeros", keys, 1024});
  }
  {
    auto v = normal(8192, 40.f, 10.f);
    v[17] = 1e30f;  // stretches the range: the k-th's bin holds most keys (radix fallback)
    out.push_back({"an outlier", keys_of(v), 1024});
  }
  out.push_back({"all equal", keys_of(std::vector<float>(8192, 2.5f)), 1024});
  {
    auto v = normal(8192, 5.f, 3.f);
    for (float& x : v) x = std::round(x);  // a dozen values: heavy ties
    out.push_back({"heavy ties", keys_of(v), 1500});
  }
  {
    auto v = normal(8192, 1.f, 1.f);
    v[3] = std::numeric_limits<float>::infinity();
    v[4] = -std::numeric_limits<float>::infinity();
    v[5] = std::numeric_limits<float>::quiet_NaN();
    out.push_back({"non-finite", keys_of(v), 2});
    out.push_back({"non-finite, k deep", keys_of(v), 4000});
  }
  {
    auto keys = keys_of(normal(8192, 1.f, 1.f));
    for (int i = 0; i < 8000; ++i) keys[i] = 0u;  // fewer counted keys than k
    out.push_back({"fewer counted keys than k", keys, 1024});
  }
  out.push_back({"n <= k", keys_of(normal(100, 0.f, 1.f)), 100});
  return out;
}

TEST(DeviceSelectGpu, StagedAndRadixSelectMatchASortedReference) {
  KEVO_REQUIRE_GPU();
  auto opened = GpuContext::open(0);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  GpuContext& ctx = **opened;
  CompileOptions opt;
  opt.arch = ctx.info().arch();
  CompileOutcome compiled = compile_candidate({"select", kSelectKernel, {}}, opt);
  ASSERT_EQ(compiled.status, EvalStatus::kOk) << compiled.message << compiled.log;
  const CudaDriver& d = ctx.drv();
  CUmodule mod = nullptr;
  CUfunction fn = nullptr;
  ASSERT_EQ(d.cuModuleLoadData(&mod, compiled.cubin.data()), CUDA_SUCCESS);
  ASSERT_EQ(d.cuModuleGetFunction(&fn, mod, "select_both"), CUDA_SUCCESS);
  auto keys_buf = ctx.alloc("keys", 8192 * 4), out_buf = ctx.alloc("out", 8);
  ASSERT_TRUE(keys_buf.ok() && out_buf.ok());
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    ASSERT_LE(c.keys.size(), 8192u);
    ASSERT_EQ(d.cuMemcpyHtoD(keys_buf->data, c.keys.data(), c.keys.size() * 4), CUDA_SUCCESS);
    CUdeviceptr keys = keys_buf->data, out = out_buf->data;
    int n = (int)c.keys.size(), k = c.k;
    void* args[] = {&keys, &n, &k, &out};
    ASSERT_EQ(d.cuLaunchKernel(fn, 1, 1, 1, 1024, 1, 1, 0, ctx.stream(), args, nullptr),
              CUDA_SUCCESS);
    ASSERT_TRUE(ctx.wait(30).ok());
    uint32_t got[2] = {1, 1};
    ASSERT_EQ(d.cuMemcpyDtoH(got, out_buf->data, 8), CUDA_SUCCESS);
    const uint32_t want = reference_kth(c.keys, c.k);
    EXPECT_EQ(got[0], want) << "select_kth_staged";
    EXPECT_EQ(got[1], want) << "radix_select_kth";
  }
  ctx.free(*keys_buf);
  ctx.free(*out_buf);
  d.cuModuleUnload(mod);
}

}  // namespace
}  // namespace kevo
