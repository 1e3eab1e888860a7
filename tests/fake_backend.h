// An honest fake EvaluationBackend for loop tests: compile checks the directives and params (a
// source containing "NOCOMPILE" fails to compile, as a compile error would), and the "GPU"
// result is a known function of the params. Header-only: test executables include it.
#pragma once

#include <atomic>
#include <cmath>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "orchestrator/evolution/evolution.h"

namespace kevo::testing {

// Fitness peaks at TILE=256, UNROLL=4; a source containing "FAST" doubles it; "CRASH" crashes.
class FakeBackend : public EvaluationBackend {
 public:
  std::future<CompileOutcome> compile(Candidate c) override {
    std::promise<CompileOutcome> p;
    CompileOutcome o;
    auto spec = parse_task_spec(c.source);
    if (c.source.find("NOCOMPILE") != std::string::npos) {
      o.status = EvalStatus::kCompileError;
      o.message = "line 3: error: identifier \"NOCOMPILE\" is undefined";
    } else if (!spec.ok()) {
      o.status = EvalStatus::kRejectedSource;
      o.message = spec.status().message();
    } else {
      auto params = spec->resolve_params(c.params);
      if (!params.ok()) {
        o.status = EvalStatus::kRejectedSource;
        o.message = params.status().message();
      } else {
        o.params = *params;
        o.cubin = "fake";
      }
    }
    p.set_value(o);
    std::lock_guard lock(mu);
    ++compiles;
    events.push_back("compile " + c.name);
    return p.get_future();
  }
  EvalResult evaluate(int, const Candidate& c, const CompileOutcome& o, const std::string& suite) override {
    std::lock_guard lock(mu);
    ++evaluations;
    events.push_back("evaluate " + c.name);
    if (suite == "holdout") ++holdouts;
    if (stop_flag && evaluations >= stop_at) stop_flag->store(true);  // Ctrl-C mid-run
    if (on_evaluate) on_evaluate();
    if (c.source.find("CRASH") != std::string::npos) {
      return EvalResult::failure(EvalStatus::kCrash, "illegal address in attend");
    }
    double tile = double(o.params.at("TILE")), unroll = double(o.params.at("UNROLL"));
    double speedup = 1 + std::log2(tile / 8) - std::abs(std::log2(unroll) - 2) * 0.5;
    if (c.source.find("FAST") != std::string::npos) speedup *= 2;
    EvalResult r;
    r.fitness = speedup;
    r.metrics = {{"speedup", speedup}, {"mean_rel_err", 0.01}, {"index_bytes_per_token", 4}};
    return r;
  }
  int gpu_count() const override { return 1; }

  std::mutex mu;
  int compiles = 0, evaluations = 0, holdouts = 0;
  std::vector<std::string> events;  // "compile NAME", "evaluate NAME", in the order they came
  std::atomic<bool>* stop_flag = nullptr;
  int stop_at = 0;
  std::function<void()> on_evaluate;  // called with `mu` held, e.g. to let a FakeClock run
};

}  // namespace kevo::testing
