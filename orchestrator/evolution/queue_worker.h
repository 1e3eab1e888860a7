// A GPU host's side of a multi-host run (`kevo worker`): claims tasks of the archive's work queue
// (archive/queue.h) for its GPUs' model, compiles and evaluates each in its own sandbox (any
// EvaluationBackend: the SandboxBackend in `kevo worker`, a fake in tests), and writes the result
// back. One thread per GPU, each with its own connection; one more renews the leases of every
// task held (heartbeats), so a task is given up only when the whole worker is gone.
//
//   QueueWorker w(url, backend, {"NVIDIA H200", "NVIDIA H200"}, options);
//   Result<WorkerSummary> s = w.run(stop);   // until `stop`; the tasks held are finished first
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <string>
#include <vector>

#include "orchestrator/evolution/evolution.h"

namespace kevo {

class WorkQueue;

struct QueueWorkerOptions {
  // How long a task stays claimed after the worker's last heartbeat: the delay before another
  // worker takes over from one that died. Heartbeats come every lease_s / 4.
  double lease_s = 30;
  // How long a GPU without work waits before it looks again (a notification of new work, on
  // PostgreSQL, ends the wait at once).
  double idle_wait_s = 1;
  // Queued tasks each GPU compiles ahead while it evaluates (0: compile each task once claimed).
  // A sparse seed compiles in 1.5-2.5 s and evaluates in about 0.85 s: compiling only after the
  // claim left an H100 worker at half the rate of a local run. Ahead is unclaimed: a task another
  // worker takes meanwhile costs this host a compile, never a claim.
  int compile_ahead = 2;
  // Stop once this many tasks are finished (0: run until stopped). For tests and benchmarks.
  int64_t max_tasks = 0;
  // The worker's first GPU (evaluator/gpu_info.h JSON), registered so that the orchestrator's
  // prompts state the hardware of a host it does not run on.
  nlohmann::json gpu_info = nlohmann::json::object();
};

struct WorkerSummary {
  int64_t worker_id = 0;
  int64_t finished = 0;  // results written
  int64_t lost = 0;      // results dropped: the lease had expired and the task moved on
};

class QueueWorker {
 public:
  // `slot_models[i]` is the GPU model of the backend's GPU i (the tasks that GPU takes).
  QueueWorker(std::string location, EvaluationBackend& backend,
              std::vector<std::string> slot_models, QueueWorkerOptions options = {});

  // Registers in the archive, evaluates until `stop` (or max_tasks), then deregisters. Fails
  // only when the archive cannot be reached at the start; later connection trouble is retried.
  Result<WorkerSummary> run(std::atomic<bool>& stop);

 private:
  void slot_loop(int slot, int64_t worker, std::atomic<bool>& stop, WorkerSummary& summary);
  void compile_next(WorkQueue& q, const std::string& model, ProgramId claimed,
                    std::map<ProgramId, std::shared_future<CompileOutcome>>& ahead);

  std::string location_;
  EvaluationBackend& backend_;
  std::vector<std::string> slot_models_;
  QueueWorkerOptions options_;
  std::atomic<int64_t> finished_{0};
};

// The run the archive at `location` holds, waiting (until `stop`) for the orchestrator to create
// it: on a cluster the workers may well start first. `on_wait` is called once, when the wait
// begins. Cancelled when stopped; other errors (a server that refuses the login) at once.
Result<RunInfo> wait_for_run(const std::string& location, std::atomic<bool>& stop,
                             const std::function<void()>& on_wait = {});

// The result a candidate gets from a compile that failed (as the evolution loop records it).
EvalResult compile_failure_result(const CompileOutcome& compiled);

}  // namespace kevo
