// resolve_plan: the concrete launches of a candidate for one workload shape. Limits that every
// GPU kevo supports shares are checked here, so a bad plan is `invalid_plan` with the kernel and
// line named, rather than a launch error from the driver later.
#include <string>

#include "evaluator/task.h"

namespace kevo {
namespace {

// CUDA's launch limits (CUDA C Programming Guide, "Compute Capabilities", table 21) for every
// architecture from sm_75 up: grid x < 2^31, y and z <= 65535; block x, y <= 1024, z <= 64,
// at most 1024 threads.
constexpr int64_t kMaxGrid[3] = {2147483647, 65535, 65535};
constexpr int64_t kMaxBlock[3] = {1024, 1024, 64};
constexpr int64_t kMaxThreadsPerBlock = 1024;
// 227 KB: the most dynamic shared memory one block may opt into on Hopper and Blackwell.
constexpr int64_t kMaxSmemBytes = 227 * 1024;

std::string shape_text(const Shape& s) {
  return "B=" + std::to_string(s.B) + " Hq=" + std::to_string(s.Hq) + " Hkv=" + std::to_string(s.Hkv) +
         " N=" + std::to_string(s.N) + " D=" + std::to_string(s.D);
}

Status plan_error(int line, const std::string& what, const Shape& shape) {
  std::string where = line > 0 ? "line " + std::to_string(line) + ": " : "";
  return Status::InvalidArgument(where + what + " (for " + shape_text(shape) + ")");
}

}  // namespace

Result<ResolvedPlan> resolve_plan(const TaskSpec& spec, const std::map<std::string, int64_t>& params,
                                  const Shape& shape) {
  if (shape.Hkv <= 0 || shape.Hq <= 0 || shape.Hq % shape.Hkv != 0) {
    return Status::InvalidArgument("bad shape " + shape_text(shape) + ": Hq must be a positive multiple of Hkv");
  }
  std::map<std::string, int64_t> vars = params;
  vars["B"] = shape.B;
  vars["Hq"] = shape.Hq;
  vars["Hkv"] = shape.Hkv;
  vars["G"] = shape.Hq / shape.Hkv;
  vars["N"] = shape.N;
  vars["D"] = shape.D;
  for (const auto& let : spec.lets) {
    auto v = let.expr.eval(vars);
    if (!v.ok())
      return plan_error(let.line, "kevo:let " + let.name + ": " + v.status().message(), shape);
    vars[let.name] = *v;
  }

  ResolvedPlan plan;
  struct Size {
    const PlanExpr& expr;
    int line;
    const char* what;
    int64_t& out;
  };
  for (Size s : {Size{spec.index_bytes, spec.index_line, "kevo:index", plan.index_bytes},
                 Size{spec.workspace_bytes, spec.workspace_line, "kevo:workspace", plan.workspace_bytes}}) {
    auto v = s.expr.eval(vars);
    if (!v.ok()) return plan_error(s.line, std::string(s.what) + ": " + v.status().message(), shape);
    if (*v < 0) {
      return plan_error(s.line, std::string(s.what) + " '" + s.expr.text() + "' is " + std::to_string(*v) +
                                    " bytes; a size must not be negative", shape);
    }
    s.out = *v;
  }

  static const char* kAxis[3] = {"x", "y", "z"};
  for (const auto& k : spec.kernels) {
    ResolvedLaunch l;
    l.name = k.name;
    l.phase = k.phase;
    std::string who = "kernel '" + k.name + "'";
    int64_t threads = 1;
    for (int i = 0; i < 3; ++i) {
      auto g = k.grid[i].eval(vars);
      if (!g.ok()) return plan_error(k.line, who + " grid." + kAxis[i] + ": " + g.status().message(), shape);
      // 0 blocks: the kernel is not launched for this shape (a method's crossover, e.g. a sparse
      // seed that attends densely below some N launches only its dense kernel there).
      if (*g < 0 || *g > kMaxGrid[i]) {
        return plan_error(
            k.line,
            who + " grid." + kAxis[i] + " = '" + k.grid[i].text() + "' = " + std::to_string(*g) +
                "; it must be between 0 (not launched) and " + std::to_string(kMaxGrid[i]),
            shape);
      }
      auto b = k.block[i].eval(vars);
      if (!b.ok()) return plan_error(k.line, who + " block." + kAxis[i] + ": " + b.status().message(), shape);
      if (*b < 1 || *b > kMaxBlock[i]) {
        return plan_error(k.line, who + " block." + kAxis[i] + " = '" + k.block[i].text() + "' = " + std::to_string(*b) +
                                      "; it must be between 1 and " + std::to_string(kMaxBlock[i]), shape);
      }
      threads *= *b;
      l.grid[i] = static_cast<unsigned>(*g);
      l.block[i] = static_cast<unsigned>(*b);
    }
    if (threads > kMaxThreadsPerBlock) {
      return plan_error(k.line, who + " has " + std::to_string(threads) + " threads per block; the limit is " +
                                    std::to_string(kMaxThreadsPerBlock), shape);
    }
    auto sm = k.smem.eval(vars);
    if (!sm.ok()) return plan_error(k.line, who + " smem: " + sm.status().message(), shape);
    if (*sm < 0 || *sm > kMaxSmemBytes) {
      return plan_error(k.line, who + " smem = '" + k.smem.text() + "' = " + std::to_string(*sm) +
                                    " bytes; it must be between 0 and " + std::to_string(kMaxSmemBytes) +
                                    " (227 KB, the most a block can have)", shape);
    }
    l.smem = static_cast<unsigned>(*sm);
    l.pdl = k.pdl;
    plan.launches.push_back(l);
  }
  bool decodes = false;
  for (const auto& l : plan.launches) decodes |= l.phase == Phase::kDecode && l.launched();
  if (!decodes) {
    return plan_error(0,
                      "no decode kernel is launched (every decode grid has a 0): nothing would "
                      "write the output",
                      shape);
  }
  return plan;
}

}  // namespace kevo
