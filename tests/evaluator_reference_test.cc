// The dense reference and the GPU generator against the host: fp64 CPU attention vs the fp32 GPU
// reference on small shapes, GPU-generated data vs the host generator, the error and integrity
// kernels. CPU-only parts (the fp64 reference itself, NVRTC compiles of the internal kernels and
// of the dense seed) run everywhere; GPU parts skip visibly without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "common/yaml_config.h"
#include "evaluator/evaluator.h"
#include "evaluator/generator_host.h"
#include "evaluator/gpu_context.h"
#include "evaluator/tensor_files.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

TEST(ReferenceCpu, Fp64ReferenceOnKnownCases) {
  // Equal keys: uniform attention, the output is the mean value. One key aligned with a large
  // query: the output is that token's value.
  Shape s{1, 2, 1, 4, 8};
  std::vector<uint16_t> q(2 * 8, float_to_bf16_bits(0.0f)), k(4 * 8, float_to_bf16_bits(1.0f)),
      v(4 * 8);
  for (int n = 0; n < 4; ++n) {
    for (int d = 0; d < 8; ++d) v[n * 8 + d] = float_to_bf16_bits(float(n));
  }
  q[8 + 0] = float_to_bf16_bits(200.0f);  // head 1 looks along channel 0
  k[2 * 8 + 0] = float_to_bf16_bits(4.0f);  // token 2 stands out there
  auto o = dense_attention_fp64(q, k, v, s);
  for (int d = 0; d < 8; ++d) {
    EXPECT_NEAR(o[d], 1.5, 1e-12);      // head 0: mean of 0, 1, 2, 3
    EXPECT_NEAR(o[8 + d], 2.0, 1e-6);   // head 1: token 2
  }
}

TEST(ReferenceCpu, InternalKernelsCompile) {
  auto cubin = compile_internal_kernels("sm_90a");
  ASSERT_TRUE(cubin.ok()) << cubin.status().message();
  EXPECT_GT(cubin->size(), 1000u);
}

TEST(ReferenceCpu, DenseSeedCompiles) {
  std::string src = testing::read_file(testing::source_dir() + "/seeds/dense_flashdecode.cu");
  ASSERT_FALSE(src.empty());
  CompileOptions opt;
  opt.arch = "sm_90a";
  CompileOutcome out = compile_candidate({"dense_flashdecode", src, {}}, opt);
  ASSERT_EQ(out.status, EvalStatus::kOk) << out.message << "\n" << out.log;
  // The other param choices the tuner may pick compile too (the code paths WARPS and STAGES
  // select; CTAS only sizes the grid).
  for (auto [name, value] : std::vector<std::pair<std::string, int64_t>>{
           {"WARPS", 4}, {"STAGES", 3}, {"CTAS", 396}}) {
    CompileOutcome o = compile_candidate({"dense", src, {{name, value}}}, opt);
    EXPECT_EQ(o.status, EvalStatus::kOk) << name << "=" << value << ": " << o.message;
  }
}

// ---- on the GPU ----------------------------------------------------------------------------

class ReferenceGpu : public ::testing::Test {
 public:
  void SetUp() override {
    KEVO_REQUIRE_GPU();
    auto c = GpuContext::open(0);
    ASSERT_TRUE(c.ok()) << c.status().message();
    ctx = std::move(c).value();
  }
  std::vector<uint16_t> download16(CUdeviceptr p, size_t n) {
    std::vector<uint16_t> out(n);
    EXPECT_EQ(ctx->drv().cuMemcpyDtoH(out.data(), p, n * 2), CUDA_SUCCESS);
    return out;
  }
  GuardedBuffer alloc(const char* name, size_t bytes) {
    auto b = ctx->alloc(name, bytes);
    EXPECT_TRUE(b.ok());
    return b.ok() ? *b : GuardedBuffer{};
  }
  std::unique_ptr<GpuContext> ctx;
};

// GPU-generated k, v, q equal the host generator's (ulp differences in logf/sincosf may flip a
// rare bf16 rounding), and the fp32 GPU reference matches fp64 on the host.
void check_shape(ReferenceGpu& t, GpuContext& c, const Shape& s, uint64_t seed) {
  WorkloadSpec w;
  w.shape = s;
  w.seed = seed;
  auto p = make_gen_params(w);
  std::vector<uint16_t> hk, hv;
  generate_kv_host(p, hk, hv);
  auto hq = generate_q_host(p, 1234);
  GuardedBuffer k = t.alloc("k", hk.size() * 2), v = t.alloc("v", hv.size() * 2),
                q = t.alloc("q", hq.size() * 2), ref = t.alloc("ref", hq.size() * 4),
                part = t.alloc("part", GpuContext::reference_part_bytes(s));
  ASSERT_TRUE(c.generate_kv(p, k.data, v.data).ok());
  ASSERT_TRUE(c.generate_q(p, 1234, q.data).ok());
  ASSERT_TRUE(c.wait(30).ok());
  auto gk = t.download16(k.data, hk.size()), gv = t.download16(v.data, hv.size()),
       gq = t.download16(q.data, hq.size());
  auto count_diff = [](const std::vector<uint16_t>& a, const std::vector<uint16_t>& b) {
    size_t n = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i] != b[i]) {
        ++n;
        // Near zero (RoPE's x cos - y sin cancels) an ulp of logf/sincosf is many bf16 ulps;
        // compare values: within 1/64 relative plus 0.01 absolute (the data is O(1)).
        float x = bf16_bits_to_float(a[i]), y = bf16_bits_to_float(b[i]);
        EXPECT_LE(std::fabs(x - y), std::max(std::fabs(x), std::fabs(y)) / 64 + 0.01f)
            << "element " << i << ": " << x << " vs " << y;
      }
    }
    return n;
  };
  EXPECT_LE(count_diff(gk, hk), hk.size() / 100);
  EXPECT_LE(count_diff(gv, hv), hv.size() / 100);
  EXPECT_LE(count_diff(gq, hq), hq.size() / 100);

  // Reference on the GPU's own data, against fp64 on the same bf16 values.
  ASSERT_TRUE(c.reference(q.data, k.data, v.data, s, part.data, ref.data).ok());
  ASSERT_TRUE(c.wait(30).ok());
  std::vector<float> o(hq.size());
  ASSERT_EQ(c.drv().cuMemcpyDtoH(o.data(), ref.data, o.size() * 4), CUDA_SUCCESS);
  auto o64 = dense_attention_fp64(gq, gk, gv, s);
  double worst = 0;
  for (int r = 0; r < s.B * s.Hq; ++r) {
    double e = 0, n = 0;
    for (int d = 0; d < s.D; ++d) {
      double x = o[size_t(r) * s.D + d], y = o64[size_t(r) * s.D + d];
      e += (x - y) * (x - y);
      n += y * y;
    }
    worst = std::max(worst, std::sqrt(e / n));
  }
  EXPECT_LT(worst, 2e-5) << "fp32 reference vs fp64, worst row";
  for (GuardedBuffer* b : {&k, &v, &q, &ref, &part}) c.free(*b);
}

TEST_F(ReferenceGpu, MatchesHostOnSmallShapes) {
  check_shape(*this, *ctx, {2, 8, 2, 1000, 128}, 11);   // N not a multiple of the 256 tile
  check_shape(*this, *ctx, {1, 28, 4, 700, 128}, 12);   // G = 7
  check_shape(*this, *ctx, {1, 16, 1, 300, 64}, 13);    // G = 16, D = 64
}

TEST_F(ReferenceGpu, ErrorChecksumGuardAndGarbageKernels) {
  const int rows = 4, D = 64;
  std::vector<uint16_t> o(rows * D);
  std::vector<float> r0(rows * D), r1(rows * D, 0.0f);
  for (int i = 0; i < rows * D; ++i) {
    r0[i] = float(i % 9) - 4;
    o[i] = float_to_bf16_bits(r0[i] * 1.01f);  // 1% off
  }
  o[3 * D + 5] = 0x7FC0;  // NaN in row 3
  GuardedBuffer ob = alloc("o", o.size() * 2), rb0 = alloc("r0", r0.size() * 4),
                rb1 = alloc("r1", r1.size() * 4), out = alloc("out", rows * 16),
                sums = alloc("sums", 16);
  const CudaDriver& d = ctx->drv();
  ASSERT_EQ(d.cuMemcpyHtoD(ob.data, o.data(), o.size() * 2), CUDA_SUCCESS);
  ASSERT_EQ(d.cuMemcpyHtoD(rb0.data, r0.data(), r0.size() * 4), CUDA_SUCCESS);
  ASSERT_EQ(d.cuMemcpyHtoD(rb1.data, r1.data(), r1.size() * 4), CUDA_SUCCESS);
  ASSERT_TRUE(ctx->rel_err(ob.data, rb0.data, rb0.data, rb1.data, rows, D, out.data).ok());
  ASSERT_TRUE(ctx->wait(10).ok());
  std::vector<float> e(rows * 4);
  ASSERT_EQ(d.cuMemcpyDtoH(e.data(), out.data, e.size() * 4), CUDA_SUCCESS);
  EXPECT_NEAR(e[0], 0.01, 2e-3);
  EXPECT_EQ(e[3], 0.0f);
  EXPECT_EQ(e[3 * 4 + 3], 1.0f);  // row 3 flagged non-finite

  // Checksums change with one flipped byte; guards catch a one-byte overrun.
  auto sum = [&](CUdeviceptr p, size_t n) {
    EXPECT_EQ(d.cuMemsetD8(sums.data, 0, 16), CUDA_SUCCESS);
    EXPECT_TRUE(ctx->checksum(p, n, sums.data).ok());
    EXPECT_TRUE(ctx->wait(10).ok());
    uint64_t s = 0;
    EXPECT_EQ(d.cuMemcpyDtoH(&s, sums.data, 8), CUDA_SUCCESS);
    return s;
  };
  auto flip = [&](CUdeviceptr p) {  // complement one byte: it surely changes
    uint8_t b = 0;
    EXPECT_EQ(d.cuMemcpyDtoH(&b, p, 1), CUDA_SUCCESS);
    b = uint8_t(~b);
    EXPECT_EQ(d.cuMemcpyHtoD(p, &b, 1), CUDA_SUCCESS);
  };
  uint64_t before = sum(ob.data, o.size() * 2 - 3);  // odd length: the tail path
  flip(ob.data + o.size() * 2 - 4);
  EXPECT_NE(sum(ob.data, o.size() * 2 - 3), before);

  ASSERT_TRUE(ctx->set_guards({&ob, &rb0}).ok());
  ASSERT_TRUE(ctx->fill_guards().ok());
  GuardedBuffer res = alloc("guard results", 64 + 64);
  ASSERT_TRUE(ctx->check_guards(res.data, res.data + 64).ok());
  ASSERT_TRUE(ctx->wait(10).ok());
  uint32_t bad[4];
  ASSERT_EQ(d.cuMemcpyDtoH(bad, res.data, 16), CUDA_SUCCESS);
  for (uint32_t b : bad) EXPECT_EQ(b, 0u);
  flip(ob.data + ob.bytes);  // one byte past the end
  ASSERT_TRUE(ctx->check_guards(res.data, res.data + 64).ok());
  ASSERT_TRUE(ctx->wait(10).ok());
  uint64_t first[4];
  ASSERT_EQ(d.cuMemcpyDtoH(bad, res.data, 16), CUDA_SUCCESS);
  ASSERT_EQ(d.cuMemcpyDtoH(first, res.data + 64, 32), CUDA_SUCCESS);
  EXPECT_EQ(bad[0], 0u);
  EXPECT_GE(bad[1], 1u);  // trailing band of o
  EXPECT_EQ(first[1], 0u);
  EXPECT_EQ(bad[2] + bad[3], 0u);

  // Garbage differs between seeds.
  ASSERT_TRUE(ctx->garbage(rb1.data, rb1.bytes, 1).ok());
  ASSERT_TRUE(ctx->wait(10).ok());
  uint64_t g1 = sum(rb1.data, rb1.bytes);
  ASSERT_TRUE(ctx->garbage(rb1.data, rb1.bytes, 2).ok());
  ASSERT_TRUE(ctx->wait(10).ok());
  EXPECT_NE(sum(rb1.data, rb1.bytes), g1);
  for (GuardedBuffer* b : {&ob, &rb0, &rb1, &out, &sums, &res}) ctx->free(*b);
}

TEST_F(ReferenceGpu, LaunchFloorIsMeasured) {
  auto us = ctx->empty_kernel_us();
  ASSERT_TRUE(us.ok()) << us.status().message();
  EXPECT_GT(*us, 0.1);
  EXPECT_LT(*us, 100.0);
  EXPECT_GT(ctx->info().copy_gbps, 100.0);
}

// A suite of captured tensors (.npy written here from generated data) evaluates like a
// generated one: fresh queries are perturbations of the captured ones.
TEST(CapturedSuiteGpu, DenseSeedOnNpyTensors) {
  KEVO_REQUIRE_GPU();
  testing::TempDir dir;
  WorkloadSpec w;
  w.shape = {1, 8, 2, 1536, 128};
  w.seed = 77;
  auto p = make_gen_params(w);
  std::vector<uint16_t> k, v;
  generate_kv_host(p, k, v);
  std::vector<uint16_t> q = generate_q_host(p, 1);
  auto q2 = generate_q_host(p, 2);
  q.insert(q.end(), q2.begin(), q2.end());  // two captured decode steps: [2, 1, 8, 128]
  auto npy = [](const std::vector<int64_t>& shape, const std::vector<uint16_t>& data) {
    std::string dims;
    for (int64_t d : shape) dims += std::to_string(d) + ", ";
    std::string h = "{'descr': '<V2', 'fortran_order': False, 'shape': (" + dims + "), }";
    while ((10 + h.size() + 1) % 64) h += ' ';
    h += '\n';
    std::string out = "\x93NUMPY";
    out += char(1);
    out += char(0);
    out += char(h.size() & 0xFF);
    out += char(h.size() >> 8);
    return out + h + std::string(reinterpret_cast<const char*>(data.data()), data.size() * 2);
  };
  testing::write_file(dir.file("q.npy"), npy({2, 1, 8, 128}, q));
  testing::write_file(dir.file("k.npy"), npy({1, 2, 1536, 128}, k));
  testing::write_file(dir.file("v.npy"), npy({1, 2, 1536, 128}, v));
  testing::write_file(dir.file("captured.yaml"),
                      "tensors:\n  - {name: layer0, q: q.npy, k: k.npy, v: v.npy}\n");
  auto session = open_gpu_session(0, EvaluatorConfig{});
  ASSERT_TRUE(session.ok()) << session.status().message();
  std::string src = testing::read_file(testing::source_dir() + "/seeds/dense_flashdecode.cu");
  EvalResult r = evaluate_in_process(**session, {"dense", src, {}}, CompileOptions{},
                                     dir.file("captured.yaml"));
  ASSERT_EQ(r.status, EvalStatus::kOk) << r.message;
  ASSERT_EQ(r.workloads.size(), 1u);
  EXPECT_EQ(r.workloads[0].name, "layer0");
  EXPECT_EQ(r.workloads[0].N, 1536);
  EXPECT_LE(r.metrics["mean_rel_err"], 0.005);
}

// A decode kernel whose grid resolves to 0 at a shape is not launched there (a plan's crossover):
// here a kernel that would trap, placed before the dense kernel, with a grid of 0 at every shape.
// Launched, it would end the evaluation as a crash; launched with a 0 grid, the driver would
// refuse it. The result lists only the kernels that ran.
TEST(CrossoverGpu, AKernelWhoseGridIsZeroIsNotLaunched) {
  KEVO_REQUIRE_GPU();
  testing::TempDir dir;
  testing::write_file(dir.file("small.yaml"),
                      "name: small\nHq: 8\nHkv: 2\nD: 128\nseed: 5\nworkloads:\n"
                      "  - {B: 1, N: 2048}\n  - {B: 2, N: 4096}\n");
  std::string src = testing::read_file(testing::source_dir() + "/seeds/dense_flashdecode.cu");
  const std::string decode = "// kevo:decode flash_decode";
  ASSERT_NE(src.find(decode), std::string::npos);
  src.insert(src.find(decode), "// kevo:decode boom grid(N > 100000000) block(32)\n");
  const std::string end = "// EVOLVE-BLOCK-END";
  src.insert(src.rfind(end), "extern \"C\" __global__ void boom(const Args a) { __trap(); }\n");
  auto session = open_gpu_session(0, EvaluatorConfig{});
  ASSERT_TRUE(session.ok()) << session.status().message();
  EvalResult r = evaluate_in_process(**session, {"crossover", src, {}}, CompileOptions{},
                                     dir.file("small.yaml"));
  ASSERT_EQ(r.status, EvalStatus::kOk) << r.message;
  ASSERT_EQ(r.workloads.size(), 2u);
  for (const auto& w : r.workloads) {
    ASSERT_EQ(w.kernels.size(), 1u) << w.name;
    EXPECT_EQ(w.kernels[0].name, "flash_decode");
  }
  EXPECT_LE(r.metrics["mean_rel_err"], 0.005);
}

}  // namespace
}  // namespace kevo
