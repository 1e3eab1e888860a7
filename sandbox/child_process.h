// A worker process seen from the orchestrator (private to sandbox/): started with Boost.Process
// in its own process group, with an explicit environment, talking line-delimited text over pipes.
// Every read and write has a deadline and a size cap, so a hung, crashed or chatty worker costs
// the caller a Status, never a blocked thread. Not thread-safe: one owner drives it.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace kevo::sandbox {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

inline Deadline deadline_in(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(seconds));
}

struct SpawnSpec {
  std::string executable;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;  // the whole environment of the child
  std::string name;                         // for messages and logs ("compile worker 2")
  size_t max_line_bytes = 64 << 20;         // a longer reply line kills the worker
  size_t max_stderr_bytes = 1 << 20;        // per request; more kills the worker
  int cancel_fd = -1;  // when readable, blocked reads and writes return Cancelled (shutdown)
};

class ChildProcess {
 public:
  // Starts the child. Unavailable (with the reason) when it cannot be started.
  static Result<std::unique_ptr<ChildProcess>> spawn(const SpawnSpec& spec);
  // Kills the whole process group and reaps the child: nothing is left running.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  int pid() const { return pid_; }
  const std::string& name() const { return spec_.name; }

  // Sends `line` + '\n'. Starts a new request: the stderr budget is reset.
  // Unavailable when the child is gone, Timeout past the deadline.
  Status write_line(const std::string& line, Deadline deadline);
  // The next line of stdout, without '\n'. Meanwhile stderr is drained (its tail kept for
  // messages, complete lines logged at debug level). Timeout past the deadline (the child keeps
  // running: the caller decides); Cancelled when cancel_fd became readable; Unavailable when the child closed stdout or died (message says
  // how it ended); IoError when the child sent more than the caps allow (it is killed first).
  Result<std::string> read_line(Deadline deadline);

  // SIGKILL to the process group, then reap. Idempotent.
  void kill();
  // Whether the child has not ended (reaps it when it has).
  bool alive();
  // How the child ended: "exited with code 3", "killed by signal 9 (SIGKILL)"; "" while alive.
  const std::string& exit_description() const { return exit_description_; }
  int exit_signal() const { return exit_signal_; }  // 0 unless killed by a signal
  // The last few KiB the child wrote to stderr.
  std::string stderr_tail() const { return stderr_tail_; }

 private:
  explicit ChildProcess(SpawnSpec spec) : spec_(std::move(spec)) {}
  void record_exit(int wait_status);
  bool reap(bool block);
  // Reads what is available on stderr; false when the cap was passed.
  bool drain_stderr();
  Status ended_status(const std::string& what);

  SpawnSpec spec_;
  int pid_ = -1;
  bool reaped_ = false;
  int in_fd_ = -1, out_fd_ = -1, err_fd_ = -1;
  std::string out_buf_;
  size_t scanned_ = 0;  // bytes of out_buf_ known to hold no newline
  std::string err_line_;
  std::string stderr_tail_;
  size_t stderr_bytes_ = 0;
  std::string exit_description_;
  int exit_signal_ = 0;
};

// "SIGKILL", "SIGSEGV", ... (or "signal N").
std::string signal_name(int sig);

}  // namespace kevo::sandbox
