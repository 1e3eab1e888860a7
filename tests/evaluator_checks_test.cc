// The evaluator's verdict logic on the CPU: timing statistics and the stopping rule, the
// anti-cheat judgements from the numbers the GPU checks write, result assembly and feedback.
#include <gtest/gtest.h>

#include <cmath>

#include "evaluator/result_assembly.h"
#include "evaluator/run_checks.h"
#include "evaluator/timing_stats.h"

namespace kevo {
namespace {

TEST(TimingStats, MedianAndSpread) {
  SampleStats s = summarize({10, 11, 9, 10, 10, 50});  // one outlier does not move the median
  EXPECT_DOUBLE_EQ(s.median, 10);
  EXPECT_EQ(s.count, 6);
  EXPECT_NEAR(s.spread, (s.q3 - s.q1) / 10, 1e-12);
  EXPECT_LT(s.spread, 0.1);
  EXPECT_EQ(summarize({}).count, 0);
}

TEST(TimingStats, StopRule) {
  StopRule r{10, 100, 0.02, 0.5};
  SampleStats tight = summarize(std::vector<double>(10, 5.0));
  EXPECT_TRUE(should_stop(tight, 0.01, r));
  SampleStats few = summarize(std::vector<double>(9, 5.0));
  EXPECT_FALSE(should_stop(few, 0.01, r));  // fewer than min_iterations
  std::vector<double> noisy;
  for (int i = 0; i < 20; ++i) noisy.push_back(i % 2 ? 5.0 : 6.0);
  EXPECT_FALSE(should_stop(summarize(noisy), 0.1, r));  // spread too large, time left
  EXPECT_TRUE(should_stop(summarize(noisy), 0.6, r));   // out of time
  EXPECT_TRUE(should_stop(summarize(std::vector<double>(3, 1.0)), 2.5, r));  // a slow kernel
  noisy.resize(100);
  EXPECT_TRUE(should_stop(summarize(noisy), 0.1, r));  // iteration bound
}

TEST(TimingStats, ErrorsAndGeomean) {
  std::vector<double> e(100, 0.01);
  e[99] = 0.5;
  ErrorStats s = summarize_errors(e);
  EXPECT_NEAR(s.mean, (99 * 0.01 + 0.5) / 100, 1e-12);
  EXPECT_DOUBLE_EQ(s.max, 0.5);
  EXPECT_GT(s.p99, 0.01);
  EXPECT_NEAR(geomean({2, 8}), 4, 1e-12);
  EXPECT_EQ(geomean({2, 0}), 0);
}

// rows x {cur, prev, first, nonfinite}
std::vector<float> call(int rows, float cur, float prev, float first, int nan_row = -1) {
  std::vector<float> v;
  for (int r = 0; r < rows; ++r) {
    v.insert(v.end(), {cur, prev, first, r == nan_row ? 1.0f : 0.0f});
  }
  return v;
}

TEST(RunChecks, AccurateCallPasses) {
  auto e = call(64, 0.003f, 0.25f, 0.25f);
  EXPECT_FALSE(judge_call(summarize_call(e.data(), 64), 5, 32, 0.2, 0.003));
}

TEST(RunChecks, UnwrittenRowsAreInaccurate) {
  auto e = call(64, 0.003f, 0.25f, 0.25f, 33);
  auto v = judge_call(summarize_call(e.data(), 64), 0, 32, 0.2, 0.003);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->status, EvalStatus::kInaccurate);
  EXPECT_NE(v->message.find("NaN"), std::string::npos);
  EXPECT_NE(v->message.find("batch 1, query head 1"), std::string::npos) << v->message;
}

TEST(RunChecks, CachedAnswerIsCheat) {
  // A fresh query answered with the first call's output: far from its own reference, exact
  // against the earlier one.
  auto e = call(64, 0.24f, 0.26f, 0.003f);
  auto v = judge_call(summarize_call(e.data(), 64), 7, 32, 0.2, 0.003);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->status, EvalStatus::kCheatDetected);
  EXPECT_NE(v->message.find("earlier query"), std::string::npos);
  // The same error with no earlier answer matching it is plain inaccuracy.
  auto i = call(64, 0.24f, 0.3f, 0.3f);
  auto w = judge_call(summarize_call(i.data(), 64), 7, 32, 0.2, 0.003);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->status, EvalStatus::kInaccurate);
  // A loose but honest sparse method (same error on every call) passes.
  auto l = call(64, 0.12f, 0.3f, 0.3f);
  EXPECT_FALSE(judge_call(summarize_call(l.data(), 64), 7, 32, 0.2, 0.11));
}

TEST(RunChecks, Determinism) {
  auto same = call(16, 0.0f, 0.0f, 0.0f);
  EXPECT_FALSE(judge_determinism(summarize_call(same.data(), 16), 8, 0.01));
  auto diff = call(16, 0.3f, 0.3f, 0.3f);
  auto v = judge_determinism(summarize_call(diff.data(), 16), 8, 0.01);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->status, EvalStatus::kInaccurate);
  EXPECT_NE(v->message.find("workspace"), std::string::npos);
}

TEST(RunChecks, GuardsNameBufferAndSide) {
  std::vector<uint32_t> bad(4, 0);
  std::vector<uint64_t> first(4, ~0ull);
  EXPECT_FALSE(judge_guards({"q", "o"}, bad, first, 65536, "decode phase"));
  bad[3] = 2;  // trailing band of "o"
  first[3] = 0;
  auto v = judge_guards({"q", "o"}, bad, first, 65536, "decode phase");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->status, EvalStatus::kCheatDetected);
  EXPECT_NE(v->message.find("outside buffer 'o'"), std::string::npos) << v->message;
  EXPECT_NE(v->message.find("byte 0 past its end"), std::string::npos) << v->message;
  bad = {1, 0, 0, 0};
  first = {65535, ~0ull, ~0ull, ~0ull};
  auto w = judge_guards({"q", "o"}, bad, first, 65536, "build phase");
  ASSERT_TRUE(w);
  EXPECT_NE(w->message.find("1 bytes before its start"), std::string::npos) << w->message;
  EXPECT_EQ(input_written("k", "decode phase").status, EvalStatus::kCheatDetected);
}

TEST(ResultAssembly, MetricsAndFeedback) {
  WorkloadMeasure a, b;
  a.result = {"B1-N8192", 1, 8192, 10.0, 40.0, 4.0, 0.02, 0.05, 0.08, 30.0,
              {{"score", 6.0, 40, 0, 0}, {"attend", 4.0, 90, 49152, 16}}};
  a.Hkv = 8;
  a.index_bytes = 8LL * 8192 * 4;
  b.result = {"B8-N32768", 8, 32768, 100.0, 100.0, 1.0, 0.04, 0.1, 0.2, 0.0, {{"score", 100.0, 40, 0, 0}}};
  b.Hkv = 8;
  b.index_bytes = 8LL * 8 * 32768 * 4;
  EvalResult r = assemble_result({a, b}, 41.0);
  EXPECT_TRUE(r.ok());
  EXPECT_NEAR(r.metrics["speedup"], 2.0, 1e-9);  // geomean of 4 and 1
  EXPECT_DOUBLE_EQ(r.fitness, r.metrics["speedup"]);
  EXPECT_NEAR(r.metrics["mean_rel_err"], 0.03, 1e-12);
  EXPECT_DOUBLE_EQ(r.metrics["p99_rel_err"], 0.1);
  EXPECT_DOUBLE_EQ(r.metrics["max_rel_err"], 0.2);
  EXPECT_DOUBLE_EQ(r.metrics["index_bytes_per_token"], 4.0);
  EXPECT_NEAR(r.metrics["build_ns_per_token"], 30.0 * 1000 / (8.0 * 8192 + 64.0 * 32768), 1e-9);
  EXPECT_DOUBLE_EQ(r.metrics["compile_ms"], 41.0);
  for (const char* k : {"speedup", "mean_rel_err", "p99_rel_err", "max_rel_err",
                        "index_bytes_per_token", "build_ns_per_token", "compile_ms"}) {
    EXPECT_TRUE(r.metrics.count(k)) << k;
  }
  EXPECT_NE(r.feedback.find("lowest speedup: B8-N32768"), std::string::npos) << r.feedback;
  EXPECT_NE(r.feedback.find("attend: 4.0 us, 90 registers"), std::string::npos) << r.feedback;
  EXPECT_NE(r.feedback.find("16 B local (spills"), std::string::npos);
  EXPECT_NE(r.feedback.find("largest error: B8-N32768"), std::string::npos);
}

}  // namespace
}  // namespace kevo

namespace kevo {
namespace {

// Every result carries the noise of its speedup: from the spreads of the two medians of each
// workload, through the JSON the runners and the archive pass on.
TEST(ResultAssembly, SpeedupCarriesItsSpread) {
  WorkloadMeasure a, b;
  a.result = {"B1-N8192", 1, 8192, 10.0, 40.0, 4.0, 0.02, 0.05, 0.08, 0.0, {}};
  a.result.decode_spread = 0.03;
  a.result.dense_spread = 0.04;  // the ratio's spread: 0.05
  b.result = {"B8-N32768", 8, 32768, 100.0, 100.0, 1.0, 0.04, 0.1, 0.2, 0.0, {}};
  b.result.decode_spread = 0.01;
  b.result.dense_spread = 0.0;  // 0.01
  EvalResult r = assemble_result({a, b}, 41.0);
  EXPECT_NEAR(r.metrics["speedup_spread"], 0.03, 1e-12);  // mean of 0.05 and 0.01
  EXPECT_NE(r.feedback.find("timing noise 3.0%"), std::string::npos) << r.feedback;
  auto back = eval_result_from_json(to_json(r));
  ASSERT_TRUE(back.ok());
  EXPECT_DOUBLE_EQ(back->workloads[0].decode_spread, 0.03);
  EXPECT_DOUBLE_EQ(back->workloads[0].dense_spread, 0.04);
  EXPECT_NEAR(back->metrics["speedup_spread"], 0.03, 1e-12);
  EXPECT_EQ(to_json(r)["workloads"][1]["decode_spread"], 0.01);
  // Results without spreads (older archives) say 0, not a made-up figure.
  a.result.decode_spread = a.result.dense_spread = 0;
  b.result.decode_spread = 0;
  EXPECT_EQ(assemble_result({a, b}, 1.0).metrics["speedup_spread"], 0.0);
}

// A workload's whole shape travels with its result (the prompt resolves each kernel's grid from
// it); JSON from before it was kept reads 0.
TEST(ResultAssembly, WorkloadsCarryTheirWholeShape) {
  WorkloadMeasure a;
  a.result = {"B2-N8192", 2, 8192, 10.0, 40.0, 4.0, 0.02, 0.05, 0.08, 0.0, {}};
  a.result.Hq = 64;
  a.result.Hkv = 4;
  a.result.D = 96;
  nlohmann::json j = to_json(assemble_result({a}, 1.0));
  auto back = eval_result_from_json(j);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->workloads[0].Hq, 64);
  EXPECT_EQ(back->workloads[0].Hkv, 4);
  EXPECT_EQ(back->workloads[0].D, 96);
  for (const char* k : {"Hq", "Hkv", "D"}) j["workloads"][0].erase(k);
  back = eval_result_from_json(j);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->workloads[0].Hq, 0);
  EXPECT_EQ(back->workloads[0].B, 2);
}

}  // namespace
}  // namespace kevo
