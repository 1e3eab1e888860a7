// Template loading, checking and rendering (see prompt.h); the sections' text is in
// prompt_sections.cc.
#include "orchestrator/evolution/prompt.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "common/paths.h"
#include "evaluator/device_api.h"
#include "orchestrator/evolution/prompt_sections.h"

namespace kevo {
namespace {

struct TemplateSpec {
  const char* name;
  std::set<std::string> allowed;
  std::set<std::string> required;
};

const std::set<std::string> kProgramPlaceholders = {
    "parent_source",   "parent_params",      "parent_metrics",  "parent_kernels",
    "parent_feedback", "parent_status",      "parent_message",  "parent_compile_log",
    "inspirations",    "failed_tries",       "evolve_block_note", "direction"};

const std::vector<TemplateSpec>& specs() {
  static const std::vector<TemplateSpec> s = {
      {"task", {"max_mean_rel_err", "index_cap_bytes_per_token", "suite"}, {}},
      {"system", {"task", "hardware", "device_api"}, {"task"}},
      {"diff", kProgramPlaceholders, {"parent_source"}},
      {"rewrite", kProgramPlaceholders, {"parent_source"}},
      {"fix", kProgramPlaceholders, {"parent_source", "parent_message"}},
      {"retry", {"failure", "format"}, {"failure"}},
  };
  return s;
}

struct Placeholder {
  std::string name;
  size_t begin, end;  // of "{{...}}"
  int line;
};

Result<std::vector<Placeholder>> scan(const std::string& template_name, const std::string& text) {
  std::vector<Placeholder> out;
  size_t pos = 0;
  while ((pos = text.find("{{", pos)) != std::string::npos) {
    int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + pos, '\n'));
    size_t close = text.find("}}", pos + 2);
    size_t nl = text.find('\n', pos);
    std::string where = "prompts/" + template_name + ".txt line " + std::to_string(line);
    if (close == std::string::npos || (nl != std::string::npos && nl < close)) {
      return Status::InvalidArgument(where + ": '{{' without '}}' on the same line");
    }
    std::string name = text.substr(pos + 2, close - pos - 2);
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    bool valid = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
    if (!valid) {
      return Status::InvalidArgument(where + ": '{{" + text.substr(pos + 2, close - pos - 2) +
                                     "}}' is not a placeholder name (lower-case, digits, _)");
    }
    out.push_back({name, pos, close + 2, line});
    pos = close + 2;
  }
  return out;
}

std::string join(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

Status check_template(const TemplateSpec& spec, const std::string& text) {
  KEVO_ASSIGN_OR_RETURN(auto found, scan(spec.name, text));
  std::set<std::string> seen;
  for (const auto& p : found) {
    if (!spec.allowed.count(p.name)) {
      return Status::InvalidArgument("prompts/" + std::string(spec.name) + ".txt line " +
                                     std::to_string(p.line) + ": unknown placeholder {{" + p.name +
                                     "}} (known here: " + join(spec.allowed) + ")");
    }
    seen.insert(p.name);
  }
  for (const auto& r : spec.required) {
    if (!seen.count(r)) {
      return Status::InvalidArgument("prompts/" + std::string(spec.name) + ".txt has no {{" + r +
                                     "}}, which it needs");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> render_template(const std::string& template_name, const std::string& text,
                                    const std::map<std::string, std::string>& values) {
  KEVO_ASSIGN_OR_RETURN(auto found, scan(template_name, text));
  std::string out;
  size_t at = 0;
  for (const auto& p : found) {
    auto it = values.find(p.name);
    if (it == values.end()) {
      return Status::InvalidArgument("prompts/" + template_name + ".txt line " +
                                     std::to_string(p.line) + ": no value for {{" + p.name + "}}");
    }
    out.append(text, at, p.begin - at);
    out += it->second;
    at = p.end;
  }
  out.append(text, at, std::string::npos);
  return out;
}

// The "- " lines of directions.txt ('#' lines are comments).
std::vector<std::string> parse_directions(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("- ", 0) == 0 && line.size() > 2) out.push_back(line.substr(2));
  }
  return out;
}

Result<PromptTemplates> PromptTemplates::from_text(const std::map<std::string, std::string>& by_name) {
  PromptTemplates t;
  if (auto d = by_name.find("directions"); d != by_name.end()) t.directions_ = parse_directions(d->second);
  for (const auto& spec : specs()) {
    auto it = by_name.find(spec.name);
    if (it == by_name.end()) {
      return Status::NotFound("prompt template '" + std::string(spec.name) + "' is missing");
    }
    KEVO_RETURN_IF_ERROR(check_template(spec, it->second));
    t.texts_[spec.name] = it->second;
  }
  return t;
}

Result<PromptTemplates> PromptTemplates::load(const std::string& dir) {
  std::map<std::string, std::string> texts;
  for (const auto& spec : specs()) {
    std::string path = dir + "/" + spec.name + ".txt";
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::NotFound("cannot read prompt template " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    texts[spec.name] = ss.str();
  }
  std::ifstream dirs(dir + "/directions.txt", std::ios::binary);
  if (!dirs) return Status::NotFound("cannot read " + dir + "/directions.txt");
  std::ostringstream ds;
  ds << dirs.rdbuf();
  texts["directions"] = ds.str();
  KEVO_ASSIGN_OR_RETURN(PromptTemplates t, from_text(texts));
  if (t.directions_.empty()) {
    return Status::InvalidArgument(dir + "/directions.txt holds no '- ' lines");
  }
  return t;
}

Result<PromptTemplates> PromptTemplates::load_default() {
  KEVO_ASSIGN_OR_RETURN(std::string dir, data_path("prompts"));
  return load(dir);
}

Result<Prompt> PromptTemplates::build(const PromptContext& c, const PromptOptions& options) const {
  std::map<std::string, std::string> task_values = {
      {"max_mean_rel_err", prompt_sections::number(c.task.max_mean_rel_err)},
      {"index_cap_bytes_per_token", std::to_string(c.task.index_cap_bytes_per_token)},
      {"suite", c.task.suite.empty() ? "the run's suite (see the per-workload results)" : c.task.suite}};
  KEVO_ASSIGN_OR_RETURN(std::string task, render_template("task", texts_.at("task"), task_values));
  while (!task.empty() && (task.back() == '\n' || task.back() == ' ')) task.pop_back();
  KEVO_ASSIGN_OR_RETURN(
      std::string system,
      render_template("system", texts_.at("system"),
                      {{"task", task},
                       {"hardware", prompt_sections::hardware(c.hardware)},
                       {"device_api", device_api_reference()}}));

  Prompt p;
  p.template_name = c.parent_evaluated && !c.parent.result.ok() ? "fix"
                    : c.format == EditFormat::kWholeFile ? "rewrite"
                                                         : "diff";
  auto values = prompt_sections::program_values(c, options);
  KEVO_ASSIGN_OR_RETURN(p.user, render_template(p.template_name, texts_.at(p.template_name), values));
  p.system = std::move(system);
  return p;
}

Result<std::string> PromptTemplates::build_retry(const std::string& failure, RetryCause cause,
                                                EditFormat format,
                                                const PromptOptions& options) const {
  std::string how;
  if (cause == RetryCause::kCompileError) {
    how = "Your edit was applied but the program it made does not compile. Fix it with an edit of "
          "that program (your edit applied; its lines around the error are shown above): ";
  } else {
    how = "The program is unchanged. Answer again, following the format exactly: ";
  }
  how += format == EditFormat::kWholeFile
             ? "give the complete file in a single ```cuda code block."
             : "give SEARCH/REPLACE blocks whose SEARCH parts copy whole lines of the program "
               "exactly (indentation included), each matching one place.";
  std::string cut = failure.size() > options.max_feedback_chars
                        ? failure.substr(0, options.max_feedback_chars) + "\n[... cut]"
                        : failure;
  return render_template("retry", texts_.at("retry"), {{"failure", cut}, {"format", how}});
}

Result<ProgramInfo> program_from_result_json(std::string source,
                                             std::map<std::string, int64_t> params,
                                             const nlohmann::json& result) {
  KEVO_ASSIGN_OR_RETURN(EvalResult r, eval_result_from_json(result));
  ProgramInfo p{std::move(source), std::move(params), std::move(r)};
  prompt_sections::drop_holdout(p.result);
  return p;
}

}  // namespace kevo
