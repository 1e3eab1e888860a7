#include "orchestrator/evolution/prompt_context.h"

#include "evaluator/task.h"

namespace kevo {

ProgramInfo shown_program(const Program& p) {
  auto info = program_from_result_json(p.source, p.params, p.result);
  ProgramInfo out;
  if (info.ok()) out = std::move(*info);
  out.source = p.source;
  out.params = p.params;
  auto written = source_with_params(p.source, p.params);
  if (written.ok()) {
    out.source = std::move(*written);
    out.params.clear();
  }
  return out;
}

TaskFacts task_facts(const EvaluatorConfig& c) {
  TaskFacts t;
  t.max_mean_rel_err = c.max_mean_rel_err;
  t.index_cap_bytes_per_token = c.index_cap_bytes_per_token;
  t.suite = c.suite;
  return t;
}

HardwareFacts hardware_facts(const GpuInfo& g) {
  return {g.name, g.arch(), g.sm_count, g.copy_gbps, g.l2_bytes, g.max_smem_per_block_optin};
}

std::vector<FailedTry> failed_tries(const std::vector<ProgramSummary>& children,
                                    const std::vector<std::string>& messages) {
  std::vector<FailedTry> out;
  for (size_t i = 0; i < children.size(); ++i) {
    const ProgramSummary& k = children[i];
    if (k.status == "ok" || k.status == kPending) continue;
    out.push_back({k.status, i < messages.size() ? messages[i] : ""});
  }
  return out;
}

}  // namespace kevo
