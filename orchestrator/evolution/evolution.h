// The evolution loop (docs/design.md, Orchestrator): selects parents from the archive, makes
// children with the LLM and the built-in tuner, compiles them in the sandbox's pool, evaluates them
// on the GPU runners and records every outcome. Asynchronous: many LLM requests in flight, a
// compile pool and one GPU runner per GPU; when LLM replies are slow the tuner fills the pipeline
// so the GPU never waits.
//
//   SandboxBackend backend = ...;         // CompilePool + GpuRunners (evolution/backend.h)
//   Evolution evo(config, archive, backend, models /* empty: tuner only */, hardware);
//   Result<RunSummary> s = evo.run(stop_flag, progress);
//
// Stopping (budget reached, stop flag set by Ctrl-C): no new work starts, in-flight compiles and
// GPU evaluations finish and are recorded; programs that were created but not evaluated stay
// "pending" in the archive and `kevo resume` evaluates them first. Nothing recorded is lost.
#pragma once

#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/archive.h"
#include "common/status.h"
#include "evaluator/evaluator.h"
#include "evaluator/gpu_info.h"
#include "orchestrator/config/config.h"
#include "orchestrator/evolution/clock.h"
#include "orchestrator/llm/llm_client.h"

namespace kevo {

// Compiling and evaluating candidates: the sandbox in a real run, honest fakes in tests.
// Thread-safe: compile() from the loop's thread (the loop's compile waiters wait on its futures),
// evaluate() from one thread per GPU.
class EvaluationBackend {
 public:
  virtual ~EvaluationBackend() = default;
  virtual std::future<CompileOutcome> compile(Candidate candidate) = 0;
  // Blocks until the evaluation ends (the backend enforces deadlines). `gpu` < gpu_count().
  virtual EvalResult evaluate(int gpu, const Candidate& candidate, const CompileOutcome& compiled,
                              const std::string& suite) = 0;
  virtual int gpu_count() const = 0;
  // GPUs at work now: how many candidates to keep queued (about two each). The GPUs of a queue's
  // workers come and go; a local backend's are its gpu_count().
  virtual int active_gpus() const { return gpu_count(); }
  // Seconds the GPUs spent evaluating since the backend started, when the backend knows better
  // than the loop's own clock around evaluate() (a queue's evaluate() also waits for a worker).
  virtual std::optional<double> gpu_busy_s() const { return std::nullopt; }
  // Hardware counters only (EvalOptions::counters_only) of a program already evaluated ok, on
  // `suite`; merge_counters() puts them into its result. By default there are none to give.
  virtual EvalResult measure_counters(int gpu, const Candidate& candidate,
                                      const CompileOutcome& compiled, const std::string& suite) {
    (void)gpu, (void)candidate, (void)compiled, (void)suite;
    EvalResult r;
    r.counters = CountersRun{0, 0, "this backend measures no hardware counters"};
    return r;
  }
};

// A model the loop may ask (one per configured model; the replay client counts as one).
struct LlmModelHandle {
  std::string name;
  LlmClient* client = nullptr;  // not owned; must outlive the Evolution
  double weight = 1;
  int max_in_flight = 0;  // this model's own cap under llm.max_in_flight (0: none)
  bool price_known = true;  // false: its cost cannot be counted ("price unknown")
};

// The LLM's side of the progress: what was asked, what came of it, and what it cost.
struct LlmProgress {
  int64_t requests = 0;      // sent in all (a resumed run counts the earlier ones)
  int64_t max_requests = 0;  // the bound in effect
  int64_t children = 0;      // replies whose child compiled (this run)
  int64_t rejected = 0;      // replies that gave none (this run)
  std::map<std::string, int64_t> rejections;  // by reason, in words
  struct Model {
    std::string name;
    int64_t requests = 0, children = 0, rejected = 0;
    double accept_rate = 0;
    double paused_for_s = 0;  // > 0 while its breaker holds it
  };
  std::vector<Model> models;
  bool price_unknown = false;  // some model's cost cannot be counted
  std::string stopped;         // why no more requests go out ("" while they do)
};

// What the progress line shows; sent about once a second and at the end.
struct Progress {
  int64_t evaluations = 0;  // recorded this run (resumed runs include earlier ones)
  int64_t max_evaluations = 0;
  int64_t ok = 0;
  int64_t failed = 0;
  std::optional<double> best_fitness;
  std::optional<ProgramId> best_program;
  double evals_per_minute = 0;
  int llm_in_flight = 0;
  int64_t tokens = 0;
  double cost_usd = 0;
  double gpu_busy = 0;  // share of wall time the GPUs spent evaluating, 0..1
  // GPU jobs (evaluations, holdouts, counters) each runner did this session, by GPU index: shows
  // how the work spread over several runners.
  std::vector<int64_t> gpu_jobs;
  double elapsed_s = 0;
  std::string note;     // latest notable event ("new best 5.1x (#17)")
  std::optional<LlmProgress> llm;  // present when an LLM is configured
  bool final = false;
};

// Why a run stopped. The last three only end a run whose LLM makes every child (tuner_share 0).
// A run whose seeds all fail does not stop with a reason: run() returns an error.
enum class StopReason {
  kMaxEvaluations,   // run.max_evaluations reached
  kMaxWallMinutes,   // run.max_wall_minutes reached
  kInterrupted,      // the stop flag (Ctrl-C, SIGTERM)
  kSearchExhausted,  // every elite's tuner moves are evaluated and no LLM can be asked
  kMaxCostUsd,       // run.max_cost_usd spent
  kLlmMaxRequests,   // llm.max_requests sent
  kLlmPaused,        // every model's breaker holds it
};
// The name stored in the archive's "stopped" event and printed ("max_evaluations").
const char* stop_reason_name(StopReason reason);
// The reason of a stored name; nullopt for a name no kevo writes.
std::optional<StopReason> parse_stop_reason(std::string_view name);
// The reason in words ("the evaluation budget (run.max_evaluations) was used").
const char* stop_reason_words(StopReason reason);

struct RunSummary {
  Progress progress;
  StopReason stop_reason = StopReason::kInterrupted;
  std::string stop_detail;  // the reason in a sentence, for the summary
  int64_t tuner_children = 0;
  int64_t llm_children = 0;
  int64_t llm_edit_failures = 0;  // replies that could not be applied, after one retry
  int64_t duplicates = 0;         // children already in the archive: not evaluated again
  int64_t tuned_out_parents = 0;  // elites whose every one- and two-param move is evaluated
};

class Evolution {
 public:
  // With no models the built-in tuner makes every child. Nothing is owned.
  Evolution(const KevoConfig& config, Archive& archive, EvaluationBackend& backend,
            std::vector<LlmModelHandle> models, std::vector<GpuInfo> hardware);
  ~Evolution();

  // How to find the archive row of the LLM call behind a request tag (the recorder knows it), so
  // each child links to the call that made it. Optional.
  void set_call_ids(std::function<std::optional<LlmCallId>(const std::string& tag)> lookup);

  // The clock of the budgets, pauses, idle timer and progress ticks: real_clock() unless set
  // (tests pass a FakeClock). Not owned; set before run().
  void set_clock(Clock& clock);

  // Adds the configured seeds (seeds/<name>.cu, default params) as generation-0 programs,
  // spread over the islands. Call once, for a new run.
  Status add_seeds();

  // Runs until a budget is reached or `stop` becomes true (Ctrl-C). When it stops for a budget
  // it sets `stop` itself: share the flag with the LLM client (its `cancel`) so replies still
  // out are abandoned at once. `progress` is called from this thread.
  Result<RunSummary> run(std::atomic<bool>& stop,
                         const std::function<void(const Progress&)>& progress);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kevo
