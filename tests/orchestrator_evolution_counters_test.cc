// evaluator.counters in the evolution loop (issue 20): with "elites", every new elite gets one
// counters-only request and its stored result gains the counters (timings and metrics as they
// were); with "off" (or "all", where the runner measures them itself) the loop asks for none.
#include <gtest/gtest.h>

#include <cmath>
#include <mutex>

#include "orchestrator/evolution/evolution.h"
#include "tests/fake_clock.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

constexpr const char* kSeed = R"(#include "kevo/sparse_decode.cuh"
// EVOLVE-BLOCK-START
// kevo:param  TILE = 64 in {16, 32, 64, 128, 256}
// kevo:decode attend grid(Hq, B) block(TILE)
extern "C" __global__ void attend(const kevo::Args a) {
}
// EVOLVE-BLOCK-END
)";

// Fitness grows with TILE, so the tuner finds new elites; one workload, one kernel.
class CountingBackend : public EvaluationBackend {
 public:
  std::future<CompileOutcome> compile(Candidate c) override {
    CompileOutcome o;
    auto spec = parse_task_spec(c.source);
    auto params = spec.ok() ? spec->resolve_params(c.params)
                            : Result<std::map<std::string, int64_t>>(spec.status());
    if (!params.ok()) {
      o.status = EvalStatus::kRejectedSource;
      o.message = params.status().message();
    } else {
      o.params = *params;
      o.cubin = "fake";
    }
    std::promise<CompileOutcome> p;
    p.set_value(o);
    return p.get_future();
  }
  EvalResult evaluate(int, const Candidate&, const CompileOutcome& o,
                      const std::string& suite) override {
    std::lock_guard lock(mu);
    ++evaluations;
    EvalResult r;
    r.fitness = std::log2(double(o.params.at("TILE")));
    r.metrics = {{"speedup", r.fitness}, {"mean_rel_err", 0.01}, {"index_bytes_per_token", 4}};
    WorkloadResult w;
    w.name = suite + "-B8-N32768";
    w.decode_us = 100 / r.fitness;
    w.kernels.push_back({"attend", w.decode_us, 64, 0, 0});
    r.workloads.push_back(w);
    return r;
  }
  EvalResult measure_counters(int, const Candidate&, const CompileOutcome& o,
                              const std::string& suite) override {
    std::lock_guard lock(mu);
    ++counter_requests;
    EvalResult r;
    r.counters = CountersRun{7, 90, ""};
    WorkloadResult w;
    w.name = suite + "-B8-N32768";
    w.kernels.push_back({"attend", 0, 64, 0, 0});
    KernelCounters c;
    c.dram_read_bytes = double(o.params.at("TILE"));  // which program it was measured for
    w.kernels[0].counters = c;
    r.workloads.push_back(w);
    return r;
  }
  int gpu_count() const override { return 1; }

  std::mutex mu;
  int evaluations = 0, counter_requests = 0;
};

struct Outcome {
  int counter_requests = 0;
  int elites = 0;
  int elites_with_counters = 0;
};

Outcome run(const std::string& counters_mode) {
  testing::TempDir tmp;
  KevoConfig config;
  testing::write_file(tmp.file("seed.cu"), kSeed);
  config.run.seeds = {tmp.file("seed.cu")};
  config.run.max_evaluations = 5;
  config.run.seed = 3;
  config.archive.islands = 1;
  config.sandbox.compile_workers = 1;
  config.evaluator.holdout_suite = "";
  config.evaluator.counters = counters_mode;
  auto archive = Archive::create(tmp.file("kevo.db"), RunInfo{"t"}, config.archive);
  EXPECT_TRUE(archive.ok()) << archive.status().to_string();
  CountingBackend backend;
  Evolution evo(config, **archive, backend, {}, {GpuInfo{}});
  testing::FakeClock clock;
  evo.set_clock(clock);
  EXPECT_TRUE(evo.add_seeds().ok());
  std::atomic<bool> stop{false};
  auto summary = evo.run(stop, [](const Progress&) {});
  EXPECT_TRUE(summary.ok()) << summary.status().to_string();
  Outcome out;
  out.counter_requests = backend.counter_requests;
  auto ids = (*archive)->elites();
  EXPECT_TRUE(ids.ok());
  std::set<ProgramId> seen;
  for (const Elite& e : *ids) {
    if (!seen.insert(e.program).second) continue;
    auto p = (*archive)->program(e.program);
    EXPECT_TRUE(p.ok());
    ++out.elites;
    const auto& k = p->result["workloads"][0]["kernels"][0];
    EXPECT_EQ(p->result["workloads"][0]["decode_us"], 100 / *p->fitness);  // timing as it was
    if (k.contains("counters")) {
      ++out.elites_with_counters;
      EXPECT_EQ(k["counters"]["dram_read_bytes"], double(p->params.at("TILE")));
      EXPECT_EQ(p->result["counters"]["passes"], 7);
    }
  }
  return out;
}

TEST(EvolutionCounters, ElitesGetCountersOnceEach) {
  Outcome o = run("elites");
  EXPECT_GT(o.elites, 0);
  EXPECT_GE(o.counter_requests, o.elites);  // some were elites once and replaced since
  EXPECT_EQ(o.elites_with_counters, o.elites);
}

TEST(EvolutionCounters, OffAndAllMakeNoCountersRequests) {
  for (const char* mode : {"off", "all"}) {
    Outcome o = run(mode);
    EXPECT_EQ(o.counter_requests, 0) << mode;
    EXPECT_EQ(o.elites_with_counters, 0) << mode;
  }
}

}  // namespace
}  // namespace kevo
