// Prompt assembly: templates from prompts/*.txt (data, versioned with the code) filled from a
// PromptContext. Placeholders are {{name}}; a template naming an unknown placeholder, or missing
// one it needs, is an error when the templates load (so a broken template fails at start-up, not
// an hour into a run). Values are inserted in one pass, so a "{{" inside a program's source stays
// as it is.
//
// Holdout results never reach a prompt: PromptContext has no place for them, and metrics or
// workloads whose name starts with "holdout" are dropped (defence in depth for results that come
// from stored JSON).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "evaluator/eval_result.h"
#include "orchestrator/edits.h"

namespace kevo {

struct HardwareFacts {
  std::string gpu_name;  // "NVIDIA H100 80GB HBM3"
  std::string arch;      // "sm_90a"
  int sm_count = 0;
  double bandwidth_gbps = 0;  // measured DRAM bandwidth, GB/s
  int64_t l2_bytes = 0;
  int64_t max_smem_per_block_bytes = 0;  // opt-in maximum; 0 = unknown
};

struct TaskFacts {
  double max_mean_rel_err = 0.2;      // EvaluatorConfig::max_mean_rel_err
  int index_cap_bytes_per_token = 128;
  std::string suite;  // the workloads in words: "llama3-8b: Hq=32, Hkv=8, D=128; (B,N) = ..."
};

// A program as a prompt shows it: source, params and the fitness suite's result.
struct ProgramInfo {
  std::string source;
  std::map<std::string, int64_t> params;
  EvalResult result;
};

// An earlier child of the same parent that failed (edit not applied, compile error, ...).
struct FailedTry {
  std::string status;   // an eval status name ("compile_error") or "edit_rejected"
  std::string message;  // what went wrong, as the evaluator or apply_edit said it
};

struct PromptOptions {
  int max_inspirations = 3;   // each is a whole file; more crowd out the parent
  int max_failed_tries = 4;   // the most recent ones
  size_t max_feedback_chars = 4000;  // feedback, compile logs, failure messages: each cut here
};

struct PromptContext {
  TaskFacts task;
  HardwareFacts hardware;
  ProgramInfo parent;
  std::vector<ProgramInfo> inspirations;
  std::vector<FailedTry> failed_tries;
  EditFormat format = EditFormat::kDiff;  // ignored when the parent failed (fix.txt)
};

struct Prompt {
  std::string system;
  std::string user;
  std::string template_name;  // "diff", "rewrite" or "fix"
};

// The five templates, checked. Thread-safe to share once loaded.
class PromptTemplates {
 public:
  // Reads system.txt, task.txt, diff.txt, rewrite.txt and fix.txt from `dir`.
  static Result<PromptTemplates> load(const std::string& dir);
  // data_path("prompts").
  static Result<PromptTemplates> load_default();
  // From text (tests, or templates stored in a run's database); same checks as load().
  static Result<PromptTemplates> from_text(const std::map<std::string, std::string>& by_name);

  // fix.txt when the parent's status is not ok, else diff.txt or rewrite.txt by context.format.
  Result<Prompt> build(const PromptContext& context, const PromptOptions& options = {}) const;

  const std::map<std::string, std::string>& texts() const { return texts_; }

 private:
  std::map<std::string, std::string> texts_;  // name ("diff") -> template
};

// Replaces every {{name}} in `text` with values[name], in one pass. InvalidArgument naming the
// template, the line and the placeholder when a name has no value or a "{{" is not closed.
Result<std::string> render_template(const std::string& template_name, const std::string& text,
                                    const std::map<std::string, std::string>& values);

// A ProgramInfo from a stored result JSON (the shape of `kevo eval --json`). Keys the evaluation
// result does not define (a "holdout" section, say) are ignored; holdout metrics and workloads
// are dropped.
Result<ProgramInfo> program_from_result_json(std::string source,
                                             std::map<std::string, int64_t> params,
                                             const nlohmann::json& result);

}  // namespace kevo
