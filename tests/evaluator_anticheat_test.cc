// Every anti-cheat check of docs/design.md ("Anti-cheat"), each proven by a deliberately bad kernel
// (tests/kernels/*.cu), plus the controls: the dense seed and an honest naive kernel pass, and
// two evaluations of the same kernel agree. GPU only (skips visibly without one). The kernels
// that lose the GPU context (a hang, an illegal address) run in a child process (death test).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "evaluator/evaluator.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

using testing::read_file;
using testing::source_dir;

// Small shapes (G = 4 like Llama 3, a tail-free and a batched cache) keep the naive kernels fast.
const char* kSuite =
    "name: anticheat\nHq: 8\nHkv: 2\nD: 128\nseed: 99\n"
    "workloads:\n  - {B: 1, N: 2048}\n  - {B: 2, N: 1024}\n";

EvaluatorConfig test_config() {
  EvaluatorConfig c;
  c.kernel_timeout_s = 1.0;
  c.max_seconds_per_workload = 0.2;
  return c;
}

Candidate kernel(const std::string& file) {
  std::string path = source_dir() + "/" + file;
  std::string src = read_file(path);
  EXPECT_FALSE(src.empty()) << "cannot read " << path;
  return {file, src, {}};
}

class AntiCheat : public ::testing::Test {
 protected:
  void SetUp() override {
    KEVO_REQUIRE_GPU();
    if (!session_) {
      dir_ = new testing::TempDir();
      testing::write_file(dir_->file("anticheat.yaml"), kSuite);
      auto s = open_gpu_session(0, test_config());
      ASSERT_TRUE(s.ok()) << s.status().message();
      session_ = std::move(s).value().release();
    }
    ASSERT_FALSE(session_->poisoned());
  }
  EvalResult eval(const std::string& file, const std::string& suite = "") {
    return evaluate_in_process(*session_, kernel(file), CompileOptions{},
                               suite.empty() ? dir_->file("anticheat.yaml") : suite);
  }
  static GpuSession* session_;  // shared by the tests of this process: one context, one dense compile
  static testing::TempDir* dir_;
};
GpuSession* AntiCheat::session_ = nullptr;
testing::TempDir* AntiCheat::dir_ = nullptr;

#define EXPECT_STATUS(r, st, text)                                                     \
  do {                                                                                 \
    EXPECT_EQ(eval_status_name((r).status), std::string(eval_status_name(st)))         \
        << (r).message;                                                                \
    EXPECT_NE((r).message.find(text), std::string::npos) << (r).message;               \
  } while (0)

TEST_F(AntiCheat, DenseSeedIsOkAndAccurate) {
  for (std::string suite : {std::string(), source_dir() + "/configs/suites/quick.yaml"}) {
    EvalResult r = eval("seeds/dense_flashdecode.cu", suite);
    ASSERT_EQ(r.status, EvalStatus::kOk) << r.message;
    EXPECT_LE(r.metrics["mean_rel_err"], 0.005);
    EXPECT_LE(r.metrics["max_rel_err"], 0.02);
    // The baseline against itself: the same kernel timed twice the same way.
    EXPECT_NEAR(r.metrics["speedup"], 1.0, 0.1) << r.feedback;
    EXPECT_EQ(r.fitness, r.metrics["speedup"]);
    for (const auto& w : r.workloads) {
      ASSERT_EQ(w.kernels.size(), 1u);  // one kernel: the last block of a head merges
      // The plan's rule (kevo:let WIDE): two blocks an SM of half the warps where
      // B*Hkv*cdiv(G,16)*N >= WIDE_T (131072), one block of all warps below.
      const long long groups = (w.Hq / w.Hkv + 15) / 16;
      const bool wide = (long long)w.B * w.Hkv * groups * w.N >= 131072;
      EXPECT_EQ(w.kernels[0].name, wide ? "flash_decode_wide" : "flash_decode") << w.name;
      EXPECT_GT(w.kernels[0].registers, 0);
      EXPECT_GT(w.kernels[0].us, 0);
    }
  }
}

TEST_F(AntiCheat, HonestNaiveKernelIsOk) {
  EvalResult r = eval("tests/kernels/naive_dense.cu");
  ASSERT_EQ(r.status, EvalStatus::kOk) << r.message;
  EXPECT_LE(r.metrics["mean_rel_err"], 0.005);
  EXPECT_LT(r.metrics["speedup"], 1.0);  // one CTA per head is slower than split-K
}

TEST_F(AntiCheat, StaticAndDynamicSharedMemoryOver48KIsOk) {
  EvalResult r = eval("tests/kernels/smem_over_48k.cu");
  ASSERT_EQ(r.status, EvalStatus::kOk) << r.message;
  EXPECT_LE(r.metrics["mean_rel_err"], 0.005);
}

// Three kernels, the last two launched as programmatic dependents of the one before: their
// blocks start early and wait (kevo::wait_prior_kernels) for the data they read.
TEST_F(AntiCheat, ProgrammaticDependentLaunchKeepsKernelsInOrder) {
  EvalResult r = eval("tests/kernels/pdl_chain.cu");
  ASSERT_EQ(r.status, EvalStatus::kOk) << r.message;
  EXPECT_LE(r.metrics["mean_rel_err"], 0.005);
}

TEST_F(AntiCheat, CachingAcrossCallsIsCheat) {
  EXPECT_STATUS(eval("tests/kernels/caches_results.cu"), EvalStatus::kCheatDetected, "earlier query");
}

TEST_F(AntiCheat, WritingInputsIsCheat) {
  EXPECT_STATUS(eval("tests/kernels/writes_inputs.cu"), EvalStatus::kCheatDetected, "modified 'k'");
  // The session rebuilt the damaged data: an honest kernel passes right after.
  EXPECT_EQ(eval("tests/kernels/naive_dense.cu").status, EvalStatus::kOk);
}

TEST_F(AntiCheat, WritingOutsideABufferIsCheat) {
  EXPECT_STATUS(eval("tests/kernels/writes_outside.cu"), EvalStatus::kCheatDetected,
                "wrote outside buffer 'o'");
}

TEST_F(AntiCheat, UnwrittenOutputIsInaccurate) {
  EXPECT_STATUS(eval("tests/kernels/output_unwritten.cu"), EvalStatus::kInaccurate, "NaN");
}

TEST_F(AntiCheat, UninitialisedWorkspaceIsInaccurate) {
  EvalResult r = eval("tests/kernels/uninit_workspace.cu");
  EXPECT_EQ(r.status, EvalStatus::kInaccurate) << r.message;
  EXPECT_FALSE(r.message.empty());
}

TEST_F(AntiCheat, IndexOverTheCapIsInvalidPlan) {
  EXPECT_STATUS(eval("tests/kernels/index_cap.cu"), EvalStatus::kInvalidPlan, "over the cap of 128");
}

TEST_F(AntiCheat, TwoEvaluationsAgreeWithin3Percent) {
  const std::string quick = source_dir() + "/configs/suites/quick.yaml";
  for (auto [file, suite] : std::vector<std::pair<std::string, std::string>>{
           {"seeds/dense_flashdecode.cu", quick}, {"tests/kernels/naive_dense.cu", ""}}) {
    EvalResult a = eval(file, suite), b = eval(file, suite);
    ASSERT_TRUE(a.ok() && b.ok()) << a.message << b.message;
    double sa = a.metrics["speedup"], sb = b.metrics["speedup"];
    EXPECT_LE(std::fabs(sa - sb) / sa, 0.03) << file << ": " << sa << " vs " << sb;
  }
}

// ---- kernels that lose the context: in a child process -------------------------------------

[[noreturn]] void evaluate_and_exit(const std::string& file, EvalStatus expected) {
  auto s = open_gpu_session(0, test_config());
  if (!s.ok()) {
    std::fprintf(stderr, "no session: %s\n", s.status().message().c_str());
    std::_Exit(2);
  }
  testing::TempDir dir;
  testing::write_file(dir.file("s.yaml"), kSuite);
  EvalResult r = evaluate_in_process(**s, kernel(file), CompileOptions{}, dir.file("s.yaml"));
  std::fprintf(stderr, "RESULT %s: %s\n", eval_status_name(r.status), r.message.c_str());
  std::fflush(stderr);
  // No destructors: the lost context could block them; ending the process frees the GPU.
  std::_Exit(r.status == expected && (*s)->poisoned() ? 0 : 1);
}

TEST(AntiCheatDeathTest, KernelThatNeverEndsTimesOut) {
  KEVO_REQUIRE_GPU();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(evaluate_and_exit("tests/kernels/loops_forever.cu", EvalStatus::kTimeout),
              ::testing::ExitedWithCode(0), "RESULT timeout: .*did not finish within");
}

TEST(AntiCheatDeathTest, IllegalAddressIsCrash) {
  KEVO_REQUIRE_GPU();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(evaluate_and_exit("tests/kernels/illegal_address.cu", EvalStatus::kCrash),
              ::testing::ExitedWithCode(0), "RESULT crash: .*CUDA_ERROR_ILLEGAL_ADDRESS");
}

}  // namespace
}  // namespace kevo
