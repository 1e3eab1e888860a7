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
#include "orchestrator/evolution/edits.h"

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
  // Programs as they are shown and edited: with their params written into the kevo:param lines
  // (source_with_params), so `params` is empty and the text is exactly what runs.
  ProgramInfo parent;
  bool parent_evaluated = true;  // false for a file never evaluated (`kevo prompt FILE.cu`)
  std::vector<ProgramInfo> inspirations;
  std::vector<FailedTry> failed_tries;
  EditFormat format = EditFormat::kDiff;  // ignored when the parent failed (fix.txt)
  std::string direction;  // this request's optimisation direction (directions.txt), may be ""
};

struct Prompt {
  std::string system;
  std::string user;
  std::string template_name;  // "diff", "rewrite" or "fix"
};

// What a retry says after a reply gave nothing: the failure, and how to answer.
enum class RetryCause { kEdit, kCompileError };

// The templates (system, task, diff, rewrite, fix, retry) and the directions, checked.
// Thread-safe to share once loaded.
class PromptTemplates {
 public:
  // Reads the templates (NAME.txt) and directions.txt from `dir`.
  static Result<PromptTemplates> load(const std::string& dir);
  // data_path("prompts").
  static Result<PromptTemplates> load_default();
  // From text (tests, or templates stored in a run's database); same checks as load(). An entry
  // "directions" holds directions.txt's text (optional here).
  static Result<PromptTemplates> from_text(const std::map<std::string, std::string>& by_name);

  // fix.txt when the parent's status is not ok, else diff.txt or rewrite.txt by context.format.
  // The system message is the same for every request of a run (task, GPU, device API): a prefix
  // providers cache.
  Result<Prompt> build(const PromptContext& context, const PromptOptions& options = {}) const;
  // The user message of a retry (retry.txt): `failure` (cut to options.max_feedback_chars) and
  // what to send instead, for the format the first reply was asked for.
  Result<std::string> build_retry(const std::string& failure, RetryCause cause, EditFormat format,
                                  const PromptOptions& options = {}) const;

  const std::map<std::string, std::string>& texts() const { return texts_; }
  // The optimisation directions requests rotate through ("- " lines of directions.txt).
  const std::vector<std::string>& directions() const { return directions_; }

 private:
  std::map<std::string, std::string> texts_;  // name ("diff") -> template
  std::vector<std::string> directions_;
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
