// The evolution loop end to end on the CPU: a real archive (SQLite file), the real tuner, edits
// and prompt assembly, with an honest fake backend (compile checks the directives; "GPU" time
// is a known function of the params) and a scripted LLM client.
#include "orchestrator/evolution/evolution.h"

#include <gtest/gtest.h>

#include <cmath>
#include <mutex>
#include <set>

#include "tests/fake_backend.h"
#include "tests/fake_clock.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

using testing::FakeBackend;
using testing::FakeClock;

constexpr const char* kSeed = R"(#include "kevo/sparse_decode.cuh"
// kevo:param  TILE = 64 in {16, 32, 64, 128, 256}
// kevo:param  UNROLL = 1 in {1, 2, 4, 8}
// kevo:decode attend grid(Hq, B) block(TILE)
// EVOLVE-BLOCK-START
extern "C" __global__ void attend(const kevo::Args a) {
  // body
}
// EVOLVE-BLOCK-END
)";

// Replies in turn: a good edit, a block that does not match, garbage.
class ScriptedLlm : public LlmClient {
 public:
  Result<LlmReply> complete(const LlmRequest& req) override {
    std::lock_guard lock(mu);
    prompts.push_back(req.last_user());
    requests.push_back(req);
    LlmReply r;
    r.model = "scripted";
    r.tokens_in = 100;
    r.tokens_out = 50;
    switch (calls++ % 3) {
      case 0:
        r.text = "<<<<<<< SEARCH\n  // body\n=======\n  // FAST body " + std::to_string(calls) +
                 "\n>>>>>>> REPLACE\n";
        break;
      case 1:
        r.text = "<<<<<<< SEARCH\n  this line is not in the parent\n=======\n  x\n>>>>>>> REPLACE\n";
        break;
      default:
        r.text = "I am not sure what you want.";
    }
    return r;
  }
  std::mutex mu;
  int calls = 0;
  std::vector<std::string> prompts;
  std::vector<LlmRequest> requests;
};

KevoConfig test_config(const testing::TempDir& tmp, int evaluations) {
  KevoConfig c;
  testing::write_file(tmp.file("seed.cu"), kSeed);
  c.run.seeds = {tmp.file("seed.cu")};
  c.run.max_evaluations = evaluations;
  c.run.seed = 3;
  c.archive.islands = 2;
  c.sandbox.compile_workers = 2;
  c.evaluator.holdout_suite = "holdout";
  // A tripped breaker must not make a test wait for minutes.
  c.llm.breaker_pause_s = 0.05;
  c.llm.breaker_max_pause_s = 0.2;
  c.llm.parent_rest_s = 0.05;
  return c;
}

std::vector<GpuInfo> fake_gpus() {
  GpuInfo g;
  g.name = "Fake H100";
  g.sm_count = 132;
  g.l2_bytes = 50 << 20;
  g.copy_gbps = 2900;
  g.cc_major = 9;
  return {g};
}

// A new run of `config` in `tmp` (seeds added) on the fake backend and the test's clock. Keeps
// its own copy of the config: the loop holds a reference to it.
struct NewRun {
  NewRun(const testing::TempDir& tmp, KevoConfig run_config,
         std::vector<LlmModelHandle> models = {}, int clock_grace_ms = 2)
      : config(std::move(run_config)), clock(clock_grace_ms) {
    auto created = Archive::create(tmp.file("kevo.db"), RunInfo{"t"}, config.archive);
    EXPECT_TRUE(created.ok()) << created.status().to_string();
    if (!created.ok()) return;
    archive = std::move(*created);
    evo = std::make_unique<Evolution>(config, *archive, backend, std::move(models), fake_gpus());
    evo->set_clock(clock);
    EXPECT_TRUE(evo->add_seeds().ok());
  }
  Result<RunSummary> run(std::function<void(const Progress&)> progress = [](const Progress&) {}) {
    if (!evo) return Status::Internal("the archive was not created");
    return evo->run(stop, progress);
  }
  KevoConfig config;
  FakeBackend backend;
  FakeClock clock;
  std::atomic<bool> stop{false};
  std::unique_ptr<Archive> archive;
  std::unique_ptr<Evolution> evo;
};

TEST(Evolution, TunerImprovesTheSeedAndNeverEvaluatesTwice) {
  testing::TempDir tmp;
  // 20 param combinations exist: 16 evaluations leave the tuner room to search.
  NewRun r(tmp, test_config(tmp, 16));
  int progress_calls = 0;
  auto summary = r.run([&](const Progress&) { ++progress_calls; });
  ASSERT_TRUE(summary.ok()) << summary.status().to_string();
  EXPECT_EQ(summary->stop_reason, StopReason::kMaxEvaluations);
  EXPECT_EQ(summary->progress.evaluations, 16);
  EXPECT_GT(progress_calls, 0);
  // The seed (TILE=64, UNROLL=1) scores 3.0; the tuner must find better params.
  ASSERT_TRUE(summary->progress.best_fitness.has_value());
  EXPECT_GT(*summary->progress.best_fitness, 3.0);
  EXPECT_GT(summary->tuner_children, 0);
  // Every evaluation is of a distinct program (holdouts re-run elites on the other suite).
  EXPECT_EQ(r.backend.evaluations - r.backend.holdouts, 16);
  auto totals = r.archive->totals();
  ASSERT_TRUE(totals.ok());
  EXPECT_EQ(totals->pending, 0);
}

TEST(Evolution, StopsWhenTheTunerHasNothingLeftToTry) {
  testing::TempDir tmp;
  NewRun r(tmp, test_config(tmp, 100));  // more than the 20 param combinations
  auto summary = r.run();
  ASSERT_TRUE(summary.ok()) << summary.status().to_string();
  EXPECT_EQ(summary->stop_reason, StopReason::kSearchExhausted);
  EXPECT_EQ(summary->progress.evaluations, 20);
  EXPECT_GE(summary->progress.elapsed_s, 2) << "the idle timer ran on the test's clock";
}

// Near the end of its search most random moves land on programs already evaluated; the tuner
// then walks the parent's untried neighbours (and other elites) instead of leaving the pipeline
// empty until the next loop tick. Here PA and PB do not change the fitness, so the elites keep
// their first params and their neighbourhoods run out: the loop's clock must show no waiting
// but the 2 s idle timer that ends the run (it showed 40 ticks of 0.25 s before).
TEST(Evolution, TheTunerFindsWhatIsLeftWithoutWaitingForTicks) {
  testing::TempDir tmp;
  KevoConfig config = test_config(tmp, 2000);
  std::string seed = kSeed;
  seed.insert(seed.find("// kevo:decode"),
              "// kevo:param  PA = 0 in {0, 1, 2, 3, 4, 5, 6, 7}\n"
              "// kevo:param  PB = 0 in {0, 1, 2, 3, 4, 5, 6, 7}\n");
  testing::write_file(tmp.file("seed.cu"), seed);
  NewRun r(tmp, config, {}, /*clock_grace_ms=*/100);  // idle means idle, even on a loaded machine
  auto summary = r.run();
  ASSERT_TRUE(summary.ok()) << summary.status().to_string();
  EXPECT_EQ(summary->stop_reason, StopReason::kSearchExhausted);
  EXPECT_EQ(r.backend.evaluations - r.backend.holdouts, summary->progress.evaluations);
  EXPECT_LT(summary->progress.elapsed_s, 2.6);
  // "Exhausted" is true: every one-param move of every elite is in the archive.
  auto elites = r.archive->elites();
  ASSERT_TRUE(elites.ok());
  ASSERT_FALSE(elites->empty());
  std::set<ProgramId> elite_programs;
  for (const Elite& e : *elites) elite_programs.insert(e.program);
  EXPECT_GE(summary->tuned_out_parents, int64_t(elite_programs.size()));
  for (const Elite& e : *elites) {
    auto p = r.archive->program(e.program);
    ASSERT_TRUE(p.ok());
    auto spec = parse_task_spec(p->source);
    ASSERT_TRUE(spec.ok());
    auto values = spec->resolve_params(p->params);
    ASSERT_TRUE(values.ok());
    for (const ParamSpec& ps : spec->params) {
      for (int64_t choice : ps.choices) {
        std::map<std::string, int64_t> moved;  // stored form: what differs from the defaults
        for (const ParamSpec& q : spec->params) {
          int64_t v = q.name == ps.name ? choice : values->at(q.name);
          if (v != q.value) moved[q.name] = v;
        }
        auto found = r.archive->lookup_by_hash(program_hash(p->source, moved));
        ASSERT_TRUE(found.ok());
        EXPECT_TRUE(found->has_value())
            << "elite #" << e.program << ": " << ps.name << "=" << choice << " never tried";
      }
    }
  }
}

// The wall budget is read on the loop's clock: evaluations that take 20 s of it end a one-minute
// run after a handful, with no test waiting a minute.
TEST(Evolution, WallBudgetEndsTheRunOnTheLoopsClock) {
  testing::TempDir tmp;
  KevoConfig config = test_config(tmp, 100);
  config.run.max_wall_minutes = 1;
  NewRun r(tmp, config);
  r.backend.on_evaluate = [&] { r.clock.advance(20); };
  auto summary = r.run();
  ASSERT_TRUE(summary.ok()) << summary.status().to_string();
  EXPECT_EQ(summary->stop_reason, StopReason::kMaxWallMinutes);
  EXPECT_GE(summary->progress.elapsed_s, 60);
  EXPECT_LT(summary->progress.evaluations, 20);
}

TEST(Evolution, StopFlagEndsCleanlyAndResumeContinues) {
  testing::TempDir tmp;
  KevoConfig config = test_config(tmp, 14);
  {
    NewRun r(tmp, config);
    r.backend.stop_flag = &r.stop;
    r.backend.stop_at = 5;
    auto summary = r.run();
    ASSERT_TRUE(summary.ok()) << summary.status().to_string();
    EXPECT_EQ(summary->stop_reason, StopReason::kInterrupted);
    EXPECT_LT(summary->progress.evaluations, 14);
  }
  auto archive = Archive::open(tmp.file("kevo.db"));
  ASSERT_TRUE(archive.ok()) << archive.status().to_string();
  auto before = (*archive)->totals();
  ASSERT_TRUE(before.ok());
  FakeBackend backend;
  Evolution evo(config, **archive, backend, {}, fake_gpus());
  FakeClock clock;
  evo.set_clock(clock);
  std::atomic<bool> stop{false};
  auto summary = evo.run(stop, [](const Progress&) {});
  ASSERT_TRUE(summary.ok()) << summary.status().to_string();
  EXPECT_EQ(summary->progress.evaluations, 14);
  auto after = (*archive)->totals();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->pending, 0);
  EXPECT_GE(after->evaluations, before->evaluations);
}

TEST(Evolution, LlmChildrenEditFailuresAndGarbageDoNotStopTheRun) {
  testing::TempDir tmp;
  KevoConfig config = test_config(tmp, 24);
  config.run.tuner_share = 0.2;
  config.llm.max_in_flight = 4;
  ScriptedLlm llm;
  NewRun r(tmp, config, {{"scripted", &llm}});
  auto summary = r.run();
  ASSERT_TRUE(summary.ok()) << summary.status().to_string();
  EXPECT_GT(summary->llm_children, 0);
  EXPECT_GT(summary->llm_edit_failures, 0);
  // A FAST child doubles the parent's fitness: the best must come from an LLM child.
  ASSERT_TRUE(summary->progress.best_fitness.has_value());
  auto best = r.archive->program(*summary->progress.best_program);
  ASSERT_TRUE(best.ok());
  EXPECT_NE(best->source.find("FAST"), std::string::npos);
  // Prompts carry the parent's source and the task; a failed edit is fed back on the retry.
  std::lock_guard lock(llm.mu);
  ASSERT_FALSE(llm.prompts.empty());
  EXPECT_NE(llm.prompts.front().find("kevo:param"), std::string::npos);
  bool saw_feedback = false;
  for (const auto& p : llm.prompts) saw_feedback |= p.find("not in the parent") != std::string::npos;
  EXPECT_TRUE(saw_feedback);
}

}  // namespace
}  // namespace kevo
