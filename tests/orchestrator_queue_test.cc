// The evolution loop through the work queue, in one process: the real loop and archive on both
// engines, a QueueBackend in place of the GPUs, and QueueWorker threads evaluating with the
// honest fake backend (tests/fake_backend.h). The process-level cases (SIGKILL of a worker, of
// the orchestrator) are in cli_worker_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "archive/queue.h"
#include "orchestrator/evolution/queue_backend.h"
#include "orchestrator/evolution/queue_worker.h"
#include "tests/fake_backend.h"
#include "tests/pg_support.h"

namespace kevo {
namespace {

using testing::Backend;
using testing::FakeBackend;

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

class QueueLoop : public testing::ArchiveBackendTest {
 protected:
  KevoConfig config(int evaluations) {
    KevoConfig c;
    testing::write_file(dir.file("seed.cu"), kSeed);
    c.run.seeds = {dir.file("seed.cu")};
    c.run.max_evaluations = evaluations;
    c.run.seed = 3;
    c.archive.islands = 2;
    c.evaluator.holdout_suite = "holdout";
    return c;
  }
  QueueBackendOptions options(const KevoConfig& c) {
    QueueBackendOptions o;
    o.gpu_model = "Fake H100";
    o.suite = c.evaluator.suite;
    o.slots = 4;
    o.poll_s = 0.02;
    return o;
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, QueueLoop,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         testing::backend_name);

TEST_P(QueueLoop, TwoWorkersEvaluateARunAndEveryResultIsRecorded) {
  KevoConfig c = config(16);
  auto archive = Archive::create(location(), RunInfo{"t"}, c.archive);
  ASSERT_TRUE(archive.ok()) << archive.status().to_string();
  auto backend = QueueBackend::start(location(), options(c));
  ASSERT_TRUE(backend.ok()) << backend.status().to_string();

  std::atomic<bool> stop_workers{false};
  FakeBackend gpu_a, gpu_b, other_model;
  QueueWorkerOptions wo;
  wo.idle_wait_s = 0.02;
  QueueWorker a(location(), gpu_a, {"Fake H100"}, wo), b(location(), gpu_b, {"Fake H100"}, wo);
  QueueWorker c2(location(), other_model, {"Fake A100"}, wo);
  Result<WorkerSummary> sa = Status::Internal(""), sb = sa, sc = sa;
  std::thread ta([&] { sa = a.run(stop_workers); });
  std::thread tb([&] { sb = b.run(stop_workers); });
  std::thread tc([&] { sc = c2.run(stop_workers); });

  Evolution evo(c, **archive, **backend, {}, {});
  ASSERT_TRUE(evo.add_seeds().ok());
  std::atomic<bool> stop{false};
  auto summary = evo.run(stop, [](const Progress&) {});
  stop_workers = true;
  ta.join(), tb.join(), tc.join();
  ASSERT_TRUE(summary.ok()) << summary.status().to_string();
  EXPECT_EQ(summary->stop_reason, StopReason::kMaxEvaluations);
  EXPECT_EQ(summary->progress.evaluations, 16);
  ASSERT_TRUE(summary->progress.best_fitness.has_value());
  EXPECT_GT(*summary->progress.best_fitness, 3.0);  // the tuner improved on the seed
  EXPECT_EQ((*archive)->totals()->pending, 0);

  // Both workers took part, the other model's took nothing, and every evaluation of a program
  // happened once (holdouts re-run elites on the other suite).
  ASSERT_TRUE(sa.ok() && sb.ok() && sc.ok());
  EXPECT_GT(sa->finished, 0);
  EXPECT_GT(sb->finished, 0);
  EXPECT_EQ(sc->finished, 0);
  EXPECT_EQ(other_model.evaluations, 0);
  EXPECT_EQ(gpu_a.evaluations + gpu_b.evaluations - gpu_a.holdouts - gpu_b.holdouts, 16);
  EXPECT_GT(gpu_a.holdouts + gpu_b.holdouts, 0);
  auto q = WorkQueue::open(location());
  ASSERT_TRUE(q.ok());
  auto counts = (*q)->counts();
  // A new elite gets a holdout and a counters task besides its evaluation.
  EXPECT_EQ(counts->by_state["recorded"], 16 + 2 * (gpu_a.holdouts + gpu_b.holdouts));
  EXPECT_EQ(counts->by_state["queued"] + counts->by_state["running"], 0);
  // The holdout result reached the archive, apart from the program's own result.
  int with_holdout = 0;
  for (ProgramId id = 1; id <= 16; ++id) {
    auto p = (*archive)->program(id);
    ASSERT_TRUE(p.ok());
    if (!p->holdout.is_null()) ++with_holdout;
  }
  EXPECT_EQ(with_holdout, gpu_a.holdouts + gpu_b.holdouts);
}

// Compiling takes longer than evaluating on a real GPU host, so a worker compiles the next queued
// tasks while it evaluates: task k+1 is compiled before task k is evaluated, each program once,
// and nothing is claimed early (a task queued for another model is neither compiled nor taken).
TEST_P(QueueLoop, AWorkerCompilesTheNextTasksBeforeItEvaluates) {
  KevoConfig c = config(8);
  auto archive = Archive::create(location(), RunInfo{"t"}, c.archive);
  ASSERT_TRUE(archive.ok()) << archive.status().to_string();
  auto q = WorkQueue::open(location());
  ASSERT_TRUE(q.ok()) << q.status().to_string();
  auto queue = [&](int tile, int unroll, const std::string& model) {
    auto b = (*archive)->begin_evaluation({normalize_source(kSeed),
                                           {{"TILE", tile}, {"UNROLL", unroll}},
                                           std::nullopt,
                                           0,
                                           "seed",
                                           std::nullopt});
    EXPECT_TRUE(b.ok());
    TaskRequest r;
    r.program = b->id;
    r.suite = c.evaluator.suite;
    r.gpu_model = model;
    EXPECT_TRUE((*q)->enqueue(r).ok());
    return b->id;
  };
  std::vector<ProgramId> mine;
  for (int tile : {16, 32, 64, 128, 256}) mine.push_back(queue(tile, 1, "Fake H100"));
  const ProgramId other = queue(64, 2, "Fake A100");
  auto peeked = (*q)->peek("Fake H100", 2);
  ASSERT_TRUE(peeked.ok()) << peeked.status().to_string();
  ASSERT_EQ(peeked->size(), 2u);
  EXPECT_EQ((*peeked)[0].program, mine[0]);
  EXPECT_EQ((*peeked)[1].params.at("TILE"), 32);
  EXPECT_NE((*peeked)[0].source.find("EVOLVE-BLOCK-START"), std::string::npos);

  FakeBackend gpu;
  QueueWorkerOptions wo;
  wo.max_tasks = 5;
  wo.idle_wait_s = 0.02;
  QueueWorker w(location(), gpu, {"Fake H100"}, wo);
  std::atomic<bool> stop{false};
  auto summary = w.run(stop);
  ASSERT_TRUE(summary.ok()) << summary.status().to_string();
  EXPECT_EQ(summary->finished, 5);

  auto name = [](ProgramId id) { return "program " + std::to_string(id); };
  auto at = [&](const std::string& event) {
    auto it = std::find(gpu.events.begin(), gpu.events.end(), event);
    return it == gpu.events.end() ? -1 : int(it - gpu.events.begin());
  };
  for (size_t k = 0; k < mine.size(); ++k) {
    EXPECT_EQ(std::count(gpu.events.begin(), gpu.events.end(), "compile " + name(mine[k])), 1)
        << name(mine[k]);
    ASSERT_GE(at("evaluate " + name(mine[k])), 0) << name(mine[k]);
    if (k + 1 < mine.size()) {
      EXPECT_LT(at("compile " + name(mine[k + 1])), at("evaluate " + name(mine[k])))
          << "task " << k + 1 << " was not compiled while task " << k << " ran";
    }
  }
  EXPECT_EQ(at("compile " + name(other)), -1);
  auto counts = (*q)->counts();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->by_state["queued"], 1);  // the other model's, never claimed
}

TEST_P(QueueLoop, ACompileErrorComesBackFromTheWorkerAndARefusedSourceNeverLeaves) {
  KevoConfig c = config(4);
  auto archive = Archive::create(location(), RunInfo{"t"}, c.archive);
  ASSERT_TRUE(archive.ok()) << archive.status().to_string();
  auto backend = QueueBackend::start(location(), options(c));
  ASSERT_TRUE(backend.ok()) << backend.status().to_string();
  // A source the sandbox would refuse: rejected here, no task.
  Candidate bad{"bad", "#include \"/etc/passwd\"\n", {}};
  EXPECT_EQ((*backend)->compile(bad).get().status, EvalStatus::kRejectedSource);
  // One that only a compiler rejects: the worker's compile error is the result.
  std::string source = normalize_source(std::string(kSeed) + "// NOCOMPILE\n");
  auto b = (*archive)->begin_evaluation({source, {}, std::nullopt, 0, "seed", std::nullopt});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*backend)->compile({"p", source, {}}).get().status, EvalStatus::kOk);
  std::atomic<bool> stop{false};
  FakeBackend gpu;
  QueueWorkerOptions wo;
  wo.max_tasks = 1;
  wo.idle_wait_s = 0.02;
  QueueWorker w(location(), gpu, {"Fake H100"}, wo);
  std::thread t([&] { (void)w.run(stop); });
  EvalResult r = (*backend)->evaluate(0, {"p", source, {}}, {}, c.evaluator.suite);
  t.join();
  EXPECT_EQ(r.status, EvalStatus::kCompileError);
  EXPECT_NE(r.message.find("NOCOMPILE"), std::string::npos);
  EXPECT_EQ(gpu.evaluations, 0);
}

}  // namespace
}  // namespace kevo
