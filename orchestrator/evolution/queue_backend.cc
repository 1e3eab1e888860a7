#include "orchestrator/evolution/queue_backend.h"

#include <chrono>

#include "common/log.h"

namespace kevo {

Result<std::unique_ptr<QueueBackend>> QueueBackend::start(const std::string& location,
                                                          const QueueBackendOptions& options) {
  if (options.gpu_model.empty()) {
    return Status::InvalidArgument("queue: the run's GPU model is not known");
  }
  auto b = std::unique_ptr<QueueBackend>(new QueueBackend(options));
  KEVO_ASSIGN_OR_RETURN(b->enqueue_q_, WorkQueue::open(location));
  KEVO_ASSIGN_OR_RETURN(b->poll_q_, WorkQueue::open(location));
  KEVO_RETURN_IF_ERROR(b->poll_q_->listen("results"));
  // Holdout and counter tasks of an earlier session: nobody waits for them now.
  KEVO_RETURN_IF_ERROR(b->enqueue_q_->withdraw_extras());
  b->poller_ = std::thread([raw = b.get()] { raw->poll_loop(); });
  return b;
}

QueueBackend::~QueueBackend() {
  {
    std::lock_guard lock(mu_);
    exit_ = true;
  }
  if (poller_.joinable()) poller_.join();
}

std::future<CompileOutcome> QueueBackend::compile(Candidate candidate) {
  // What can be known without a compiler: a source the sandbox would refuse never goes out.
  CompileOutcome o;
  Status checked = check_candidate(candidate, CompileOptions{});
  if (!checked.ok()) {
    o.status = EvalStatus::kRejectedSource;
    o.message = checked.message();
  }
  o.params = candidate.params;
  std::promise<CompileOutcome> p;
  p.set_value(std::move(o));
  return p.get_future();
}

EvalResult QueueBackend::evaluate(int, const Candidate& candidate, const CompileOutcome&,
                                  const std::string& suite) {
  return run_task(candidate, suite == options_.suite ? kTaskEval : kTaskHoldout, suite);
}

EvalResult QueueBackend::measure_counters(int, const Candidate& candidate, const CompileOutcome&,
                                          const std::string& suite) {
  return run_task(candidate, kTaskCounters, suite);
}

EvalResult QueueBackend::run_task(const Candidate& candidate, const std::string& purpose,
                                  const std::string& suite) {
  TaskRequest request;
  request.purpose = purpose;
  request.suite = suite;
  request.gpu_model = options_.gpu_model;
  request.max_claims = options_.max_claims;
  // The candidate is a program the loop has put in the archive: found by its identity.
  const std::string hash = program_hash(candidate.source, candidate.params);
  Result<TaskId> task = Status::Internal("not queued");
  for (int attempt = 0; attempt < 30; ++attempt) {
    {
      std::lock_guard lock(enqueue_mu_);
      task = enqueue_q_->enqueue_by_hash(hash, request);
    }
    if (task.ok() || task.status().code() == StatusCode::kNotFound) break;
    spdlog::warn("queue: {} (trying again)", task.status().message());
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  if (!task.ok()) {
    return EvalResult::failure(EvalStatus::kCrash,
                               "could not queue the evaluation: " + task.status().message());
  }
  std::unique_lock lock(mu_);
  waiting_.emplace(*task, std::nullopt);
  results_cv_.wait(lock, [&] { return waiting_.at(*task).has_value(); });
  nlohmann::json j = std::move(*waiting_.at(*task));
  waiting_.erase(*task);
  lock.unlock();
  auto r = eval_result_from_json(j);
  if (!r.ok()) {
    return EvalResult::failure(
        EvalStatus::kCrash,
        "a worker sent a result this kevo cannot read: " + r.status().message());
  }
  return std::move(*r);
}

void QueueBackend::poll_loop() {
  auto last_tidy = std::chrono::steady_clock::now() - std::chrono::hours(1);
  const int poll_ms = static_cast<int>(options_.poll_s * 1000);
  while (true) {
    std::vector<TaskId> ids;
    {
      std::lock_guard lock(mu_);
      if (exit_) return;
      for (const auto& [id, result] : waiting_) {
        if (!result) ids.push_back(id);
      }
    }
    auto taken = poll_q_->take_results(ids);
    if (!taken.ok()) {
      spdlog::warn("queue: {}", taken.status().message());
    } else if (!taken->empty()) {
      std::lock_guard lock(mu_);
      for (TaskResult& r : *taken) waiting_[r.id] = std::move(r.result);
      results_cv_.notify_all();
    }
    // Once a second: leases of dead workers, and how many GPUs are there to feed.
    if (std::chrono::steady_clock::now() - last_tidy > std::chrono::seconds(1)) {
      last_tidy = std::chrono::steady_clock::now();
      auto expired = poll_q_->expire_leases();
      if (expired.ok() && *expired > 0) {
        spdlog::warn(
            "queue: {} evaluation(s) lost their worker (lease expired): queued again, "
            "or recorded as crash after {} tries",
            *expired, options_.max_claims);
      }
      auto workers = poll_q_->workers(options_.worker_alive_s);
      if (workers.ok()) {
        int gpus = 0;
        for (const WorkerRecord& w : *workers) {
          if (w.gpu_model == options_.gpu_model) gpus += w.gpus;
        }
        auto all = poll_q_->workers();
        double busy = 0;
        if (all.ok()) {
          for (const WorkerRecord& w : *all) busy += w.busy_s;
        }
        std::lock_guard lock(mu_);
        live_gpus_ = gpus;
        if (busy_at_start_ < 0) busy_at_start_ = busy;
        busy_now_ = busy;
      }
    }
    // A worker's notification ends the wait early (PostgreSQL); a new waiter waits one round.
    if (!poll_q_->wait(poll_ms).ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
    }
  }
}

int QueueBackend::active_gpus() const {
  std::lock_guard lock(mu_);
  return std::max(1, live_gpus_);
}

std::optional<double> QueueBackend::gpu_busy_s() const {
  std::lock_guard lock(mu_);
  return busy_at_start_ < 0 ? 0.0 : busy_now_ - busy_at_start_;
}

}  // namespace kevo
