// Work-queue benchmark through PostgreSQL (or a SQLite file, for comparison):
//   1. claims per second: N tasks queued, then 8 workers (QueueWorker, each with its own
//      connections, heartbeats and lease expiry, as `kevo worker` runs it) whose "GPU" answers at
//      once claim, evaluate and finish them all. The figure is the queue's ceiling, not a GPU's.
//   2. the orchestrator's overhead per candidate: the evolution loop (built-in tuner, no LLM) with
//      the QueueBackend and 8 instant workers, against the same loop on an in-process instant
//      backend; wall time and the loop's CPU time per evaluation. (Past about 370 evaluations
//      the tuner has tried every neighbour of this landscape's elites and the run stops after
//      its 2 s idle timer, which then dominates the figure.)
//
//   url=$(scripts/pg_test_server.sh start /tmp/kevo-pg)
//   KEVO_TEST_PG=$url build/bench/bench_queue [--tasks 3000] [--evaluations 200] [--workers 8]
//   scripts/pg_test_server.sh stop /tmp/kevo-pg
//
// Each part uses a database of its own, created from KEVO_TEST_PG and dropped after.
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "archive/archive.h"
#include "archive/queue.h"
#include "archive/sql.h"
#include "orchestrator/evolution/queue_backend.h"
#include "orchestrator/evolution/queue_worker.h"
#include "tests/fake_backend.h"

namespace {

using namespace kevo;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double process_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// A seed with a large parameter space, so the tuner never runs out within the budget.
std::string seed(int variant) {
  return "#include \"kevo/sparse_decode.cuh\"\n"
         "// kevo:param  TILE = 64 in {16, 32, 64, 128, 256}\n"
         "// kevo:param  UNROLL = 1 in {1, 2, 4, 8}\n"
         "// kevo:param  PA = 0 in {0, 1, 2, 3, 4, 5, 6, 7}\n"
         "// kevo:param  PB = 0 in {0, 1, 2, 3, 4, 5, 6, 7}\n"
         "// kevo:param  PC = 0 in {0, 1, 2, 3, 4, 5, 6, 7}\n"
         "// kevo:decode attend grid(Hq, B) block(TILE)\n"
         "// EVOLVE-BLOCK-START\n"
         "extern \"C\" __global__ void attend(const kevo::Args a) {\n"
         "  // variant " +
         std::to_string(variant) +
         "\n"
         "}\n"
         "// EVOLVE-BLOCK-END\n";
}

// A database of its own on the server KEVO_TEST_PG names.
class Scratch {
 public:
  Scratch(const std::string& server, const std::string& name) : server_(server), name_(name) {
    auto admin = sql::Db::connect(server_, 10000);
    if (!admin.ok()) {
      std::fprintf(stderr, "bench_queue: %s\n", admin.status().message().c_str());
      std::exit(1);
    }
    (void)admin->exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    Status st = admin->exec("CREATE DATABASE " + name_);
    if (!st.ok()) {
      std::fprintf(stderr, "bench_queue: %s\n", st.message().c_str());
      std::exit(1);
    }
    size_t q = server_.find('?'), slash = server_.find('/', server_.find("://") + 3);
    url_ = server_.substr(0, slash + 1) + name_ + (q == std::string::npos ? "" : server_.substr(q));
  }
  ~Scratch() {
    auto admin = sql::Db::connect(server_, 10000);
    if (admin.ok()) (void)admin->exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  }
  const std::string& url() const { return url_; }

 private:
  std::string server_, name_, url_;
};

struct Workers {
  Workers(const std::string& url, int n) : backends(n) {
    QueueWorkerOptions o;
    o.idle_wait_s = 0.05;
    for (int i = 0; i < n; ++i) {
      workers.push_back(std::make_unique<QueueWorker>(url, backends[i],
                                                      std::vector<std::string>{"Bench GPU"}, o));
    }
    for (int i = 0; i < n; ++i) threads.emplace_back([this, i] { (void)workers[i]->run(stop); });
  }
  ~Workers() {
    stop = true;
    for (auto& t : threads) t.join();
  }
  std::atomic<bool> stop{false};
  std::vector<testing::FakeBackend> backends;
  std::vector<std::unique_ptr<QueueWorker>> workers;
  std::vector<std::thread> threads;
};

void claims_per_second(const std::string& url, int tasks, int workers) {
  RunInfo run{"bench"};
  ArchiveConfig ac;
  auto archive = Archive::create(url, run, ac);
  if (!archive.ok()) {
    std::fprintf(stderr, "bench_queue: %s\n", archive.status().message().c_str());
    std::exit(1);
  }
  auto q = WorkQueue::open(url);
  std::vector<TaskId> ids;
  auto t_enqueue = Clock::now();
  for (int i = 0; i < tasks; ++i) {
    auto b = (*archive)->begin_evaluation(
        {normalize_source(seed(i)), {}, std::nullopt, 0, "seed", std::nullopt});
    TaskRequest r;
    r.program = b->id;
    r.suite = "llama3-8b";
    r.gpu_model = "Bench GPU";
    ids.push_back(*(*q)->enqueue(r));
  }
  const double enqueue_s = since(t_enqueue);
  auto t0 = Clock::now();
  {
    Workers w(url, workers);
    while (true) {
      auto c = (*q)->counts();
      if (c.ok() && c->by_state["done"] >= tasks) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  const double s = since(t0);
  auto c = (*q)->counts();
  std::printf(
      "claims: %d tasks, %d workers: %.2f s, %.0f claims/s (claim + evaluate + finish; "
      "requeued %lld); enqueue %.0f tasks/s\n",
      tasks, workers, s, tasks / s, static_cast<long long>(c->requeued), tasks / enqueue_s);
}

struct LoopFigures {
  double wall_s = 0, loop_cpu_s = 0;
  int64_t evaluations = 0;
};

// `backend_for` is called once the run exists (a queue backend needs it).
LoopFigures run_loop(const std::string& location,
                     const std::function<EvaluationBackend&()>& backend_for, int evaluations,
                     const std::string& seed_file) {
  KevoConfig c;
  c.run.seeds = {seed_file};
  c.run.max_evaluations = evaluations;
  c.run.seed = 5;
  c.archive.islands = 2;
  c.evaluator.holdout_suite = "";  // the loop's own cost, not the extra measurements
  auto archive = Archive::create(location, RunInfo{"bench"}, c.archive);
  if (!archive.ok()) {
    std::fprintf(stderr, "bench_queue: %s\n", archive.status().message().c_str());
    std::exit(1);
  }
  Evolution evo(c, **archive, backend_for(), {}, {});
  Status seeded = evo.add_seeds();
  if (!seeded.ok()) {
    std::fprintf(stderr, "bench_queue: %s\n", seeded.message().c_str());
    std::exit(1);
  }
  std::atomic<bool> stop{false};
  const double cpu0 = process_cpu_s();
  auto t0 = Clock::now();
  auto summary = evo.run(stop, [](const Progress&) {});
  LoopFigures f;
  f.wall_s = since(t0);
  f.loop_cpu_s = process_cpu_s() - cpu0;
  if (!summary.ok()) {
    std::fprintf(stderr, "bench_queue: %s\n", summary.status().message().c_str());
    std::exit(1);
  }
  f.evaluations = summary->progress.evaluations;
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  int tasks = 3000, evaluations = 200, workers = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (k == "--tasks")
      tasks = v;
    else if (k == "--evaluations")
      evaluations = v;
    else if (k == "--workers")
      workers = v;
  }
  const char* server = std::getenv("KEVO_TEST_PG");
  if (!server || !*server) {
    std::fprintf(stderr,
                 "bench_queue: set KEVO_TEST_PG (url=$(scripts/pg_test_server.sh start "
                 "DIR))\n");
    return 2;
  }
  {
    Scratch db(server, "kevo_bench_claims");
    claims_per_second(db.url(), tasks, workers);
  }
  auto dir = std::filesystem::temp_directory_path() / ("kevo-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string seed_file = (dir / "seed.cu").string();
  FILE* f = std::fopen(seed_file.c_str(), "w");
  std::fputs(seed(0).c_str(), f);
  std::fclose(f);

  // The same loop on an instant in-process backend (SQLite archive): the loop's own cost.
  testing::FakeBackend local;
  LoopFigures base =
      run_loop((dir / "local.db").string(), [&]() -> EvaluationBackend& { return local; },
               evaluations, seed_file);
  LoopFigures queued;
  {
    Scratch db(server, "kevo_bench_loop");
    std::unique_ptr<Workers> w;  // started once the run exists
    QueueBackendOptions o;
    o.gpu_model = "Bench GPU";
    o.suite = KevoConfig().evaluator.suite;
    o.poll_s = 0.02;
    std::unique_ptr<QueueBackend> backend;
    queued = run_loop(
        db.url(),
        [&]() -> EvaluationBackend& {
          auto b = QueueBackend::start(db.url(), o);
          if (!b.ok()) {
            std::fprintf(stderr, "bench_queue: %s\n", b.status().message().c_str());
            std::exit(1);
          }
          backend = std::move(*b);
          w = std::make_unique<Workers>(db.url(), workers);
          return *backend;
        },
        evaluations, seed_file);
  }
  std::filesystem::remove_all(dir);
  auto per = [](double s, int64_t n) { return n > 0 ? 1000.0 * s / n : 0.0; };
  std::printf(
      "loop, in-process instant backend + SQLite: %lld evaluations, %.2f ms wall and %.2f "
      "ms CPU per candidate\n",
      static_cast<long long>(base.evaluations), per(base.wall_s, base.evaluations),
      per(base.loop_cpu_s, base.evaluations));
  std::printf(
      "loop, queue through PostgreSQL, %d instant workers (in this process): %lld "
      "evaluations, %.2f ms wall per candidate; CPU of the whole process (loop and "
      "workers) %.2f ms per candidate\n",
      workers, static_cast<long long>(queued.evaluations), per(queued.wall_s, queued.evaluations),
      per(queued.loop_cpu_s, queued.evaluations));
  return 0;
}
