// The sparse_decode task ABI as the host sees it: a candidate's `kevo:` directives parsed into a
// TaskSpec (docs/design.md, Task). Pure, no GPU; used by the compile workers,
// the GPU runner, the tuner (params and their choices) and export (the plan).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace kevo {

// A parsed plan expression: integers, + - * / %, parentheses, cdiv, min, max, and the variables
// B Hq Hkv G N D plus the candidate's params and lets. Evaluation is 64-bit; division by zero and
// overflow are errors, not UB.
class PlanExpr {
 public:
  struct Node;
  static Result<PlanExpr> parse(const std::string& text);  // message says where it failed
  Result<int64_t> eval(const std::map<std::string, int64_t>& vars) const;
  const std::string& text() const { return text_; }
  std::vector<std::string> variables() const;  // every name the expression reads

 private:
  std::string text_;
  std::shared_ptr<const Node> root_;
};

enum class Phase { kBuild, kDecode };

struct ParamSpec {
  std::string name;
  int64_t value = 0;               // the default (the file's `= VALUE`)
  std::vector<int64_t> choices;    // the tuner's search space; empty = fixed
  int line = 0;                    // 1-based line in the source
};

// `kevo:let NAME = EXPR`: a named plan expression, so that a quantity several directives need
// (a chunk length chosen by the shape, say) is written once. It reads the shape variables, the
// params and the lets above it; the directives after it read it like a param. A plan variable
// only: device code does not see it (it depends on the shape, which kernels read from Args).
struct PlanLet {
  std::string name;
  PlanExpr expr;
  int line = 0;
};

struct KernelLaunchSpec {
  std::string name;  // extern "C" __global__ function name
  Phase phase = Phase::kDecode;
  PlanExpr grid[3];  // x, y, z (missing dimensions are "1")
  PlanExpr block[3];
  PlanExpr smem;     // dynamic shared memory bytes ("0" when absent)
  // `pdl` (decode only): launched as a programmatic dependent of the decode kernel before it, so
  // its blocks may start while that kernel's last blocks run; the kernel must call
  // kevo::wait_prior_kernels() before it touches anything an earlier kernel writes.
  bool pdl = false;
  int line = 0;
};

struct TaskSpec {
  std::vector<ParamSpec> params;
  std::vector<PlanLet> lets;  // file order: each may read the ones before it
  PlanExpr index_bytes;      // "0" when the file has no kevo:index
  PlanExpr workspace_bytes;  // "0" when the file has no kevo:workspace
  int index_line = 0, workspace_line = 0;  // where they were declared (0 = absent)
  std::vector<KernelLaunchSpec> kernels;  // file order; build kernels first run once per KV cache
  bool has_evolve_block = false;          // EVOLVE-BLOCK-START/END present (and well-formed)
  int evolve_begin_line = 0, evolve_end_line = 0;

  // Default params overridden by `overrides` (names must exist; values must be in choices when
  // choices are given). InvalidArgument naming the param otherwise.
  Result<std::map<std::string, int64_t>> resolve_params(
      const std::map<std::string, int64_t>& overrides) const;
};

// Parses every `// kevo:...` directive of `source`. Errors are InvalidArgument with
// "line N: what is wrong" (unknown directive, bad expression, duplicate param, no decode kernel,
// unbalanced EVOLVE-BLOCK markers...).
Result<TaskSpec> parse_task_spec(const std::string& source);

// `source` with each `kevo:param` line's value set to `params` (the rest of the text unchanged; a
// value outside the line's choices is added to them), so that compiling the result with no
// overrides builds exactly the kernel that `source` + `params` builds. Used wherever a program's
// source is shown or saved (`kevo show --source`, export). InvalidArgument when the directives do
// not parse or a name in `params` is not a param of the file.
Result<std::string> source_with_params(const std::string& source,
                                       const std::map<std::string, int64_t>& params);

// Concrete launch numbers for one workload shape.
struct Shape {
  int B = 1, Hq = 32, Hkv = 8, N = 8192, D = 128;
};

struct ResolvedLaunch {
  std::string name;
  Phase phase;
  unsigned grid[3];  // a 0 on any axis: not launched for this shape (a plan's crossover)
  unsigned block[3];
  unsigned smem;
  bool pdl = false;  // KernelLaunchSpec::pdl
  bool launched() const { return grid[0] > 0 && grid[1] > 0 && grid[2] > 0; }
};

struct ResolvedPlan {
  int64_t index_bytes = 0;
  int64_t workspace_bytes = 0;
  std::vector<ResolvedLaunch> launches;
};

// Evaluates the plan for a shape; InvalidArgument (-> status invalid_plan) on a negative grid
// (0 is allowed: that kernel is not launched for this shape), a block over 1024 threads, a negative
// size, or an expression error, naming the kernel.
Result<ResolvedPlan> resolve_plan(const TaskSpec& spec, const std::map<std::string, int64_t>& params,
                                  const Shape& shape);

}  // namespace kevo
