// Crash safety and concurrency: a writer killed with SIGKILL in the middle of its writes leaves
// a file that passes PRAGMA integrity_check and holds every program it had committed, and a
// reader running beside a writer always sees one consistent snapshot.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "archive/archive.h"
#include "archive/rng.h"
#include "archive/sql.h"
#include "tests/archive_fixtures.h"
#include "tests/test_support.h"

namespace kevo {
namespace {
using testing::eval_json;
using testing::kernel_source;
using testing::TempDir;

// The child's loop: record an LLM call, claim a program, record its result; after each commit,
// report the program id on `fd`. Never returns.
[[noreturn]] void write_forever(const std::string& path, bool create, int round, int fd) {
  auto ar = create ? Archive::create(path, testing::test_run(), testing::test_config(2))
                   : Archive::open(path);
  if (!ar.ok()) _exit(2);
  Rng rng(round);
  for (int i = 0;; ++i) {
    LlmCall call;
    call.model = "m";
    call.prompt = std::string(20000, 'p');  // big rows: the kill lands inside page writes
    call.response = std::string(5000, 'r');
    call.cost_usd = 0.01;
    auto call_id = (*ar)->record_llm_call(call);
    auto b = (*ar)->begin_evaluation({kernel_source(round * 1000000 + i), {}, std::nullopt,
                                      i % 2, "llm", call_id.ok() ? *call_id : -1});
    if (!b.ok()) _exit(3);
    auto r = (*ar)->record_result(b->id, eval_json(rng.below(3) ? "ok" : "inaccurate",
                                                   1 + rng.uniform(), 0.001 * (1 + rng.below(60)),
                                                   static_cast<double>(rng.below(100))));
    if (!r.ok()) _exit(4);
    int64_t id = b->id;
    if (write(fd, &id, sizeof(id)) != sizeof(id)) _exit(5);
  }
}

TEST(ArchiveCrash, KilledWriterLeavesAConsistentFileWithEveryCommittedProgram) {
  TempDir dir;
  const std::string path = dir.file("run/kevo.db");
  std::vector<int64_t> committed;
  for (int round = 0; round < 4; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      write_forever(path, round == 0, round, fds[1]);
    }
    close(fds[1]);
    // Let it commit a while, then kill it at a varying moment inside its next writes.
    for (int n = 0; n < 60 + 17 * round; ++n) {
      int64_t id;
      ASSERT_EQ(read(fds[0], &id, sizeof(id)), static_cast<ssize_t>(sizeof(id))) << "writer died";
      committed.push_back(id);
    }
    usleep(300 * round);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int wstatus = 0;
    ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL) << "exit " << wstatus;
    int64_t id;  // ids reported between our last read and the kill were committed too
    while (read(fds[0], &id, sizeof(id)) == static_cast<ssize_t>(sizeof(id))) committed.push_back(id);
    close(fds[0]);

    {
      auto db = sql::Db::open(path, sql::Db::Mode::kReadWrite, 5000);
      ASSERT_TRUE(db.ok()) << db.status().to_string();
      EXPECT_EQ(*db->query_text("PRAGMA integrity_check"), "ok");
      // The counters kept beside the rows agree with the rows.
      int64_t rows_done = *db->query_int("SELECT count(*) FROM programs WHERE status <> 'pending'");
      int64_t rows_pending = *db->query_int("SELECT count(*) FROM programs WHERE status = 'pending'");
      EXPECT_EQ(*db->query_int("SELECT value FROM kv WHERE key = 'archive.evaluations'"), rows_done);
      EXPECT_EQ(*db->query_int("SELECT coalesce(sum(value), 0) FROM kv WHERE key LIKE "
                               "'archive.count.%' AND key <> 'archive.count.pending'"),
                rows_done);
      EXPECT_EQ(*db->query_int("SELECT coalesce(max(value), 0) FROM kv WHERE key = "
                               "'archive.count.pending'"),
                rows_pending);
      // No row from foreign_key_check: no dangling parent or LLM call reference.
      EXPECT_EQ(db->query_text("PRAGMA foreign_key_check").status().code(), StatusCode::kNotFound);
    }
    auto ar = Archive::open(path);  // the dead writer's lock is gone
    ASSERT_TRUE(ar.ok()) << ar.status().to_string();
    for (int64_t pid_ok : committed) {
      auto p = (*ar)->program(pid_ok);
      ASSERT_TRUE(p.ok()) << "committed program #" << pid_ok << " lost";
      EXPECT_NE(p->status, kPending);
      EXPECT_TRUE(p->result.contains("workloads"));
    }
    auto t = (*ar)->totals();
    int64_t evaluated = 0;
    for (const auto& [status, n] : t->by_status) evaluated += n;
    EXPECT_EQ(t->evaluations, evaluated);  // the counter moved with each result, never apart
    EXPECT_GE(t->evaluations, static_cast<int64_t>(committed.size()));
    EXPECT_LE(t->pending, 1);  // at most the one evaluation in flight was lost
    auto pending = (*ar)->pending_evaluations();
    ASSERT_TRUE(pending.ok());
    for (ProgramId lost : *pending) ASSERT_TRUE((*ar)->cancel_evaluation(lost).ok());
  }
}

TEST(ArchiveConcurrency, ReaderSeesConsistentSnapshotsWhileAWriterInserts) {
  TempDir dir;
  const std::string path = dir.file("run/kevo.db");
  auto ar = std::move(Archive::create(path, testing::test_run(), testing::test_config(2))).value();
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::thread reader([&] {
    auto r = ArchiveReader::open(path);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    int64_t last_evaluations = 0;
    double last_best = 0;
    while (!done.load()) {
      auto rep = (*r)->status_report();
      ASSERT_TRUE(rep.ok()) << rep.status().to_string();
      int64_t evaluated = 0;
      for (const auto& [status, n] : rep->totals.by_status) evaluated += n;
      // Program rows and the counter change in one transaction: a snapshot shows both or neither.
      ASSERT_EQ(evaluated, rep->totals.evaluations);
      // Each program follows its own LLM call's transaction: at most one call ahead.
      int64_t calls_ahead = rep->totals.llm_calls - rep->totals.evaluations - rep->totals.pending;
      ASSERT_TRUE(calls_ahead == 0 || calls_ahead == 1) << calls_ahead;
      ASSERT_GE(rep->totals.evaluations, last_evaluations);
      last_evaluations = rep->totals.evaluations;
      if (rep->totals.best) {
        ASSERT_GE(rep->totals.best->fitness, last_best);
        last_best = rep->totals.best->fitness;
      }
      for (const Elite& e : rep->elites) {
        auto p = (*r)->program(e.program);
        ASSERT_TRUE(p.ok());
        ASSERT_EQ(p->status, "ok");
        ASSERT_EQ(p->cell, e.cell);
      }
      auto top = (*r)->top({5, std::nullopt, false});
      ASSERT_TRUE(top.ok());
      for (size_t i = 1; i < top->size(); ++i) ASSERT_GE(*(*top)[i - 1].fitness, *(*top)[i].fitness);
      ++reads;
    }
  });
  Rng rng(9);
  for (int i = 0; i < 400; ++i) {
    LlmCall call;
    call.model = "m";
    ASSERT_TRUE(ar->record_llm_call(call).ok());
    auto b = ar->begin_evaluation({kernel_source(i), {}, std::nullopt, i % 2, "llm", std::nullopt});
    ASSERT_TRUE(b.ok());
    ASSERT_TRUE(ar->record_result(b->id, eval_json(rng.below(4) ? "ok" : "timeout",
                                                   1 + rng.uniform() * i, 0.001 * (1 + rng.below(80)),
                                                   static_cast<double>(rng.below(64))))
                    .ok());
  }
  // Keep writing until the reader has had a fair number of looks.
  for (int i = 400; reads.load() < 20 && i < 5000; ++i) {
    LlmCall call;
    ASSERT_TRUE(ar->record_llm_call(call).ok());
    auto b = ar->begin_evaluation({kernel_source(i), {}, std::nullopt, 0, "llm", std::nullopt});
    ASSERT_TRUE(ar->record_result(b->id, eval_json("ok", 1.0, 0.01, 4)).ok());
  }
  done = true;
  reader.join();
  EXPECT_GE(reads.load(), 20);
}

}  // namespace
}  // namespace kevo
