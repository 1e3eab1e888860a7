#include "orchestrator/evolution/prompt_sections.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "evaluator/task.h"

namespace kevo::prompt_sections {
namespace {

std::string cap(const std::string& s, size_t max_chars) {
  if (s.size() <= max_chars) return s;
  return s.substr(0, max_chars) + "\n[... " + std::to_string(s.size() - max_chars) +
         " more characters cut]";
}

std::string or_none(const std::string& s, const char* none = "(none)") {
  return s.empty() ? none : s;
}

std::string bytes(double b) {
  const char* units[] = {"B", "KB", "MB", "GB"};
  int u = 0;
  while (b >= 1024 && u < 3) {
    b /= 1024;
    ++u;
  }
  return number(b) + " " + units[u];
}

std::string params_text(const std::map<std::string, int64_t>& params) {
  std::string out;
  for (const auto& [k, v] : params) out += (out.empty() ? "" : ", ") + k + "=" + std::to_string(v);
  return or_none(out);
}

std::string metrics_text(const EvalResult& r) {
  std::string out = "status: " + std::string(eval_status_name(r.status)) + "\n";
  if (r.ok()) out += "fitness (speedup over dense): " + number(r.fitness) + "\n";
  for (const auto& [k, v] : r.metrics) {
    if (!is_holdout(k)) out += k + ": " + number(v) + "\n";
  }
  out.pop_back();
  return out;
}

// "grid 4x8x1 = 32 blocks of 256 threads (0.24 per SM)": how much of the GPU a launch can fill,
// which the timings alone do not say. Empty when the shape or plan is unknown (older results).
std::string grid_text(const ProgramInfo& p, const WorkloadResult& w, const std::string& kernel,
                      int sm_count) {
  if (w.Hq <= 0 || w.Hkv <= 0 || w.D <= 0) return "";
  auto spec = parse_task_spec(p.source);
  if (!spec.ok()) return "";
  auto plan = resolve_plan(*spec, p.params, Shape{w.B, w.Hq, w.Hkv, w.N, w.D});
  if (!plan.ok()) return "";
  for (const ResolvedLaunch& l : plan->launches) {
    if (l.name != kernel || l.phase != Phase::kDecode) continue;
    const double blocks = double(l.grid[0]) * l.grid[1] * l.grid[2];
    std::string out = ", grid " + std::to_string(l.grid[0]) + "x" + std::to_string(l.grid[1]) +
                      "x" + std::to_string(l.grid[2]) + " = " + number(blocks) + " blocks of " +
                      std::to_string(l.block[0] * l.block[1] * l.block[2]) + " threads";
    if (sm_count > 0) out += " (" + number(blocks / sm_count) + " per SM)";
    return out;
  }
  return "";
}

std::string kernels_text(const ProgramInfo& p, int sm_count) {
  const EvalResult& r = p.result;
  std::string out;
  for (const auto& w : r.workloads) {
    if (is_holdout(w.name)) continue;
    out += "- " + w.name + " (B=" + std::to_string(w.B) + ", N=" + std::to_string(w.N) +
           "): decode " + number(w.decode_us) + " us, dense " + number(w.dense_us) +
           " us, speedup " + number(w.speedup) + "x, mean_rel_err " + number(w.mean_rel_err) +
           ", p99_rel_err " + number(w.p99_rel_err) + ", build " + number(w.build_us) + " us\n";
    for (const auto& k : w.kernels) {
      out += "    " + k.name + ": " + number(k.us) + " us, " + std::to_string(k.registers) +
             " registers, " + bytes(k.smem_bytes) + " shared, " + bytes(k.local_bytes) +
             " local (spills)" + grid_text(p, w, k.name, sm_count) + "\n";
      if (k.counters) out += "      hardware counters: " + describe_counters(*k.counters) + "\n";
    }
  }
  if (out.empty()) return "(no timings: the program did not run to completion)";
  out.pop_back();
  return out;
}

std::string summary_line(const EvalResult& r) {
  std::string out = "fitness " + number(r.fitness);
  for (const char* k : {"mean_rel_err", "index_bytes_per_token"}) {
    if (auto it = r.metrics.find(k); it != r.metrics.end()) out += ", " + std::string(k) + " " + number(it->second);
  }
  return out;
}

std::string inspirations_text(const std::vector<ProgramInfo>& list, int max_count) {
  std::string out;
  int n = 0;
  for (const auto& p : list) {
    if (n == max_count) break;
    ++n;
    out += "### Inspiration " + std::to_string(n) + ": " + summary_line(p.result) + "\n";
    if (!p.params.empty()) out += "Params: " + params_text(p.params) + "\n";
    out += "```cuda\n" + p.source;
    if (!p.source.empty() && p.source.back() != '\n') out += "\n";
    out += "```\n\n";
  }
  if (out.empty()) return "(none yet)";
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string failed_tries_text(const std::vector<FailedTry>& tries, int max_count, size_t max_chars) {
  std::string out;
  size_t first = tries.size() > static_cast<size_t>(max_count) ? tries.size() - max_count : 0;
  for (size_t i = first; i < tries.size(); ++i) {
    out += std::to_string(i - first + 1) + ". [" + tries[i].status + "] " +
           cap(tries[i].message, max_chars) + "\n";
  }
  if (out.empty()) return "(none)";
  out.pop_back();
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string hardware(const HardwareFacts& h) {
  std::string out = "GPU: " + or_none(h.gpu_name, "(unknown)");
  if (!h.arch.empty()) out += " (" + h.arch + ")";
  if (h.sm_count > 0) out += ", " + std::to_string(h.sm_count) + " SMs";
  if (h.bandwidth_gbps > 0) out += ", measured DRAM bandwidth " + number(h.bandwidth_gbps) + " GB/s";
  if (h.l2_bytes > 0) out += ", L2 cache " + bytes(static_cast<double>(h.l2_bytes));
  if (h.max_smem_per_block_bytes > 0) {
    out += ", up to " + bytes(static_cast<double>(h.max_smem_per_block_bytes)) +
           " shared memory per block";
  }
  return out + ".";
}

bool is_holdout(const std::string& name) { return lower(name).find("holdout") != std::string::npos; }

void drop_holdout(EvalResult& r) {
  for (auto it = r.metrics.begin(); it != r.metrics.end();) {
    it = is_holdout(it->first) ? r.metrics.erase(it) : std::next(it);
  }
  std::erase_if(r.workloads, [](const WorkloadResult& w) { return is_holdout(w.name); });
}

std::map<std::string, std::string> program_values(const PromptContext& c, const PromptOptions& o) {
  const ProgramInfo& p = c.parent;
  std::string source = p.source;
  if (!source.empty() && source.back() == '\n') source.pop_back();  // the fence follows
  bool blocked = p.source.find("EVOLVE-BLOCK-START") != std::string::npos;
  return {
      {"parent_source", source},
      {"parent_params",
       p.params.empty() ? "The kevo:param lines hold the values this program runs with."
                        : "Params (overriding the kevo:param defaults): " + params_text(p.params)},
      {"parent_metrics", c.parent_evaluated ? metrics_text(p.result)
                                            : "(not evaluated: no results for this file yet)"},
      {"parent_kernels",
       c.parent_evaluated ? kernels_text(p, c.hardware.sm_count) : "(not evaluated)"},
      {"parent_feedback", or_none(cap(p.result.feedback, o.max_feedback_chars))},
      {"parent_status", eval_status_name(p.result.status)},
      {"parent_message", or_none(cap(p.result.message, o.max_feedback_chars), "(no message)")},
      {"parent_compile_log", or_none(cap(p.result.compile_log, o.max_feedback_chars), "(empty)")},
      {"inspirations", inspirations_text(c.inspirations, o.max_inspirations)},
      {"failed_tries", failed_tries_text(c.failed_tries, o.max_failed_tries, o.max_feedback_chars)},
      {"evolve_block_note",
       blocked ? "Only the lines between `// EVOLVE-BLOCK-START` and `// EVOLVE-BLOCK-END` may "
                 "change (the kevo: directives, params, buffer sizes, grids and kernels are "
                 "inside, so the plan may change with the code); the marker lines and everything "
                 "outside them must stay exactly as they are, or the edit is refused."
               : ""},
      {"direction",
       c.direction.empty() ? "(none: pick the most promising idea yourself)" : c.direction},
  };
}

}  // namespace kevo::prompt_sections
