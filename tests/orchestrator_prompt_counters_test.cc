// The parent's hardware counters in the prompt (issue 20): one reading line under each kernel
// that has counters, none where there are none, and the same from stored JSON.
#include <gtest/gtest.h>

#include "evaluator/counters.h"
#include "orchestrator/evolution/prompt.h"

namespace kevo {
namespace {

EvalResult parent_result(bool with_counters) {
  EvalResult r;
  r.fitness = 3.2;
  r.metrics = {{"speedup", 3.2}, {"mean_rel_err", 0.02}};
  WorkloadResult w;
  w.name = "B8-N32768";
  w.B = 8;
  w.N = 32768;
  w.decode_us = 100;
  w.dense_us = 320;
  w.speedup = 3.2;
  w.kernels.push_back({"score", 30, 40, 0, 0});
  w.kernels.push_back({"attend", 70, 128, 49152, 0});
  if (with_counters) {
    std::vector<double> v(counter_metric_names().size(), 0.0);
    v[0] = 46e6;   // dram__bytes_read.sum
    v[2] = 70000;  // gpu__time_duration.sum, ns
    v[5] = 16;     // sm__warps_active.avg.per_cycle_active
    v[7] = 100;    // smsp__issue_active.sum
    for (size_t i = 0; i < v.size(); ++i) {
      if (counter_metric_names()[i] == "smsp__warps_issue_stalled_long_scoreboard.sum") v[i] = 900;
    }
    w.kernels[1].counters = counters_from_values(v, 3300, 16);
  }
  r.workloads.push_back(w);
  return r;
}

Result<Prompt> build(const EvalResult& parent) {
  auto t = PromptTemplates::load_default();
  if (!t.ok()) return t.status();
  PromptContext c;
  c.parent = {
      "#include \"kevo/sparse_decode.cuh\"\n// kevo:decode attend grid(Hq, B) block(256)\n"
      "extern \"C\" __global__ void attend(const kevo::Args a) {}\n",
      {},
      parent};
  return t->build(c);
}

TEST(PromptCounters, EachProfiledKernelGetsOneReadingLine) {
  EvalResult r = parent_result(true);
  auto p = build(r);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  const std::string line =
      "hardware counters: " + describe_counters(*r.workloads[0].kernels[1].counters);
  const size_t at = p->user.find(line);
  ASSERT_NE(at, std::string::npos) << p->user;
  EXPECT_NE(line.find("reads 46.0 MB"), std::string::npos) << line;
  EXPECT_NE(line.find("stalled mostly on long_scoreboard"), std::string::npos) << line;
  // Right under its kernel's line, and only once: score has no counters.
  const size_t attend = p->user.rfind("attend: 70 us", at);
  ASSERT_NE(attend, std::string::npos);
  EXPECT_EQ(p->user.find('\n', attend) + 1 + std::string("      ").size(), at);
  EXPECT_EQ(p->user.find("hardware counters:", at + 1), std::string::npos);

  // The same from the stored JSON (what a resumed run reads back from the archive).
  auto info = program_from_result_json("src", {}, to_json(r));
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  ASSERT_TRUE(info->result.workloads[0].kernels[1].counters);
  EXPECT_EQ(describe_counters(*info->result.workloads[0].kernels[1].counters),
            describe_counters(*r.workloads[0].kernels[1].counters));
}

TEST(PromptCounters, NoCountersNoLine) {
  auto p = build(parent_result(false));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->user.find("hardware counters"), std::string::npos);
  EXPECT_NE(p->user.find("attend: 70 us"), std::string::npos);
}

}  // namespace
}  // namespace kevo
