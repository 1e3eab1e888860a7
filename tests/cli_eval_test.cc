// `kevo eval`: --compile-only works on a machine without a GPU (real NVRTC compiles, the plan
// for every shape of the default suite), JSON and text output, one-line errors, exit codes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>

#include "tests/test_support.h"

namespace kevo {
namespace {

using testing::run_kevo;

const char* kKernel = R"(#include "kevo/sparse_decode.cuh"
// kevo:param  THREADS = 128 in {64, 128, 256}
// kevo:workspace B*Hq*4
// kevo:decode attend grid(Hq, B) block(THREADS) smem(THREADS*4)
extern "C" __global__ void attend(const kevo::Args a) {
  extern __shared__ float partial[];
  partial[threadIdx.x] = a.scale;
  __syncthreads();
  if (threadIdx.x < a.D) a.o[kevo::q_offset(a, blockIdx.y, blockIdx.x) + threadIdx.x] = __float2bfloat16(partial[0]);
}
)";

struct EvalCli : ::testing::Test {
  testing::TempDir tmp;
  std::string file(const std::string& name, const std::string& text) {
    testing::write_file(tmp.file(name), text);
    return tmp.file(name);
  }
  // The CUBIN cache of these runs lives in the test's folder, not in ~/.cache.
  void SetUp() override { setenv("XDG_CACHE_HOME", tmp.file("cache").c_str(), 1); }
  void TearDown() override { unsetenv("XDG_CACHE_HOME"); }
};

TEST_F(EvalCli, CompileOnlyPrintsKernelsAndThePlanPerWorkload) {
  std::string f = file("k.cu", kKernel);
  auto r = run_kevo("eval " + f + " --compile-only");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("status    ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("attend"), std::string::npos);
  EXPECT_NE(r.out.find("registers"), std::string::npos);
  EXPECT_NE(r.out.find("THREADS=128"), std::string::npos);
  for (const char* w : {"B1-N8192", "B1-N32768", "B1-N131072", "B8-N32768"}) {
    EXPECT_NE(r.out.find(w), std::string::npos) << w << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("grid(32,8,1) block(128,1,1) smem 512 B  16/SM, 0.12 waves (most SMs idle)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("on an H100/H200 SXM, 132 SMs"), std::string::npos) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST_F(EvalCli, CompileOnlyJsonWithParamOverride) {
  std::string f = file("k.cu", kKernel);
  auto r = run_kevo("eval " + f + " --compile-only --json --param THREADS=256 --arch sm_90a");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["arch"], "sm_90a");
  EXPECT_EQ(j["params"]["THREADS"], 256);
  EXPECT_GT(j["compile_ms"].get<double>(), 0);
  ASSERT_EQ(j["kernels"].size(), 1u);
  EXPECT_EQ(j["kernels"][0]["name"], "attend");
  EXPECT_GT(j["kernels"][0]["registers"].get<int>(), 0);
  ASSERT_EQ(j["workloads"].size(), 4u);
  const auto& w = j["workloads"][3];
  EXPECT_EQ(w["B"], 8);
  EXPECT_EQ(w["N"], 32768);
  EXPECT_EQ(w["workspace_bytes"], 8 * 32 * 4);
  EXPECT_EQ(w["launches"][0]["grid"], nlohmann::json({32, 8, 1}));
  EXPECT_EQ(w["launches"][0]["block"][0], 256);
  EXPECT_EQ(w["launches"][0]["smem_bytes"], 1024);
  // How much of an H100/H200 each grid fills: 256 threads of a few registers, 8 blocks per SM
  // (2048 threads); 32 x 8 blocks over 8 x 132 slots.
  EXPECT_EQ(j["occupancy_gpu"], "H100/H200 SXM, 132 SMs");
  EXPECT_EQ(w["launches"][0]["blocks_per_sm"], 8);
  EXPECT_DOUBLE_EQ(w["launches"][0]["waves"].get<double>(), 256.0 / (8 * 132));
  // An architecture kevo has no GPU figures for says nothing rather than guess.
  auto old = run_kevo("eval " + f + " --compile-only --json --arch sm_75");
  ASSERT_EQ(old.exit_code, 0) << old.out << old.err;
  auto jo = nlohmann::json::parse(old.out);
  EXPECT_TRUE(jo["occupancy_gpu"].is_null());
  EXPECT_FALSE(jo["workloads"][0]["launches"][0].contains("waves"));
}

TEST_F(EvalCli, CompileOnlySecondRunHitsTheCache) {
  std::string f = file("k.cu", kKernel);
  auto first = run_kevo("eval " + f + " --compile-only --json");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto second = run_kevo("eval " + f + " --compile-only --json");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_FALSE(nlohmann::json::parse(first.out)["cache_hit"].get<bool>());
  EXPECT_TRUE(nlohmann::json::parse(second.out)["cache_hit"].get<bool>());
  auto fresh = run_kevo("eval " + f + " --compile-only --json --no-cache");
  EXPECT_FALSE(nlohmann::json::parse(fresh.out)["cache_hit"].get<bool>());
}

TEST_F(EvalCli, FailuresPrintTheResultAndOneErrorLine) {
  std::string bad = file("bad.cu", std::string(kKernel) + "#include </etc/hostname>\n");
  auto r = run_kevo("eval " + bad + " --compile-only");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("rejected_source"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.rfind("kevo: error: rejected_source: line 11: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);

  std::string broken = file("broken.cu", std::string(kKernel) + "__device__ int f() { return nope; }\n");
  auto c = run_kevo("eval " + broken + " --compile-only --json");
  EXPECT_EQ(c.exit_code, 1);
  auto j = nlohmann::json::parse(c.out);
  EXPECT_EQ(j["status"], "compile_error");
  // The log names the user's file, not NVRTC's "candidate.cu".
  EXPECT_NE(j["compile_log"].get<std::string>().find(broken + "(11)"), std::string::npos)
      << j["compile_log"];
  EXPECT_EQ(c.out.find("candidate.cu"), std::string::npos) << c.out;

  // A plan that does not resolve for one shape of the suite.
  std::string plan = file("plan.cu", R"(#include "kevo/sparse_decode.cuh"
// kevo:decode attend grid(N - 100000, B) block(128)
extern "C" __global__ void attend(const kevo::Args a) {}
)");
  auto p = run_kevo("eval " + plan + " --compile-only");
  EXPECT_EQ(p.exit_code, 1);
  EXPECT_NE(p.err.find("invalid_plan: B1-N8192: line 2: kernel 'attend' grid.x"), std::string::npos) << p.err;
}

TEST_F(EvalCli, UsageErrors) {
  std::string f = file("k.cu", kKernel);
  EXPECT_EQ(run_kevo("eval " + f + " --compile-only --param THREADS").exit_code, 2);
  EXPECT_EQ(run_kevo("eval " + f + " --compile-only --param THREADS=abc").exit_code, 2);
  auto missing = run_kevo("eval " + tmp.file("nope.cu") + " --compile-only");
  EXPECT_EQ(missing.exit_code, 2);  // a missing file is a usage error
  EXPECT_NE(missing.err.find("kevo: error: cannot read"), std::string::npos);
  auto unknown = run_kevo("eval " + f + " --compile-only --param WIDTH=4");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("unknown param 'WIDTH'"), std::string::npos);
  auto suite = run_kevo("eval " + f + " --compile-only --suite no-such-suite");
  EXPECT_EQ(suite.exit_code, 2);
  EXPECT_NE(suite.err.find("no-such-suite"), std::string::npos) << suite.err;
}

// kevo eval compiles in a confined compile worker, as a run does: a compile bomb is stopped at
// the compile deadline by killing the worker (NVRTC's own callback fires only between phases,
// so in-process the same file ran past 120 s).
TEST_F(EvalCli, CompileBombIsStoppedAtItsDeadline) {
  std::string bomb = file("bomb.cu", R"(#include "kevo/sparse_decode.cuh"
template <int D, int I> struct Bomb {
  static constexpr long long v = Bomb<D - 1, 2 * I>::v + Bomb<D - 1, 2 * I + 1>::v;
};
template <int I> struct Bomb<0, I> { static constexpr long long v = I; };
// kevo:decode k grid(1) block(32)
extern "C" __global__ void k(const kevo::Args a) {
  if (a.N < 0) a.o[0] = __float2bfloat16((float)Bomb<26, 0>::v);
}
)");
  auto r = run_kevo("eval " + bomb + " --compile-only --json --compile-timeout 3");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["status"], "timeout") << r.out;
  EXPECT_NE(j["message"].get<std::string>().find("did not finish within its 3 s limit and was "
                                                 "stopped"),
            std::string::npos)
      << j["message"];
  // The next compile in a fresh process works (nothing was left behind).
  EXPECT_EQ(run_kevo("eval " + file("k.cu", kKernel) + " --compile-only").exit_code, 0);
}

// Messages name what the user wrote: a kernel declared without extern "C" is named demangled and
// the hint says so; a plan naming a kernel that does not exist gets no such hint.
TEST_F(EvalCli, KernelNameMessages) {
  std::string cpp = file("cpp.cu", R"(#include "kevo/sparse_decode.cuh"
// kevo:decode attend grid(Hq, B) block(128)
__global__ void attend(const kevo::Args a) {}
)");
  auto a = run_kevo("eval " + cpp + " --compile-only");
  EXPECT_EQ(a.exit_code, 1);
  EXPECT_NE(a.err.find("declared without extern \"C\""), std::string::npos) << a.err;
  EXPECT_NE(a.err.find("kernels found: attend(kevo::Args)"), std::string::npos) << a.err;
  EXPECT_EQ(a.err.find("_Z6attend"), std::string::npos) << a.err;
  std::string other = file("other.cu", R"(#include "kevo/sparse_decode.cuh"
// kevo:decode attend grid(Hq, B) block(128)
extern "C" __global__ void attend_all(const kevo::Args a) {}
)");
  auto b = run_kevo("eval " + other + " --compile-only");
  EXPECT_EQ(b.exit_code, 1);
  EXPECT_NE(b.err.find("no __global__ function of that name (kernels found: attend_all)"),
            std::string::npos)
      << b.err;
  EXPECT_EQ(b.err.find("extern"), std::string::npos) << b.err;
}

TEST_F(EvalCli, WithoutAGpuAFullEvaluationExitsThree) {
  if (testing::gpu_unavailable_reason().empty()) GTEST_SKIP() << "a GPU is present";
  std::string f = file("k.cu", kKernel);
  auto r = run_kevo("eval " + f);
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_EQ(r.err.rfind("kevo: error: ", 0), 0u);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST_F(EvalCli, WithoutAGpuAnInProcessEvaluationExitsThree) {
  if (testing::gpu_unavailable_reason().empty()) GTEST_SKIP() << "a GPU is present";
  auto r = run_kevo("eval " + file("k.cu", kKernel) + " --in-process");
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("--compile-only works without a GPU"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

// --in-process (the default under ncu) gives the result a GPU runner gives: the dense seed is ok,
// per-kernel times and counters included, and a failing candidate fails the same way.
TEST_F(EvalCli, InProcessEvaluationMatchesTheRunnersVerdict) {
  KEVO_REQUIRE_GPU();
  const std::string seed = testing::source_dir() + "/seeds/dense_flashdecode.cu";
  auto r = run_kevo("eval " + seed + " --in-process --json");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("status"), "ok");
  int with_counters = 0;  // the largest workload's kernels (--counters largest)
  for (const auto& w : j.at("workloads"))
    for (const auto& k : w.at("kernels")) with_counters += k.contains("counters");
  EXPECT_EQ(with_counters, 1) << r.out.substr(0, 2000);
  auto bad = run_kevo("eval " + file("k.cu", kKernel) + " --in-process");
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_NE(bad.out.find("inaccurate"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace kevo
