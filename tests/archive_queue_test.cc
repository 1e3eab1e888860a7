// The work queue (archive/queue.h) on both engines: tasks are found again rather than queued
// twice, a worker takes only its GPU model's tasks, concurrent workers never take one task, an
// expired lease puts the task back and the max_claims-th expiry ends it as crash, heartbeats keep
// a lease, a lost lease drops the late result, and a stopped worker gives its tasks back.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "archive/archive.h"
#include "archive/queue.h"
#include "tests/archive_fixtures.h"
#include "tests/pg_support.h"

namespace kevo {
namespace {

using testing::Backend;
using testing::eval_json;
using testing::kernel_source;

class ArchiveQueue : public testing::ArchiveBackendTest {
 protected:
  void SetUp() override {
    testing::ArchiveBackendTest::SetUp();
    if (IsSkipped()) return;
    auto ar = Archive::create(location(), testing::test_run(), testing::test_config(1));
    ASSERT_TRUE(ar.ok()) << ar.status().to_string();
    archive = std::move(*ar);
  }

  ProgramId add(int variant) {
    auto b = archive->begin_evaluation(
        {kernel_source(variant), {{"BITS", 16}}, std::nullopt, 0, "tuner", std::nullopt});
    EXPECT_TRUE(b.ok()) << b.status().to_string();
    return b->id;
  }

  std::unique_ptr<WorkQueue> queue() {
    auto q = WorkQueue::open(location());
    EXPECT_TRUE(q.ok()) << q.status().to_string();
    return q.ok() ? std::move(*q) : nullptr;
  }

  static TaskRequest request(ProgramId p, const std::string& model = "H200", int max_claims = 2) {
    TaskRequest r;
    r.program = p;
    r.suite = "llama3-8b";
    r.gpu_model = model;
    r.max_claims = max_claims;
    return r;
  }

  std::unique_ptr<Archive> archive;
};

INSTANTIATE_TEST_SUITE_P(Backends, ArchiveQueue,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         testing::backend_name);

TEST_P(ArchiveQueue, ATaskIsFoundAgainAndOnlyItsGpuModelTakesIt) {
  auto q = queue();
  ProgramId p = add(1);
  auto t = q->enqueue(request(p));
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(*q->enqueue(request(p)), *t);  // a resumed orchestrator finds it
  auto by_hash = q->enqueue_by_hash(archive->program(p)->hash, request(0));
  ASSERT_TRUE(by_hash.ok()) << by_hash.status().to_string();
  EXPECT_EQ(*by_hash, *t);
  EXPECT_EQ(q->enqueue_by_hash(std::string(64, '0'), request(0)).status().code(),
            StatusCode::kNotFound);
  TaskRequest holdout = request(p);
  holdout.purpose = kTaskHoldout;
  EXPECT_NE(*q->enqueue(holdout), *t);  // another purpose, another task

  auto w = q->register_worker("hostA", 41, "A100", 1);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  EXPECT_FALSE((*q->claim(*w, "hostA gpu 0", "A100", 30)).has_value());
  auto h = *q->register_worker("hostB", 42, "H200", 8);
  auto c = q->claim(h, "hostB gpu 3", "H200", 30);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->id, *t);  // oldest first
  EXPECT_EQ((*c)->program, p);
  EXPECT_EQ((*c)->purpose, kTaskEval);
  EXPECT_EQ((*c)->suite, "llama3-8b");
  EXPECT_EQ((*c)->claims, 1);
  EXPECT_EQ((*c)->source, normalize_source(kernel_source(1)));
  EXPECT_EQ((*c)->params.at("BITS"), 16);

  // Not done yet: nothing to take. Done: taken once, then the task is recorded.
  EXPECT_TRUE(q->take_results({*t})->empty());
  ASSERT_TRUE(*q->finish(*t, h, eval_json("ok", 2.5, 0.01, 4), 0.8));
  auto got = q->take_results({*t, 999});
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].result["metrics"]["speedup"], 2.5);
  EXPECT_EQ((*got)[0].result["artifacts"]["feedback"], "score 3.1 us, attend 4.8 us");
  EXPECT_TRUE(q->take_results({*t})->empty());
  auto counts = q->counts();
  EXPECT_EQ(counts->by_state["recorded"], 1);
  EXPECT_EQ(counts->by_state["queued"], 1);  // the holdout
  // A taken result lost with its orchestrator: asking again queues the task again.
  EXPECT_EQ(*q->enqueue(request(p)), *t);
  EXPECT_EQ(q->counts()->by_state["queued"], 2);
  auto workers = q->workers(60);
  ASSERT_EQ(workers->size(), 2u);
  EXPECT_EQ((*workers)[0].host, "hostB");
  EXPECT_EQ((*workers)[0].evaluations, 1);
  EXPECT_DOUBLE_EQ((*workers)[0].busy_s, 0.8);
  // Extras nobody waits for any more are withdrawn; evaluations stay.
  ASSERT_TRUE(q->withdraw_extras().ok());
  EXPECT_EQ(q->counts()->by_state["queued"], 1);
}

TEST_P(ArchiveQueue, ConcurrentWorkersNeverTakeOneTask) {
  auto q = queue();
  std::vector<TaskId> tasks;
  for (int i = 0; i < 60; ++i) tasks.push_back(*q->enqueue(request(add(100 + i))));
  std::mutex mu;
  std::multiset<TaskId> taken;
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      auto mine = queue();  // a connection of its own, as a worker process has
      int64_t id = *mine->register_worker("host" + std::to_string(w), w, "H200", 1);
      while (true) {
        auto c = mine->claim(id, "w", "H200", 30);
        ASSERT_TRUE(c.ok()) << c.status().to_string();
        if (!c->has_value()) return;
        {
          std::lock_guard lock(mu);
          taken.insert((*c)->id);
        }
        auto f = mine->finish((*c)->id, id, eval_json("ok", 1, 0.01, 4), 0.01);
        ASSERT_TRUE(f.ok()) << f.status().to_string();
        EXPECT_TRUE(*f);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(taken.size(), tasks.size());
  EXPECT_EQ(std::set<TaskId>(taken.begin(), taken.end()).size(), tasks.size());
  EXPECT_EQ(q->take_results(tasks)->size(), tasks.size());
}

TEST_P(ArchiveQueue, AnExpiredLeaseRequeuesAndTheLastOneEndsAsCrash) {
  auto q = queue();
  TaskId t = *q->enqueue(request(add(1), "H200", 2));
  int64_t a = *q->register_worker("a", 1, "H200", 1), b = *q->register_worker("b", 2, "H200", 1);
  ASSERT_TRUE((*q->claim(a, "a gpu 0", "H200", 0.2)).has_value());
  EXPECT_EQ(*q->expire_leases(), 0);  // not yet
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(*q->expire_leases(), 1);
  auto again = q->claim(b, "b gpu 0", "H200", 0.2);
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->id, t);
  EXPECT_EQ((*again)->claims, 2);
  // The first worker comes back late: its result is dropped.
  EXPECT_FALSE(*q->finish(t, a, eval_json("ok", 9, 0.01, 4), 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(*q->expire_leases(), 1);
  auto done = q->take_results({t});
  ASSERT_EQ(done->size(), 1u);
  EXPECT_EQ((*done)[0].result["status"], "crash");
  EXPECT_NE((*done)[0].result["message"].get<std::string>().find("not tried again"),
            std::string::npos);
  EXPECT_FALSE((*q->claim(b, "b gpu 0", "H200", 1)).has_value());
  EXPECT_EQ(q->counts()->requeued, 1);
}

TEST_P(ArchiveQueue, HeartbeatsKeepALeaseAndAStoppedWorkerGivesItsTasksBack) {
  auto q = queue();
  TaskId t = *q->enqueue(request(add(1)));
  int64_t a = *q->register_worker("a", 1, "H200", 1);
  ASSERT_TRUE((*q->claim(a, "a gpu 0", "H200", 0.4)).has_value());
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_TRUE(q->heartbeat(a, 0.4).ok());
    EXPECT_EQ(*q->expire_leases(), 0);
  }
  ASSERT_TRUE(q->stop_worker(a).ok());
  EXPECT_EQ(q->workers(60)->size(), 0u);  // stopped: not alive
  EXPECT_EQ(q->workers()->size(), 1u);
  int64_t b = *q->register_worker("b", 2, "H200", 1);
  auto c = q->claim(b, "b gpu 0", "H200", 30);
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->id, t);
  EXPECT_EQ((*c)->claims, 1);  // a clean stop does not count against the candidate
}

TEST_P(ArchiveQueue, AWorkerSeesTheRunAndRefusesAnArchiveWithoutOne) {
  auto q = queue();
  auto run = q->run();
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(run->has_value());
  EXPECT_EQ((*run)->name, "test-run");
  EXPECT_EQ(WorkQueue::open(location("empty")).status().code(), StatusCode::kNotFound);
}

// A worker started with the run opens the archive while the orchestrator creates it: it finds
// no run yet (and waits) or the whole schema, never a version in between, which it would take
// for an old archive and quit ("has schema version 3 ... resume the run first"; seen in CI).
TEST_P(ArchiveQueue, AWorkerOpeningDuringCreationSeesNoRunOrTheWholeSchema) {
  for (int round = 0; round < 5; ++round) {
    const std::string where = location("racing" + std::to_string(round));
    std::atomic<bool> created{false};
    std::vector<std::string> errors;
    int opened = 0, not_yet = 0;
    std::thread worker([&] {
      while (true) {
        const bool done = created.load();  // read before opening: an open after it must succeed
        auto q = WorkQueue::open(where);
        if (q.ok()) {
          ++opened;
          break;
        }
        if (q.status().code() == StatusCode::kNotFound) {
          ++not_yet;
        } else {
          errors.push_back(q.status().message());
        }
        if (done) break;
      }
    });
    auto ar = Archive::create(where, testing::test_run(), testing::test_config(1));
    ASSERT_TRUE(ar.ok()) << ar.status().to_string();
    created = true;
    worker.join();
    EXPECT_TRUE(errors.empty()) << errors.front();
    EXPECT_EQ(opened, 1) << "round " << round << ": " << not_yet << " tries found no run";
  }
}

}  // namespace
}  // namespace kevo
