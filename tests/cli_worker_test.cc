// The work queue with real processes on a real PostgreSQL server: fake-GPU workers
// (kevo_fake_worker) and the real `kevo run` / `kevo resume` as the orchestrator, killed with
// SIGKILL. Two workers never evaluate one candidate; a worker killed mid-evaluation loses its
// claim after the lease and the other evaluates the candidate; a candidate that kills every worker
// that takes it ends as crash after max_claims; an orchestrator killed mid-run is resumed to the
// end of its budget; a URL's password reaches no output, log or archive row. The in-process cases
// are in orchestrator_queue_test.cc and archive_queue_test.cc.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "archive/archive.h"
#include "archive/queue.h"
#include "archive/sql.h"
#include "tests/archive_fixtures.h"
#include "tests/pg_support.h"

extern char** environ;

namespace kevo {
namespace {

using testing::read_file;
using testing::TempDir;

constexpr const char* kModel = "Fake H100";

std::string seed_source(const std::string& tag) {
  return "#include \"kevo/sparse_decode.cuh\"\n"
         "// kevo:param  TILE = 64 in {16, 32, 64, 128, 256}\n"
         "// kevo:param  UNROLL = 1 in {1, 2, 4, 8}\n"
         "// kevo:decode attend grid(Hq, B) block(TILE)\n"
         "// EVOLVE-BLOCK-START\n"
         "extern \"C\" __global__ void attend(const kevo::Args a) {\n"
         "  // " +
         tag +
         "\n"
         "}\n"
         "// EVOLVE-BLOCK-END\n";
}

// A child process with stdout and stderr in `out`; killed (SIGKILL) if still running at the end.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::string& out) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int rc = posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    EXPECT_EQ(rc, 0) << "cannot start " << argv[0];
    if (rc != 0) pid_ = -1;
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  // Sends `sig` and waits: the wait status.
  int signal_and_wait(int sig) {
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  // The wait status once it has exited on its own (up to timeout_s), else -1.
  int wait(double timeout_s) {
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (std::chrono::steady_clock::now() < end) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
};

// Polls `done` every 20 ms for up to timeout_s.
bool eventually(const std::function<bool()>& done, double timeout_s = 60) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// "<pid> program <id>" lines of a fake worker's log: pid -> programs, in order.
std::map<int, std::vector<ProgramId>> evaluations_by_pid(const std::string& log) {
  std::map<int, std::vector<ProgramId>> out;
  std::istringstream in(read_file(log));
  int pid;
  std::string word;
  ProgramId id;
  while (in >> pid >> word >> id) out[pid].push_back(id);
  return out;
}

class WorkerProcesses : public ::testing::Test {
 protected:
  void SetUp() override {
    KEVO_REQUIRE_POSTGRES();
    db_ = std::make_unique<testing::ScratchDatabase>();
  }

  const std::string& url() const { return db_->url(); }

  // An archive holding `n` programs and a queued evaluation task for each.
  // (The archive is created first if need be: workers wait for a run to exist.)
  void create_archive() {
    auto ar = Archive::create(url(), testing::test_run(), testing::test_config(1));
    ASSERT_TRUE(ar.ok()) << ar.status().to_string();
    archive_ = std::move(*ar);
  }
  std::vector<TaskId> queue_programs(int n, const std::string& tag = "v", int max_claims = 2) {
    if (!archive_) create_archive();
    auto q = WorkQueue::open(url());
    EXPECT_TRUE(q.ok());
    std::vector<TaskId> tasks;
    for (int i = 0; i < n; ++i) {
      auto b = archive_->begin_evaluation({normalize_source(seed_source(tag + std::to_string(i))),
                                           {{"TILE", 64}, {"UNROLL", 1}},
                                           std::nullopt,
                                           0,
                                           "seed",
                                           std::nullopt});
      EXPECT_TRUE(b.ok()) << b.status().to_string();
      TaskRequest r;
      r.program = b->id;
      r.suite = "llama3-8b";
      r.gpu_model = kModel;
      r.max_claims = max_claims;
      tasks.push_back(*(*q)->enqueue(r));
    }
    return tasks;
  }

  std::unique_ptr<Child> worker(const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {std::string(KEVO_BINARY_DIR) + "/kevo_fake_worker", "--db",
                                     url(), "--log", dir.file("evals.log")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<Child>(argv, dir.file("workers.out"));
  }

  int64_t done_tasks() {
    auto q = WorkQueue::open(url());
    if (!q.ok()) return -1;
    auto c = (*q)->counts();
    return c.ok() ? c->by_state["done"] + c->by_state["recorded"] : -1;
  }

  size_t live_workers() {
    auto q = WorkQueue::open(url());
    if (!q.ok()) return 0;
    auto w = (*q)->workers(30);
    return w.ok() ? w->size() : 0;
  }

  TempDir dir;
  std::unique_ptr<testing::ScratchDatabase> db_;
  std::unique_ptr<Archive> archive_;
};

TEST_F(WorkerProcesses, TwoWorkersNeverEvaluateOneCandidate) {
  create_archive();
  auto a = worker({"--eval-ms", "30"}), b = worker({"--eval-ms", "30"});
  // Both are waiting before the work comes, so both get a share.
  ASSERT_TRUE(eventually([&] { return live_workers() == 2; }))
      << read_file(dir.file("workers.out"));
  auto tasks = queue_programs(40);
  ASSERT_TRUE(eventually([&] { return done_tasks() == 40; })) << read_file(dir.file("workers.out"));
  EXPECT_TRUE(WIFEXITED(a->signal_and_wait(SIGTERM)));
  EXPECT_TRUE(WIFEXITED(b->signal_and_wait(SIGTERM)));

  auto by_pid = evaluations_by_pid(dir.file("evals.log"));
  ASSERT_EQ(by_pid.size(), 2u);
  std::map<ProgramId, int> times;
  for (const auto& [pid, programs] : by_pid) {
    EXPECT_GT(programs.size(), 0u) << "worker " << pid << " took nothing";
    for (ProgramId p : programs) ++times[p];
  }
  EXPECT_EQ(times.size(), 40u);
  for (const auto& [p, n] : times) EXPECT_EQ(n, 1) << "program " << p;
  auto q = WorkQueue::open(url());
  EXPECT_EQ((*q)->counts()->requeued, 0);
  auto results = (*q)->take_results(tasks);
  ASSERT_TRUE(results.ok());
  EXPECT_EQ(results->size(), 40u);
  for (const auto& r : *results) EXPECT_EQ(r.result["status"], "ok") << r.result.dump();
}

TEST_F(WorkerProcesses, AWorkerKilledMidEvaluationLosesItsClaimAndTheOtherEvaluates) {
  auto tasks = queue_programs(1);
  // The first worker takes the candidate and would take a minute over it.
  auto a = worker({"--eval-ms", "60000", "--lease-s", "1"});
  ASSERT_TRUE(eventually([&] { return evaluations_by_pid(dir.file("evals.log")).size() == 1; }))
      << read_file(dir.file("workers.out"));
  const int first = evaluations_by_pid(dir.file("evals.log")).begin()->first;
  EXPECT_EQ(first, a->pid());
  auto b = worker({"--lease-s", "1"});
  ASSERT_TRUE(eventually([&] { return live_workers() == 2; }));
  int status = a->signal_and_wait(SIGKILL);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

  // After the lease, the other worker evaluates it.
  ASSERT_TRUE(eventually([&] { return done_tasks() == 1; }, 30))
      << read_file(dir.file("workers.out"));
  auto by_pid = evaluations_by_pid(dir.file("evals.log"));
  ASSERT_EQ(by_pid.size(), 2u);
  EXPECT_EQ(by_pid[b->pid()], std::vector<ProgramId>{1});
  auto q = WorkQueue::open(url());
  EXPECT_EQ((*q)->counts()->requeued, 1);
  auto results = (*q)->take_results(tasks);
  ASSERT_EQ(results->size(), 1u);
  EXPECT_EQ((*results)[0].result["status"], "ok");
}

TEST_F(WorkerProcesses, ACandidateThatKillsItsWorkersEndsAsCrashAfterMaxClaims) {
  auto tasks = queue_programs(1, "KILLWORKER ", /*max_claims=*/2);
  // Each worker that takes it dies on it; the second claim is the last.
  for (int claim = 1; claim <= 2; ++claim) {
    auto w = worker({"--lease-s", "1"});
    int status = w->wait(30);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "claim " << claim << ": " << read_file(dir.file("workers.out"));
  }
  // A healthy worker puts the dead one's task away as crash and never evaluates it.
  auto healthy = worker({"--lease-s", "1"});
  ASSERT_TRUE(eventually([&] { return done_tasks() == 1; }, 30))
      << read_file(dir.file("workers.out"));
  EXPECT_TRUE(WIFEXITED(healthy->signal_and_wait(SIGTERM)));
  auto by_pid = evaluations_by_pid(dir.file("evals.log"));
  EXPECT_EQ(by_pid.size(), 2u);  // the two that died
  EXPECT_EQ(by_pid.count(healthy->pid()), 0u);
  auto q = WorkQueue::open(url());
  auto results = (*q)->take_results(tasks);
  ASSERT_EQ(results->size(), 1u);
  EXPECT_EQ((*results)[0].result["status"], "crash");
}

// Rows of any text column of any table that contain `needle`.
int64_t rows_containing(const std::string& url, const std::string& needle) {
  auto db = sql::Db::connect(url, 5000);
  EXPECT_TRUE(db.ok());
  auto cols = db->prepare(
      "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = "
      "'public' AND data_type IN ('text', 'character varying')");
  std::vector<std::pair<std::string, std::string>> text_cols;
  while (*cols->step()) text_cols.emplace_back(cols->text(0), cols->text(1));
  EXPECT_FALSE(text_cols.empty());
  int64_t n = 0;
  for (const auto& [t, c] : text_cols) {
    n += *db->query_int("SELECT count(*) FROM " + t + " WHERE " + c + " LIKE '%" + needle + "%'");
  }
  return n;
}

TEST_F(WorkerProcesses, AnOrchestratorKilledMidRunIsResumedAndThePasswordIsNowhere) {
  // The password travels in the URL (the test server trusts the socket: it is not checked).
  const std::string secret = "s3cretpw";
  const std::string with_password = url() + "&password=" + secret;
  testing::write_file(dir.file("seed.cu"), seed_source("seed"));
  testing::write_file(dir.file("run.yaml"),
                      "run:\n  name: shared\n  seed: 3\n  seeds: [" + dir.file("seed.cu") +
                          "]\n  max_evaluations: 16\narchive:\n  islands: 2\n");
  // (The tuner has 20 parameter settings to try: the budget ends the run first.)
  auto w = worker({"--eval-ms", "150", "--slots", "2"});
  const std::string kevo = testing::kevo_binary();
  const std::vector<std::string> common = {"--db", with_password, "--runs-dir", dir.file("runs"),
                                           "--no-llm"};
  std::vector<std::string> run = {kevo, "run", dir.file("run.yaml"), "--gpu-model", kModel};
  run.insert(run.end(), common.begin(), common.end());
  auto orchestrator = std::make_unique<Child>(run, dir.file("run.out"));
  auto evaluations = [&]() -> int64_t {
    auto r = ArchiveReader::open(url());
    if (!r.ok()) return 0;
    auto s = (*r)->status_report();
    return s.ok() ? s->totals.evaluations : 0;
  };
  ASSERT_TRUE(eventually([&] { return evaluations() >= 4; }))
      << read_file(dir.file("run.out")) << read_file(dir.file("workers.out"));
  int status = orchestrator->signal_and_wait(SIGKILL);
  ASSERT_TRUE(WIFSIGNALED(status));
  const int64_t at_kill = evaluations();
  EXPECT_LT(at_kill, 16);

  std::string args =
      "resume --db '" + with_password + "' --runs-dir " + dir.file("runs") + " --json";
  auto resumed = testing::run_kevo(args);
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  // --json: stdout is the summary alone, for scripts; the header and progress go to stderr.
  EXPECT_NE(resumed.err.find("evaluations so far"), std::string::npos) << resumed.err;
  auto summary = nlohmann::json::parse(resumed.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(summary.is_discarded()) << resumed.out;
  EXPECT_EQ(summary["stop_reason"], "max_evaluations") << resumed.out;
  auto reader = ArchiveReader::open(url());
  ASSERT_TRUE(reader.ok());
  auto report = (*reader)->status_report();
  ASSERT_TRUE(report.ok());
  EXPECT_GE(report->totals.evaluations, 16);
  EXPECT_EQ(report->run.status, "finished");
  EXPECT_EQ(report->totals.pending, 0);
  EXPECT_GT(report->totals.evaluations, at_kill);

  // The inspection commands read the shared archive like a file.
  auto shown = testing::run_kevo("status --db '" + with_password + "'");
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("shared"), std::string::npos) << shown.out;
  // ... and list the workers: the one still running, with what it evaluated.
  EXPECT_NE(shown.out.find("workers      1 live of 1"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("Fake H100 x2  running"), std::string::npos) << shown.out;
  auto top = testing::run_kevo("top --db '" + with_password + "' --json");
  EXPECT_EQ(top.exit_code, 0) << top.err;
  auto show = testing::run_kevo("show 1 --db '" + with_password + "'");
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("EVOLVE-BLOCK-START"), std::string::npos) << show.out;
  auto calls = testing::run_kevo("calls --db '" + with_password + "'");
  EXPECT_EQ(calls.exit_code, 0) << calls.err;

  // The password is in no output, no log and no row.
  for (const std::string& text :
       {read_file(dir.file("run.out")), resumed.out, resumed.err, shown.out, shown.err, top.out,
        show.out, show.err, calls.out, calls.err, read_file(dir.file("runs/shared/kevo.log"))}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << text;
  }
  EXPECT_FALSE(read_file(dir.file("runs/shared/kevo.log")).empty());
  EXPECT_EQ(rows_containing(url(), secret), 0);
}

}  // namespace
}  // namespace kevo
