#include "sandbox/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include "common/log.h"

namespace kevo::sandbox {
namespace bp = boost::process;
namespace {

constexpr size_t kStderrTail = 4096;

// A worker that dies while we write would otherwise kill the orchestrator with SIGPIPE; the
// write reports EPIPE instead.
void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] { signal(SIGPIPE, SIG_IGN); });
}

void close_fd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

int ms_until(Deadline d) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(d - Clock::now()).count();
  if (left <= 0) return 0;
  return left > 1000 ? 1000 : static_cast<int>(left);  // wake up regularly to check the child
}

}  // namespace

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::spawn(const SpawnSpec& spec) {
  ignore_sigpipe_once();
  std::unique_ptr<ChildProcess> child(new ChildProcess(spec));
  // O_CLOEXEC: our ends must not leak into other workers started concurrently, or their EOF
  // would never come.
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return Status::Unavailable(std::string("pipe: ") + strerror(errno));
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]), close(in[1]);
    return Status::Unavailable(std::string("pipe: ") + strerror(errno));
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(in[0]), close(in[1]), close(out[0]), close(out[1]);
    return Status::Unavailable(std::string("pipe: ") + strerror(errno));
  }
  bp::pipe in_pipe(in[0], in[1]), out_pipe(out[0], out[1]), err_pipe(err[0], err[1]);
  bp::environment env;
  for (const auto& [k, v] : spec.env) env[k] = v;
  std::error_code ec;
  bp::child c(
      bp::exe = spec.executable, bp::args = spec.args, env, bp::std_in < in_pipe,
      bp::std_out > out_pipe, bp::std_err > err_pipe,
      bp::extend::on_exec_setup =
          [](auto&) {
            // Own process group: one kill reaches everything the worker started, and Ctrl-C
            // in the terminal reaches only the orchestrator, which shuts workers down itself.
            setpgid(0, 0);
            // Inherited dispositions and masks would blunt SIGXCPU and SIGPIPE in the worker.
            signal(SIGPIPE, SIG_DFL);
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, nullptr);
          },
      ec);
  if (ec) {
    return Status::Unavailable("cannot start " + spec.name + " (" + spec.executable +
                               "): " + ec.message());
  }
  child->pid_ = c.id();
  c.detach();  // reaped by us (waitpid), not by boost
  child->in_fd_ = in_pipe.native_sink();
  in_pipe.assign_sink(-1);
  child->out_fd_ = out_pipe.native_source();
  out_pipe.assign_source(-1);
  child->err_fd_ = err_pipe.native_source();
  err_pipe.assign_source(-1);
  for (int fd : {child->in_fd_, child->out_fd_, child->err_fd_}) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  spdlog::debug("{}: started, pid {}", spec.name, child->pid_);
  return child;
}

ChildProcess::~ChildProcess() {
  kill();
  close_fd(in_fd_);
  close_fd(out_fd_);
  close_fd(err_fd_);
}

void ChildProcess::record_exit(int st) {
  reaped_ = true;
  if (WIFSIGNALED(st)) {
    exit_signal_ = WTERMSIG(st);
    exit_description_ = "killed by signal " + std::to_string(exit_signal_) + " (" +
                        signal_name(exit_signal_) + ")";
  } else {
    exit_description_ = "exited with code " + std::to_string(WEXITSTATUS(st));
  }
  spdlog::debug("{}: pid {} {}", spec_.name, pid_, exit_description_);
}

bool ChildProcess::reap(bool block) {
  if (reaped_) return true;
  int st = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &st, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    record_exit(st);
  } else if (r < 0) {  // not our child any more (should not happen): treat as gone
    reaped_ = true;
    exit_description_ = "ended (not reaped: " + std::string(strerror(errno)) + ")";
  }
  return reaped_;
}

bool ChildProcess::alive() { return pid_ > 0 && !reap(false); }

void ChildProcess::kill() {
  if (pid_ <= 0 || reaped_) return;
  // The group first, while the leader is unreaped (its pid, and so the group id, cannot be
  // reused before that), then the leader itself in case it left its group.
  ::killpg(pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  reap(true);
}

bool ChildProcess::drain_stderr() {
  char buf[8192];
  for (;;) {
    ssize_t n = read(err_fd_, buf, sizeof buf);
    if (n <= 0) break;
    stderr_bytes_ += n;
    stderr_tail_.append(buf, n);
    if (stderr_tail_.size() > kStderrTail) stderr_tail_.erase(0, stderr_tail_.size() - kStderrTail);
    if (stderr_bytes_ <= spec_.max_stderr_bytes) {
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] != '\n') {
          if (err_line_.size() < 1000) err_line_ += buf[i];
          continue;
        }
        spdlog::debug("{} [{}]: {}", spec_.name, pid_, err_line_);
        err_line_.clear();
      }
    }
  }
  return stderr_bytes_ <= spec_.max_stderr_bytes;
}

Status ChildProcess::ended_status(const std::string& what) {
  // Give a child that closed its stdout a moment to finish dying, so the message can say how.
  for (int i = 0; i < 200 && !reap(false); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  kill();
  drain_stderr();
  std::string msg = spec_.name + " " + what + ": " + exit_description_;
  return Status::Unavailable(msg);
}

Status ChildProcess::write_line(const std::string& line, Deadline deadline) {
  stderr_bytes_ = 0;
  std::string data = line + "\n";
  size_t done = 0;
  while (done < data.size()) {
    if (!alive()) return ended_status("ended before taking the request");
    ssize_t n = write(in_fd_, data.data() + done, data.size() - done);
    if (n > 0) {
      done += n;
      continue;
    }
    if (n < 0 && errno == EPIPE) return ended_status("closed its input");
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return Status::IoError(spec_.name + ": write: " + strerror(errno));
    }
    if (Clock::now() >= deadline) return Status::Timeout(spec_.name + " did not take its request");
    pollfd p[3] = {{in_fd_, POLLOUT, 0}, {err_fd_, POLLIN, 0}, {spec_.cancel_fd, POLLIN, 0}};
    poll(p, spec_.cancel_fd >= 0 ? 3 : 2, ms_until(deadline));
    if (p[2].revents) return Status::Cancelled(spec_.name + ": shutting down");
    if (!drain_stderr()) {
      kill();
      return Status::IoError(spec_.name + " wrote over " + std::to_string(spec_.max_stderr_bytes) +
                             " bytes to stderr and was stopped");
    }
  }
  return Status::Ok();
}

Result<std::string> ChildProcess::read_line(Deadline deadline) {
  for (;;) {
    size_t nl = out_buf_.find('\n', scanned_);  // only new bytes: a long line stays linear
    if (nl != std::string::npos) {
      std::string line = out_buf_.substr(0, nl);
      out_buf_.erase(0, nl + 1);
      scanned_ = 0;
      return line;
    }
    scanned_ = out_buf_.size();
    if (out_buf_.size() > spec_.max_line_bytes) {
      kill();
      out_buf_.clear();
      scanned_ = 0;
      return Status::IoError(spec_.name + " sent a reply over " +
                             std::to_string(spec_.max_line_bytes) + " bytes and was stopped");
    }
    if (reaped_) return ended_status("ended");
    pollfd p[3] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}, {spec_.cancel_fd, POLLIN, 0}};
    int ready = poll(p, spec_.cancel_fd >= 0 ? 3 : 2, ms_until(deadline));
    if (p[2].revents) return Status::Cancelled(spec_.name + ": shutting down");
    if (ready < 0 && errno != EINTR) return Status::IoError(spec_.name + ": poll: " + strerror(errno));
    if (!drain_stderr()) {
      kill();
      return Status::IoError(spec_.name + " wrote over " + std::to_string(spec_.max_stderr_bytes) +
                             " bytes to stderr and was stopped");
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[65536];
      ssize_t n = read(out_fd_, buf, sizeof buf);
      if (n > 0) {
        out_buf_.append(buf, n);
        continue;
      }
      if (n == 0) return ended_status("ended");
      if (errno != EAGAIN && errno != EINTR) return Status::IoError(spec_.name + ": read: " + strerror(errno));
    }
    // Dead, though something it started may still hold its stdout open.
    if (ready == 0 && !alive()) return ended_status("ended");
    if (Clock::now() >= deadline) return Status::Timeout(spec_.name + " did not answer in time");
  }
}

}  // namespace kevo::sandbox
