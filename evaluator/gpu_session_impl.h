// Private to gpu_session*.cc: the GpuSession implementation. gpu_session.cc loads candidates,
// plans and times them; gpu_session_counters.cc adds the hardware counters (issue 20).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "evaluator/cupti_profiler.h"
#include "evaluator/decode_runner.h"
#include "evaluator/evaluator.h"
#include "evaluator/gpu_context.h"
#include "evaluator/result_assembly.h"
#include "evaluator/run_checks.h"
#include "evaluator/workload_data.h"
#include "evaluator/workloads.h"

namespace kevo::session_detail {

struct LoadedModule {
  std::string name;
  CUmodule mod = nullptr;
  TaskSpec spec;
  std::map<std::string, int64_t> params;
  std::map<std::string, PlanKernel> kernels;  // by name: function and driver attributes
};

class Session final : public GpuSession {
 public:
  Session(std::unique_ptr<GpuContext> c, EvaluatorConfig cfg, double empty_us)
      : ctx_(std::move(c)), cfg_(std::move(cfg)), empty_us_(empty_us) {}
  ~Session() override;
  EvalResult evaluate(const Candidate& c, const CompileOutcome& compiled, const std::string& suite,
                      const EvalOptions& options) override {
    EvalResult r = options.counters_only ? counters_only(c, compiled, suite)
                                         : measure(c, compiled, suite, options);
    r.gpu = ctx_->info().name + " (" + arch() + ")";  // every result says where it was measured
    return r;
  }
  bool poisoned() const override { return ctx_->poisoned(); }
  std::string arch() const override { return ctx_->info().arch(); }

 private:
  EvalResult measure(const Candidate& c, const CompileOutcome& compiled, const std::string& suite,
                     const EvalOptions& options);
  // A candidate's module, unloaded on every way out of the scope that holds it.
  class ModuleGuard {
   public:
    explicit ModuleGuard(Session& s) : s_(s) {}
    ~ModuleGuard() { s_.unload(module); }
    ModuleGuard(const ModuleGuard&) = delete;
    ModuleGuard& operator=(const ModuleGuard&) = delete;
    LoadedModule module;

   private:
    Session& s_;
  };

  std::optional<Failure> load(const std::string& name, const std::string& source,
                              const CompileOutcome& compiled, LoadedModule& out);
  void unload(LoadedModule& m);
  std::optional<Failure> plan_for(const LoadedModule& m, const WorkloadSpec& w, RunPlan& out);
  std::optional<Failure> ensure_dense();
  Result<const Suite*> get_suite(const std::string& name);
  Result<WorkloadData*> get_data(const Suite& s, const WorkloadSpec& w);
  void drop_if_dirty(const Suite& s, const WorkloadSpec& w, WorkloadData& d);
  RunLimits limits(const Shape& s, bool dense) const;

  // ---- gpu_session_counters.cc ----
  bool wants_counters(const std::string& suite, const EvalOptions& options) const;
  // Profiles `m` on the configured workloads of `s`: one WorkloadResult per workload profiled
  // (name, shape, kernels with their resources and counters) into `out`, and how it went into
  // `run` (unavailable: why there are none). A Failure when the candidate failed in the passes.
  std::optional<Failure> profile(const LoadedModule& m, const Suite& s,
                                 std::vector<WorkloadResult>& out, CountersRun& run);
  EvalResult counters_only(const Candidate& c, const CompileOutcome& compiled,
                           const std::string& suite);
  CounterProfiler* profiler(std::string& why_not);  // created on first use; null when unavailable

  std::unique_ptr<GpuContext> ctx_;
  EvaluatorConfig cfg_;
  double empty_us_;
  std::map<std::string, Suite> suites_;
  std::map<std::string, std::unique_ptr<WorkloadData>> data_;
  std::optional<LoadedModule> dense_;
  std::unique_ptr<CounterProfiler> profiler_;
  std::string profiler_error_;  // why CUPTI cannot be used here (asked once per session)
};

}  // namespace kevo::session_detail
