#include "orchestrator/evolution/queue_worker.h"

#include <unistd.h>

#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "archive/queue.h"
#include "common/log.h"

namespace kevo {
namespace {

double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string host_name() {
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  return host;
}

// Opens a connection, retrying while the database is unreachable (a restart, a network blip).
std::unique_ptr<WorkQueue> open_retrying(const std::string& location, std::atomic<bool>& stop) {
  for (int attempt = 0; !stop.load(); ++attempt) {
    auto q = WorkQueue::open(location);
    if (q.ok()) return std::move(*q);
    if (attempt % 10 == 0) spdlog::warn("worker: {} (trying again)", q.status().message());
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  return nullptr;
}

Candidate candidate_of(const ClaimedTask& task) {
  return Candidate{"program " + std::to_string(task.program), task.source, task.params};
}

}  // namespace

Result<RunInfo> wait_for_run(const std::string& location, std::atomic<bool>& stop,
                             const std::function<void()>& on_wait) {
  bool said = false;
  while (!stop.load()) {
    auto q = WorkQueue::open(location);
    if (q.ok()) {
      KEVO_ASSIGN_OR_RETURN(auto run, (*q)->run());
      if (run) return std::move(*run);
    } else if (q.status().code() != StatusCode::kNotFound) {
      return q.status();
    }
    if (!said && on_wait) on_wait();
    said = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return Status::Cancelled("stopped while waiting for the run");
}

EvalResult compile_failure_result(const CompileOutcome& compiled) {
  EvalResult r = EvalResult::failure(compiled.status, compiled.message);
  r.compile_log = compiled.log;
  r.metrics["compile_ms"] = compiled.compile_ms;
  return r;
}

QueueWorker::QueueWorker(std::string location, EvaluationBackend& backend,
                         std::vector<std::string> slot_models, QueueWorkerOptions options)
    : location_(std::move(location)),
      backend_(backend),
      slot_models_(std::move(slot_models)),
      options_(options) {}

Result<WorkerSummary> QueueWorker::run(std::atomic<bool>& stop) {
  KEVO_ASSIGN_OR_RETURN(auto q, WorkQueue::open(location_));
  std::map<std::string, int> models;
  for (const auto& m : slot_models_) ++models[m];
  WorkerSummary summary;
  KEVO_ASSIGN_OR_RETURN(
      summary.worker_id,
      q->register_worker(host_name(), getpid(), models.begin()->first,
                         static_cast<int>(slot_models_.size()), options_.gpu_info));
  spdlog::info("worker #{} on {}: {} GPU(s) ({}), lease {} s", summary.worker_id, host_name(),
               slot_models_.size(), models.begin()->first, options_.lease_s);
  std::atomic<bool> slots_done{false};
  std::vector<WorkerSummary> per_slot(slot_models_.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < slot_models_.size(); ++i) {
    threads.emplace_back(
        [&, i] { slot_loop(static_cast<int>(i), summary.worker_id, stop, per_slot[i]); });
  }
  // Heartbeats on this thread's connection until every slot is done.
  std::thread beat([&] {
    auto last = std::chrono::steady_clock::now();
    while (!slots_done.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (since(last) < options_.lease_s / 4) continue;
      last = std::chrono::steady_clock::now();
      Status st = q->heartbeat(summary.worker_id, options_.lease_s);
      if (!st.ok()) spdlog::warn("worker: heartbeat: {}", st.message());
    }
  });
  for (auto& t : threads) t.join();
  slots_done.store(true);
  beat.join();
  for (const auto& s : per_slot) {
    summary.finished += s.finished;
    summary.lost += s.lost;
  }
  Status st = q->stop_worker(summary.worker_id);
  if (!st.ok()) spdlog::warn("worker: deregistering: {}", st.message());
  return summary;
}

// Starts compiling the queued tasks this GPU is likely to claim next (the oldest ones for its
// model, `compile_ahead` of them), and forgets compiles of tasks that are no longer queued (taken
// by another GPU or worker). A task whose program is already compiling is not compiled twice.
void QueueWorker::compile_next(WorkQueue& q, const std::string& model, ProgramId claimed,
                               std::map<ProgramId, std::shared_future<CompileOutcome>>& ahead) {
  if (options_.compile_ahead <= 0) return;
  auto next = q.peek(model, options_.compile_ahead);
  if (!next.ok()) return;  // a missed chance to compile early, nothing more
  std::map<ProgramId, std::shared_future<CompileOutcome>> kept;
  for (const ClaimedTask& t : *next) {
    if (t.program == claimed || kept.count(t.program)) continue;
    auto it = ahead.find(t.program);
    kept[t.program] = it != ahead.end() ? it->second : backend_.compile(candidate_of(t)).share();
  }
  ahead = std::move(kept);
}

void QueueWorker::slot_loop(int slot, int64_t worker, std::atomic<bool>& stop,
                            WorkerSummary& summary) {
  auto q = open_retrying(location_, stop);
  if (!q) return;
  (void)q->listen("tasks");
  const std::string label =
      host_name() + " pid " + std::to_string(getpid()) + " gpu " + std::to_string(slot);
  const std::string& model = slot_models_[slot];
  auto last_expiry = std::chrono::steady_clock::now() - std::chrono::hours(1);
  // Compiles started for queued tasks this GPU may claim next, by program.
  std::map<ProgramId, std::shared_future<CompileOutcome>> ahead;
  while (!stop.load()) {
    if (options_.max_tasks > 0 && finished_.load() >= options_.max_tasks) return;
    // Any worker puts back the tasks of dead ones, so a run survives its orchestrator's absence.
    if (since(last_expiry) > 1.0) {
      last_expiry = std::chrono::steady_clock::now();
      (void)q->expire_leases();
    }
    auto claimed = q->claim(worker, label, model, options_.lease_s);
    if (!claimed.ok()) {
      spdlog::warn("worker: {}", claimed.status().message());
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    if (!claimed->has_value()) {
      (void)q->wait(static_cast<int>(options_.idle_wait_s * 1000));
      continue;
    }
    const ClaimedTask& task = **claimed;
    auto t0 = std::chrono::steady_clock::now();
    Candidate c = candidate_of(task);
    std::shared_future<CompileOutcome> compiling;
    if (auto it = ahead.find(task.program); it != ahead.end()) {
      compiling = it->second;
      ahead.erase(it);
    } else {
      compiling = backend_.compile(c).share();
    }
    compile_next(*q, model, task.program, ahead);
    CompileOutcome compiled = compiling.get();
    EvalResult r;
    if (compiled.status != EvalStatus::kOk) {
      r = compile_failure_result(compiled);
    } else if (task.purpose == kTaskCounters) {
      r = backend_.measure_counters(slot, c, compiled, task.suite);
    } else {
      r = backend_.evaluate(slot, c, compiled, task.suite);
    }
    spdlog::debug("worker: task #{} (program #{}, {}): {}", task.id, task.program, task.purpose,
                  eval_status_name(r.status));
    // The database may be away for a moment: the result is worth a few tries while the lease
    // (renewed by the heartbeats) holds.
    for (int attempt = 0;; ++attempt) {
      auto f = q->finish(task.id, worker, to_json(r), since(t0));
      if (f.ok()) {
        if (*f) {
          ++summary.finished;
        } else {
          ++summary.lost;
          spdlog::warn(
              "worker: task #{} was given to another worker meanwhile (this one missed "
              "its lease): result dropped",
              task.id);
        }
        break;
      }
      if (attempt >= 20) {
        spdlog::error("worker: task #{}: {}", task.id, f.status().message());
        break;
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    ++finished_;
  }
}

}  // namespace kevo
