// Evaluation through the archive's work queue (archive/queue.h): the EvaluationBackend of
// `kevo run --db postgresql://...`, whose GPUs are the workers' (`kevo worker`), on other hosts.
// compile() only checks the source (includes, directives, params: no compiler here; a worker
// compiles in its own sandbox, for its own GPU, and a compile error comes back as the result);
// evaluate() queues a task for the program and waits for a worker's result. One poller thread
// takes the results of every waiting evaluation (woken by the workers' notifications), and puts
// back the tasks of workers whose lease expired.
//
// With the loop stopping, evaluations already queued are still waited for (a second Ctrl-C quits
// at once; `kevo resume` finds the tasks, done or not). Thread-safe, like every backend.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "archive/queue.h"
#include "orchestrator/evolution/evolution.h"

namespace kevo {

struct QueueBackendOptions {
  std::string gpu_model;  // tasks go to workers with this GPU model
  std::string suite;      // the run's suite: evaluate() on another suite is a holdout task
  int max_claims = 2;     // workers a candidate may take down before it is recorded as crash
  // Evaluations waited on at once: the loop's GPU threads. Enough for every worker GPU; the loop
  // keeps about two candidates per live worker GPU queued (active_gpus()).
  int slots = 64;
  // A worker counts as live while its last heartbeat is younger than this.
  double worker_alive_s = 30;
  double poll_s = 0.25;  // the poller's longest sleep between looks (notifications wake it)
};

class QueueBackend : public EvaluationBackend {
 public:
  // Two connections to `location`: one queues tasks, the poller's takes results.
  static Result<std::unique_ptr<QueueBackend>> start(const std::string& location,
                                                     const QueueBackendOptions& options);
  ~QueueBackend() override;

  std::future<CompileOutcome> compile(Candidate candidate) override;
  EvalResult evaluate(int gpu, const Candidate& candidate, const CompileOutcome& compiled,
                      const std::string& suite) override;
  EvalResult measure_counters(int gpu, const Candidate& candidate, const CompileOutcome& compiled,
                              const std::string& suite) override;
  int gpu_count() const override { return options_.slots; }
  int active_gpus() const override;
  std::optional<double> gpu_busy_s() const override;

 private:
  explicit QueueBackend(QueueBackendOptions options) : options_(std::move(options)) {}
  EvalResult run_task(const Candidate& candidate, const std::string& purpose,
                      const std::string& suite);
  void poll_loop();

  QueueBackendOptions options_;
  std::mutex enqueue_mu_;
  std::unique_ptr<WorkQueue> enqueue_q_;  // under enqueue_mu_
  std::unique_ptr<WorkQueue> poll_q_;     // the poller's own

  mutable std::mutex mu_;
  std::condition_variable results_cv_;
  std::map<TaskId, std::optional<nlohmann::json>> waiting_;  // set by the poller
  int live_gpus_ = 0;
  double busy_at_start_ = -1, busy_now_ = 0;  // the workers' summed busy seconds
  bool exit_ = false;
  std::thread poller_;
};

}  // namespace kevo
