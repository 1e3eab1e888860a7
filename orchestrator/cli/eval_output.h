// Rendering for `kevo eval`: the compile-only report (JSON and text) and the text table of a
// full evaluation (its JSON is to_json(EvalResult), docs/design.md, "Evaluation result").
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evaluator/eval_result.h"
#include "evaluator/evaluator.h"
#include "evaluator/task.h"

namespace kevo::cli {

// One workload shape of a suite with the launch plan resolved for it (or why it does not resolve).
struct PlannedWorkload {
  std::string name;
  Shape shape;
  ResolvedPlan plan;
  std::string error;  // non-empty: the plan is invalid for this shape
};

struct CompileReport {
  std::string file;
  std::string arch;
  std::string suite;
  CompileOutcome outcome;   // status may be turned into invalid_plan by a shape below
  std::vector<PlannedWorkload> workloads;
};

nlohmann::json to_json(const CompileReport& r);
std::string render_text(const CompileReport& r);
std::string render_text(const EvalResult& r, const std::string& file, const std::string& suite);

}  // namespace kevo::cli
