// CompilePool: one thread per compile worker process; the thread owns its process, restarts it
// after any failure, and turns every way a compile can end into a CompileOutcome.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
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

// A worker warms NVRTC up (0.3-2 s) before it is ready; a loaded 2-core machine can take longer.
constexpr double kStartupTimeoutS = 60;
// Past the compile's own timeout (NVRTC's flow callback), the worker is killed after this.
constexpr double kKillGraceS = 5;
constexpr double kWriteTimeoutS = 10;

CompileOutcome outcome(EvalStatus s, std::string message) {
  CompileOutcome o;
  o.status = s;
  o.message = std::move(message);
  return o;
}

void warn_once_without_landlock() {
  static std::once_flag once;
  std::call_once(once, [] {
    spdlog::warn("Landlock is not available in this kernel: compile workers are confined by "
                 "seccomp and resource limits only (see 'kevo doctor')");
  });
}

}  // namespace

class CompilePool::Impl {
 public:
  Impl(const SandboxConfig& config, const CompileOptions& options, const WorkerLaunch& launch)
      : config_(config), options_(options), launch_(launch) {
    if (pipe2(cancel_, O_CLOEXEC) != 0) cancel_[0] = cancel_[1] = -1;
  }

  ~Impl() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (cancel_[1] >= 0) (void)!write(cancel_[1], "x", 1);  // wakes reads blocked on a worker
    for (auto& t : threads_) t.join();
    for (auto& job : queue_) job.promise.set_value(outcome(EvalStatus::kCompileError, "compile pool shut down"));
    for (int fd : cancel_) if (fd >= 0) close(fd);
  }

  Status start() {
    int n = resolved_compile_workers(config_);
    for (int i = 0; i < n; ++i) slots_.push_back(std::make_unique<Slot>());
    for (int i = 0; i < n; ++i) threads_.emplace_back([this, i] { slot_loop(i); });
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return started_ == n; });
    return first_start_error_;
  }

  std::future<CompileOutcome> submit(Candidate c) {
    Job job{std::move(c), {}};
    auto fut = job.promise.get_future();
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        job.promise.set_value(outcome(EvalStatus::kCompileError, "compile pool shut down"));
        return fut;
      }
      queue_.push_back(std::move(job));
    }
    cv_.notify_one();
    return fut;
  }

  std::vector<int> pids() const {
    std::vector<int> out;
    for (const auto& s : slots_) {
      int pid = s->pid.load();
      if (pid > 0) out.push_back(pid);
    }
    return out;
  }
  int restarts() const { return restarts_.load(); }
  bool landlock() const { return landlock_.load(); }

 private:
  struct Job {
    Candidate candidate;
    std::promise<CompileOutcome> promise;
  };
  struct Slot {
    std::unique_ptr<ChildProcess> proc;
    std::atomic<int> pid{-1};
    int starts = 0;
  };

  Status ensure_worker(int index) {
    Slot& slot = *slots_[index];
    if (slot.proc && slot.proc->alive()) return Status::Ok();
    slot.proc.reset();
    slot.pid = -1;
    auto spec = sandbox::worker_spawn_spec(
        launch_, sandbox::WorkerKind::kCompile,
        {"compile", "--cuda-include", options_.cuda_include_dir, "--arch", options_.arch,
         "--memory-mb", std::to_string(config_.compile_memory_mb), "--timeout",
         std::to_string(config_.compile_timeout_s)},
        "compile worker " + std::to_string(index));
    spec.cancel_fd = cancel_[0];
    KEVO_ASSIGN_OR_RETURN(auto started, sandbox::start_worker(spec, deadline_in(kStartupTimeoutS)));
    if (slot.starts++ > 0) restarts_++;
    bool ll = started.hello.value("landlock", false);
    landlock_ = ll;
    if (!ll) warn_once_without_landlock();
    spdlog::debug("compile worker {} ready: {}", index, started.hello.dump());
    slot.proc = std::move(started.process);
    slot.pid = slot.proc->pid();
    return Status::Ok();
  }

  void slot_loop(int index) {
    Status st = ensure_worker(index);
    {
      std::lock_guard lock(mu_);
      if (!st.ok() && first_start_error_.ok()) first_start_error_ = st;
      ++started_;
    }
    cv_.notify_all();
    for (;;) {
      Job job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) break;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job.promise.set_value(run_job(index, job.candidate));
      // A failed worker is replaced now, while the pool may be idle, not when the next job waits.
      bool stop;
      {
        std::lock_guard lock(mu_);
        stop = stopping_;
      }
      if (!stop) {
        Status restart = ensure_worker(index);
        if (!restart.ok()) spdlog::error("{}", restart.message());
      }
    }
    slots_[index]->proc.reset();
    slots_[index]->pid = -1;
  }

  CompileOutcome run_job(int index, const Candidate& c) {
    Status st = ensure_worker(index);
    if (!st.ok()) return outcome(EvalStatus::kCompileError, "compile sandbox unavailable: " + st.message());
    ChildProcess& proc = *slots_[index]->proc;
    uint64_t id = ++next_id_;
    double timeout = config_.compile_timeout_s;
    nlohmann::json req = {{"id", id}, {"candidate", to_json(c)}, {"arch", options_.arch},
                          {"timeout_s", timeout}};
    st = proc.write_line(req.dump(), deadline_in(kWriteTimeoutS));
    Result<std::string> line = st.ok() ? proc.read_line(deadline_in(timeout + kKillGraceS))
                                       : Result<std::string>(st);
    if (!line.ok()) return failure(proc, line.status(), timeout);
    auto reply = sandbox::parse_message(*line);
    if (!reply.ok() || reply->value("id", uint64_t{0}) != id || !reply->contains("outcome")) {
      proc.kill();
      return outcome(EvalStatus::kCompileError,
                     "compile worker sent a bad reply: " + (reply.ok() ? line->substr(0, 200) : reply.status().message()));
    }
    auto out = compile_outcome_from_json(reply->at("outcome"));
    if (reply->value("retire", false)) proc.kill();  // it exits by itself; reap it now
    if (!out.ok()) return outcome(EvalStatus::kCompileError, "compile worker: " + out.status().message());
    return std::move(*out);
  }

  CompileOutcome failure(ChildProcess& proc, const Status& st, double timeout) {
    proc.kill();
    std::string t = std::to_string(static_cast<int>(timeout));
    switch (st.code()) {
      case StatusCode::kTimeout:
        return outcome(EvalStatus::kTimeout, "compile did not finish within its " + t +
                                                 " s limit and was stopped: reduce template "
                                                 "instantiation, unrolling or source size");
      case StatusCode::kCancelled:
        return outcome(EvalStatus::kCompileError, "compile pool shut down");
      case StatusCode::kIoError:
        return outcome(EvalStatus::kCompileError, st.message());
      default:
        break;
    }
    if (proc.exit_signal() == SIGXCPU) {
      return outcome(EvalStatus::kTimeout, "compile used more than its CPU-time limit (" + t +
                                               " s plus margin) and was stopped");
    }
    return outcome(EvalStatus::kCompileError,
                   "compiler ran out of memory or crashed (" + proc.exit_description() +
                       "; memory limit " + std::to_string(config_.compile_memory_mb) +
                       " MiB): reduce template instantiation, unrolling or source size");
  }

  SandboxConfig config_;
  CompileOptions options_;
  WorkerLaunch launch_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  int started_ = 0;
  Status first_start_error_;
  std::atomic<uint64_t> next_id_{0};
  std::atomic<int> restarts_{0};
  std::atomic<bool> landlock_{false};
  int cancel_[2] = {-1, -1};
};

Result<std::unique_ptr<CompilePool>> CompilePool::start(const SandboxConfig& config,
                                                        const CompileOptions& options,
                                                        const WorkerLaunch& launch) {
  auto impl = std::make_unique<Impl>(config, options, launch);
  KEVO_RETURN_IF_ERROR(impl->start());
  return std::unique_ptr<CompilePool>(new CompilePool(std::move(impl)));
}

CompilePool::CompilePool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CompilePool::~CompilePool() = default;
std::future<CompileOutcome> CompilePool::submit(Candidate c) { return impl_->submit(std::move(c)); }
std::vector<int> CompilePool::worker_pids() const { return impl_->pids(); }
int CompilePool::restarts() const { return impl_->restarts(); }
bool CompilePool::landlock() const { return impl_->landlock(); }

}  // namespace kevo
