// GpuRunner: the orchestrator's side of one GPU's runner process. Every way an evaluation can end
// (reply, poisoned context, hang, death, flood) becomes an EvalResult; a runner that failed is
// gone before the next candidate, which starts a fresh one.
#include <fcntl.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "sandbox/protocol.h"
#include "sandbox/sandbox.h"
#include "sandbox/worker_launch.h"

namespace kevo {
using sandbox::ChildProcess;
using sandbox::deadline_in;

namespace {

constexpr double kWriteTimeoutS = 30;  // a request is at most a few MiB of CUBIN

std::string last_lines(const std::string& text, size_t max_chars = 600) {
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t.size() > max_chars ? "..." + t.substr(t.size() - max_chars) : t;
}

}  // namespace

class GpuRunner::Impl {
 public:
  Impl(int device, const SandboxConfig& config, const EvaluatorConfig& evaluator,
       const WorkerLaunch& launch)
      : device_(device), config_(config), evaluator_(evaluator), launch_(launch) {
    if (pipe2(cancel_, O_CLOEXEC) != 0) cancel_[0] = cancel_[1] = -1;
  }

  ~Impl() {
    {
      std::lock_guard lock(queue_mu_);
      stopping_ = true;
    }
    queue_cv_.notify_all();
    if (cancel_[1] >= 0) (void)!write(cancel_[1], "x", 1);
    if (thread_.joinable()) thread_.join();
    for (auto& job : queue_) job.promise.set_value(EvalResult::failure(EvalStatus::kCrash, "GPU runner shut down"));
    std::lock_guard lock(mu_);
    proc_.reset();  // kills the process group and reaps it
    for (int fd : cancel_) if (fd >= 0) close(fd);
  }

  Status start() {
    std::lock_guard lock(mu_);
    return ensure_runner();
  }

  EvalResult evaluate(const Candidate& c, const CompileOutcome& compiled, const std::string& suite,
                      const EvalOptions& options) {
    if (compiled.status != EvalStatus::kOk) return EvalResult::failure(compiled.status, compiled.message);
    std::lock_guard lock(mu_);
    Status st = ensure_runner();
    if (!st.ok()) return EvalResult::failure(EvalStatus::kCrash, "GPU runner unavailable: " + st.message());
    uint64_t id = ++next_id_;
    nlohmann::json req = {
        {"id", id},       {"candidate", to_json(c)},      {"compiled", to_json(compiled)},
        {"suite", suite}, {"counters", options.counters}, {"counters_only", options.counters_only}};
    st = proc_->write_line(req.dump(), deadline_in(kWriteTimeoutS));
    Result<std::string> line =
        st.ok() ? proc_->read_line(deadline_in(config_.evaluation_timeout_s)) : Result<std::string>(st);
    if (!line.ok()) return failure(line.status());
    auto reply = sandbox::parse_message(*line);
    if (!reply.ok() || reply->value("id", uint64_t{0}) != id || !reply->contains("result")) {
      drop_runner();
      return EvalResult::failure(EvalStatus::kCrash, "GPU runner sent a bad reply: " +
                                 (reply.ok() ? line->substr(0, 200) : reply.status().message()));
    }
    set_info([&](GpuRunnerInfo& i) { i.free_bytes = reply->value("free_bytes", -1LL); });
    auto result = eval_result_from_json(reply->at("result"));
    if (reply->value("poisoned", false)) {
      // The runner exits by itself after a sticky CUDA error; reap it now.
      spdlog::info("GPU runner {}: context poisoned by '{}'; a fresh runner takes the next candidate",
                   device_, c.name);
      drop_runner();
    }
    if (!result.ok()) return EvalResult::failure(EvalStatus::kCrash, "GPU runner: " + result.status().message());
    return std::move(*result);
  }

  std::future<EvalResult> submit(Candidate c, CompileOutcome compiled, std::string suite,
                                 EvalOptions options) {
    Job job{std::move(c), std::move(compiled), std::move(suite), options, {}};
    auto fut = job.promise.get_future();
    std::lock_guard lock(queue_mu_);
    if (stopping_) {
      job.promise.set_value(EvalResult::failure(EvalStatus::kCrash, "GPU runner shut down"));
      return fut;
    }
    if (!thread_.joinable()) thread_ = std::thread([this] { queue_loop(); });
    queue_.push_back(std::move(job));
    queue_cv_.notify_one();
    return fut;
  }

  // Never waits for an evaluation in progress.
  GpuRunnerInfo info() const {
    std::lock_guard lock(info_mu_);
    return info_;
  }

 private:
  struct Job {
    Candidate candidate;
    CompileOutcome compiled;
    std::string suite;
    EvalOptions options;
    std::promise<EvalResult> promise;
  };

  void queue_loop() {
    for (;;) {
      Job job;
      {
        std::unique_lock lock(queue_mu_);
        queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job.promise.set_value(evaluate(job.candidate, job.compiled, job.suite, job.options));
    }
  }

  template <typename F>
  void set_info(F&& f) {
    std::lock_guard lock(info_mu_);
    f(info_);
  }

  // Caller holds mu_. Kills (if alive) and reaps the runner.
  void drop_runner() {
    proc_.reset();
    set_info([](GpuRunnerInfo& i) { i.pid = -1; });
  }

  // Caller holds mu_.
  Status ensure_runner() {
    if (proc_ && proc_->alive()) return Status::Ok();
    drop_runner();
    auto spec = sandbox::worker_spawn_spec(launch_, sandbox::WorkerKind::kGpu,
                                           {"gpu", "--device", std::to_string(device_)},
                                           "GPU runner " + std::to_string(device_));
    spec.cancel_fd = cancel_[0];
    std::string init = nlohmann::json{{"op", "init"},
                                      {"evaluator", sandbox::evaluator_config_to_json(evaluator_)}}
                           .dump();
    // Opening a session (context, suite data, reference outputs) is bounded like an evaluation.
    KEVO_ASSIGN_OR_RETURN(auto started,
                          sandbox::start_worker(spec, deadline_in(config_.evaluation_timeout_s), &init));
    proc_ = std::move(started.process);
    set_info([&](GpuRunnerInfo& i) {
      i.pid = proc_->pid();
      ++i.starts;
      i.arch = started.hello.value("arch", std::string());
      i.free_bytes = started.hello.value("free_bytes", -1LL);
    });
    spdlog::debug("GPU runner {} ready (pid {}): {}", device_, proc_->pid(), started.hello.dump());
    return Status::Ok();
  }

  // Caller holds mu_. The runner is gone afterwards, whatever happened.
  EvalResult failure(const Status& st) {
    std::string tail = proc_ ? last_lines(proc_->stderr_tail()) : "";
    proc_->kill();
    std::string died = proc_->exit_description();
    drop_runner();
    std::string seen = tail.empty() ? "" : "; runner output: " + tail;
    switch (st.code()) {
      case StatusCode::kTimeout: {
        std::string t = std::to_string(static_cast<int>(config_.evaluation_timeout_s));
        return EvalResult::failure(
            EvalStatus::kTimeout,
            "evaluation did not finish within " + t + " s and the runner was stopped: a kernel "
            "that never ends (an infinite loop, a barrier not every thread reaches, a spin-wait on "
            "memory nobody writes)?");
      }
      case StatusCode::kIoError:
        return EvalResult::failure(EvalStatus::kCrash,
                                   st.message() + " (device printf in a loop?)" + seen);
      case StatusCode::kCancelled:
        return EvalResult::failure(EvalStatus::kCrash, "GPU runner shut down");
      default:
        return EvalResult::failure(EvalStatus::kCrash,
                                   "the GPU runner died while evaluating this candidate (" + died +
                                       ")" + seen);
    }
  }

  int device_;
  SandboxConfig config_;
  EvaluatorConfig evaluator_;
  WorkerLaunch launch_;
  mutable std::mutex mu_;  // the runner process and its bookkeeping
  std::unique_ptr<ChildProcess> proc_;
  mutable std::mutex info_mu_;  // info_ only: readable while an evaluation runs
  GpuRunnerInfo info_;
  uint64_t next_id_ = 0;
  std::mutex queue_mu_;  // submit()'s queue and thread
  std::condition_variable queue_cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::thread thread_;
  int cancel_[2] = {-1, -1};
};

Result<std::unique_ptr<GpuRunner>> GpuRunner::start(int device, const SandboxConfig& config,
                                                    const EvaluatorConfig& evaluator,
                                                    const WorkerLaunch& launch) {
  auto impl = std::make_unique<Impl>(device, config, evaluator, launch);
  KEVO_RETURN_IF_ERROR(impl->start());
  return std::unique_ptr<GpuRunner>(new GpuRunner(std::move(impl)));
}

GpuRunner::GpuRunner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GpuRunner::~GpuRunner() = default;
EvalResult GpuRunner::evaluate(const Candidate& c, const CompileOutcome& compiled,
                               const std::string& suite, const EvalOptions& options) {
  return impl_->evaluate(c, compiled, suite, options);
}
std::future<EvalResult> GpuRunner::submit(Candidate c, CompileOutcome compiled, std::string suite,
                                          EvalOptions options) {
  return impl_->submit(std::move(c), std::move(compiled), std::move(suite), options);
}
GpuRunnerInfo GpuRunner::info() const { return impl_->info(); }

}  // namespace kevo
