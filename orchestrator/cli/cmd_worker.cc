// `kevo worker --db postgresql://... [--gpus all|0,2]`: a GPU host of a run whose archive is shared
// (orchestrator/evolution/queue_worker.h). One sandboxed runner per GPU claims the run's tasks for
// its GPU model, compiles and evaluates them, and writes the results back, until Ctrl-C or SIGTERM
// (Slurm and Kubernetes stop a job with SIGTERM): then the tasks held are finished and the worker
// leaves. It evaluates with the run's stored config (evaluator and sandbox sections), so every host
// measures alike; it waits for the orchestrator to create the run when started first.
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <iostream>

#include "archive/queue.h"
#include "common/log.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/config/config_check.h"
#include "orchestrator/evolution/backend.h"
#include "orchestrator/evolution/gpu_select.h"
#include "orchestrator/evolution/queue_worker.h"

namespace kevo::cli {
namespace fs = std::filesystem;
namespace {

std::atomic<bool> g_worker_stop{false};
std::atomic<int> g_worker_signals{0};

void on_stop_signal(int) {
  // First signal: finish the tasks held (their results are written), then leave. Second: quit
  // now; the tasks held go back to the queue when their lease runs out.
  if (g_worker_signals.fetch_add(1) >= 1) _exit(130);
  g_worker_stop.store(true);
  const char msg[] = "\nkevo worker: finishing the tasks held (signal again to quit now)\n";
  (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
}

struct WorkerCliOptions {
  std::string db;
  std::string gpus = "all";
  bool allow_mixed = false;
  double lease_s = 30;
  int64_t max_tasks = 0;
  int compile_ahead = QueueWorkerOptions{}.compile_ahead;
  std::string cache_dir = "kevo-worker-cache";
};

int worker_command(const WorkerCliOptions& o) {
  if (!is_postgres_location(o.db) && !fs::exists(o.db)) {
    return fail(kExitUsage,
                "kevo worker: --db must be a postgresql:// URL (or an existing "
                "kevo.db shared on this host), not '" +
                    printable_location(o.db) + "'");
  }
  const std::string shown = printable_location(o.db);
  // The GPUs first: a host without one has nothing to offer.
  auto available = query_gpus(/*measure_bandwidth=*/true);
  if (!available.ok()) return fail(kExitNoGpu, available.status().message());
  auto sel = select_gpus(*available, o.gpus, o.allow_mixed, shared_gpus_allowed());
  if (!sel.ok()) return fail(kExitUsage, sel.status().message());

  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  auto run = wait_for_run(o.db, g_worker_stop, [&] {
    std::cerr << "kevo worker: no run in " << shown
              << " yet: waiting for `kevo run --db ...` to create it" << std::endl;
  });
  if (!run.ok()) {
    return fail(run.status().code() == StatusCode::kCancelled ? kExitOk : kExitFailure,
                run.status().message());
  }
  // The run's evaluator and sandbox settings; its seeds and LLM keys are the orchestrator's.
  CheckedConfig c = check_config_text(run->config, shown + " (stored config)", {},
                                      /*section_checks=*/false);
  if (!c.ok()) return fail(kExitFailure, problems_text(c));
  std::error_code ec;
  fs::create_directories(o.cache_dir, ec);
  auto backend = SandboxBackend::start(c.config, sel->gpus, o.cache_dir);
  if (!backend.ok()) return fail(kExitFailure, backend.status().message());

  std::vector<std::string> models;
  for (const auto& g : sel->gpus) models.push_back(g.name);
  QueueWorkerOptions wo;
  wo.lease_s = o.lease_s;
  wo.max_tasks = o.max_tasks;
  wo.compile_ahead = o.compile_ahead;
  wo.gpu_info = to_json(sel->gpus.front());
  std::cout << "kevo worker: run '" << run->name << "' in " << shown << ", " << models.size()
            << " GPU(s) (" << models.front() << "), lease " << o.lease_s << " s" << std::endl;
  QueueWorker worker(o.db, **backend, models, wo);
  auto summary = worker.run(g_worker_stop);
  if (!summary.ok()) return fail(kExitFailure, summary.status().message());
  std::cout << "kevo worker #" << summary->worker_id << ": " << summary->finished
            << " evaluation(s) written";
  if (summary->lost > 0) std::cout << ", " << summary->lost << " dropped (lease lost)";
  std::cout << std::endl;
  return kExitOk;
}

}  // namespace

void add_worker_command(CLI::App& app, Cli& cli) {
  auto o = std::make_shared<WorkerCliOptions>();
  auto* cmd = app.add_subcommand(
      "worker",
      "Evaluate a shared run's candidates on this host's GPUs: claims tasks from the "
      "archive's work queue (kevo run --db postgresql://...) until Ctrl-C or SIGTERM.");
  cmd->add_option("--db", o->db,
                  "the run's archive: a postgresql:// URL (password from PGPASSWORD or "
                  "~/.pgpass, never printed)")
      ->required();
  cmd->add_option("--gpus", o->gpus,
                  "this host's GPUs, one runner each: all, or indices such "
                  "as 0,2")
      ->capture_default_str();
  cmd->add_flag("--allow-mixed-gpus", o->allow_mixed,
                "allow GPUs of different models (each takes its own model's tasks)");
  cmd->add_option("--lease-s", o->lease_s,
                  "seconds a task stays claimed after this worker's last heartbeat (the delay "
                  "before another worker retries the task of a dead one)")
      ->capture_default_str()
      ->check(at_least(1));
  cmd->add_option("--max-tasks", o->max_tasks, "leave after this many evaluations (0: never)")
      ->capture_default_str()
      ->check(at_least(0));
  cmd->add_option("--compile-ahead", o->compile_ahead,
                  "queued tasks each GPU compiles while it evaluates (compiling takes longer "
                  "than evaluating; 0: compile each task once claimed)")
      ->capture_default_str()
      ->check(at_least(0));
  cmd->add_option("--cache-dir", o->cache_dir, "where compiled kernels are cached on this host")
      ->capture_default_str();
  cmd->callback([&cli, o] { cli.exit_code = worker_command(*o); });
}

}  // namespace kevo::cli
