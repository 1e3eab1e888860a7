// The sandbox's public API (docs/design.md, Sandbox): candidates are compiled in confined worker
// processes and evaluated in one long-lived runner process per GPU. Both kinds of process are
// the kevo binary itself, re-executed as `kevo sandbox-worker compile|gpu` (hidden commands), with
// a scrubbed environment, talking one JSON object per line over pipes. Whatever a candidate does
// (hang, crash, poison a CUDA context, exhaust memory, flood its output) ends as a status on
// that candidate; the orchestrator never blocks past a deadline and never goes down with it.
#pragma once

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "evaluator/config.h"
#include "evaluator/evaluator.h"
#include "sandbox/config.h"

namespace kevo {

// How worker processes are started.
struct WorkerLaunch {
  std::string executable;  // the kevo binary; "" = this process's own executable
  std::string log_level;   // the workers' --log-level; "" = this process's current level
};

// Compile workers: SandboxConfig::compile_workers confined processes, each reused for many
// compiles, each replaced by a fresh one after a timeout, a crash or too much output.
// Thread-safe: submit() from any thread; results come back as futures.
class CompilePool {
 public:
  // Starts every worker and waits until each is warm and confined. Unavailable when a worker
  // cannot start (with its reason): the run must not go on unsandboxed.
  static Result<std::unique_ptr<CompilePool>> start(const SandboxConfig& config,
                                                    const CompileOptions& options,
                                                    const WorkerLaunch& launch = {});
  // Stops every worker (jobs still queued get compile_error "compile pool shut down").
  ~CompilePool();

  // Queues a compile. The outcome's status is ok, rejected_source, compile_error or timeout;
  // a worker that dies mid-compile yields compile_error ("compiler ran out of memory or
  // crashed ...") or timeout (CPU limit). Never throws for a bad candidate.
  std::future<CompileOutcome> submit(Candidate candidate);
  CompileOutcome compile(Candidate candidate) { return submit(std::move(candidate)).get(); }

  // Process ids of the live workers (for tests and `kevo status`), and how many were replaced.
  std::vector<int> worker_pids() const;
  int restarts() const;
  bool landlock() const;  // whether the workers are confined by Landlock (else seccomp+rlimits)

  class Impl;

 private:
  explicit CompilePool(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct GpuRunnerInfo {
  int pid = -1;              // -1 between a crash and the next candidate
  int starts = 0;            // runner processes started so far (1 + restarts)
  std::string arch;          // "sm_90a"
  long long free_bytes = -1; // GPU memory free after the last evaluation, as the runner saw it
};

// One runner process per GPU, reused across candidates (a CUDA context costs ~0.1 s). A hang is
// killed (SIGKILL to its process group) at SandboxConfig::evaluation_timeout_s and reported as
// timeout; a sticky CUDA error or a dead runner is reported as crash, and a fresh runner takes
// the next candidate. Thread-safe: concurrent calls are served one at a time.
class GpuRunner {
 public:
  // Starts the runner on `device` and waits until its GpuSession is open. Unavailable (one line,
  // from the runner) when there is no usable GPU.
  static Result<std::unique_ptr<GpuRunner>> start(int device, const SandboxConfig& config,
                                                  const EvaluatorConfig& evaluator,
                                                  const WorkerLaunch& launch = {});
  // Kills the runner's process group and reaps it: nothing is left running.
  ~GpuRunner();

  // Evaluates a compiled candidate (compiled.status must be ok) on `suite`. Blocks at most
  // evaluation_timeout_s plus runner start-up after a crash. `options`: hardware counters
  // (evaluator.h); a counters-only request of a new elite is bounded the same way.
  EvalResult evaluate(const Candidate& candidate, const CompileOutcome& compiled,
                      const std::string& suite, const EvalOptions& options = {});
  // The same on the runner's own thread.
  std::future<EvalResult> submit(Candidate candidate, CompileOutcome compiled, std::string suite,
                                 EvalOptions options = {});

  GpuRunnerInfo info() const;

  class Impl;

 private:
  explicit GpuRunner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// ---- worker processes (`kevo sandbox-worker ...`, from orchestrator/cli/cmd_sandbox_worker.cc) --

struct CompileWorkerArgs {
  std::string cuda_include_dir = "/usr/local/cuda/include";
  std::string arch = "sm_90a";  // warm-up target; requests name their own
  int memory_mb = 4096;         // RLIMIT_AS
  double timeout_s = 30;        // per compile (NVRTC cancels); the CPU limit adds a margin
};
// Warms NVRTC up, confines the process, then compiles requests until stdin closes. Returns the
// exit code (never returns normally once confined: exits directly).
int run_compile_worker(const CompileWorkerArgs& args);

struct GpuWorkerArgs {
  int device = 0;
};
// Reads the evaluator config (first line), opens a GpuSession on `device`, then evaluates
// requests until stdin closes or the context is poisoned.
int run_gpu_worker(const GpuWorkerArgs& args);

// The highest Landlock ABI the running kernel supports, or 0 when it has none (old kernel, or
// Landlock left out of the LSM list at boot): whether compile workers get filesystem
// confinement here (`kevo doctor` says so).
int landlock_abi_version();

// True when this process runs under a CUDA tool (ncu, nsys, compute-sanitizer: sandbox's
// under_cuda_tool on this process's environment), whose injection a GPU runner inherits.
bool running_under_cuda_tool();

}  // namespace kevo
