// The GpuSession's hardware counters (issue 20): which evaluations get them, which workloads,
// the profiler created once per session, and the counters-only evaluation of a new elite.
#include <chrono>

#include "common/log.h"
#include "evaluator/gpu_session_impl.h"

namespace kevo::session_detail {
namespace {

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

double kv_bytes(const Shape& s) {
  return 2.0 * s.B * s.Hkv * double(s.N) * s.D * 2;
}

}  // namespace

bool Session::wants_counters(const std::string& suite, const EvalOptions& options) const {
  const auto mode = parse_counters_mode(cfg_.counters).value_or(CountersMode::kOff);
  if (mode == CountersMode::kOff) return false;
  if (options.counters || options.counters_only) return true;
  // "all" is about what prompts show: the main suite's results, not the holdout's.
  return mode == CountersMode::kAll && suite == cfg_.suite;
}

CounterProfiler* Session::profiler(std::string& why_not) {
  if (!profiler_ && profiler_error_.empty()) {
    auto p = CounterProfiler::create(ctx_->context(), ctx_->info().index, counter_metric_names());
    if (p.ok()) {
      profiler_ = std::move(p).value();
      if (!profiler_->missing().empty()) {
        spdlog::info(
            "hardware counters: this GPU lacks {} of kevo's metrics (first: {}); they "
            "read 0",
            profiler_->missing().size(), profiler_->missing().front());
      }
    } else {
      profiler_error_ = p.status().message();
      spdlog::warn("hardware counters unavailable, results carry none: {}", profiler_error_);
    }
  }
  why_not = profiler_error_;
  return profiler_.get();
}

std::optional<Failure> Session::profile(const LoadedModule& m, const Suite& s,
                                        std::vector<WorkloadResult>& out, CountersRun& run) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<const WorkloadSpec*> chosen;
  for (const WorkloadSpec& w : s.workloads) {
    const std::string& which = cfg_.counters_workloads;
    if (which == "all" || which == w.name) chosen.push_back(&w);
    if (which == "largest" && (chosen.empty() || kv_bytes(w.shape) > kv_bytes(chosen[0]->shape))) {
      chosen.assign(1, &w);
    }
  }
  if (chosen.empty()) {
    run.unavailable = "suite " + s.name + " has no workload '" + cfg_.counters_workloads +
                      "' (evaluator.counters_workloads)";
    return std::nullopt;
  }
  CounterProfiler* prof = profiler(run.unavailable);
  if (!prof) return std::nullopt;
  for (const WorkloadSpec* w : chosen) {
    RunPlan plan;
    if (auto f = plan_for(m, *w, plan))
      return Failure{f->status, "workload " + w->name + ": " + f->message};
    auto data = get_data(s, *w);
    if (!data.ok())
      return Failure{EvalStatus::kCrash, "evaluator fault: " + data.status().message()};
    CountersOutcome co = profile_workload(*ctx_, **data, plan, limits(w->shape, false), *prof);
    if (co.inputs_modified) (*data)->dirty = true;
    drop_if_dirty(s, *w, **data);
    if (co.status != EvalStatus::kOk) {
      return Failure{co.status,
                     "workload " + w->name + " (hardware counter passes): " + co.message};
    }
    run.passes = co.passes;
    if (!co.unavailable.empty()) {
      run.unavailable = co.unavailable;
      break;
    }
    WorkloadResult r;
    r.name = w->name;
    r.B = w->shape.B;
    r.N = w->shape.N;
    r.Hq = w->shape.Hq;
    r.Hkv = w->shape.Hkv;
    r.D = w->shape.D;
    for (size_t i = 0; i < plan.decode.size() && i < co.kernels.size(); ++i) {
      const PlanKernel& k = plan.decode[i];
      KernelTiming t{k.name, 0, k.registers, k.static_smem + int(k.launch.smem), k.local_bytes};
      t.counters = co.kernels[i];
      r.kernels.push_back(std::move(t));
    }
    out.push_back(std::move(r));
  }
  run.ms = ms_since(t0);
  if (!run.unavailable.empty()) out.clear();
  return std::nullopt;
}

EvalResult Session::counters_only(const Candidate& c, const CompileOutcome& compiled,
                                  const std::string& suite_name) {
  auto failure = [&](EvalStatus s, const std::string& msg) {
    EvalResult r = EvalResult::failure(s, msg);
    r.feedback = std::string(eval_status_name(s)) + ": " + msg;
    return r;
  };
  if (ctx_->poisoned())
    return failure(EvalStatus::kCrash, "this GPU session was lost to an earlier crash");
  if (compiled.status != EvalStatus::kOk) return failure(compiled.status, compiled.message);
  EvalResult r;
  r.counters.emplace();
  if (!wants_counters(suite_name, {.counters_only = true})) {
    r.counters->unavailable = "evaluator.counters is off";
    return r;
  }
  auto suite = get_suite(suite_name);
  if (!suite.ok())
    return failure(EvalStatus::kCrash, "evaluator fault: " + suite.status().message());
  ModuleGuard guard(*this);
  if (auto f = load(c.name, c.source, compiled, guard.module))
    return failure(f->status, f->message);
  auto f = profile(guard.module, **suite, r.workloads, *r.counters);
  if (f) return failure(f->status, f->message);
  return r;
}

}  // namespace kevo::session_detail
