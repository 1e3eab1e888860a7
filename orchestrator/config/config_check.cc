// The checks of a run config (config_check.h): the loading and reporting frame, and one check per
// section. Binders (the component's bind functions) check types and simple ranges as they read;
// what needs the filesystem, the environment or several keys together is checked here.
#include "orchestrator/config/config_check.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <regex>

#include "common/paths.h"
#include "evaluator/evaluator.h"
#include "evaluator/workloads.h"

namespace kevo {
namespace fs = std::filesystem;

void ConfigCheck::error(const std::string& key, const std::string& what) {
  errors.push_back(yaml_location(root_, file_, key) + ": " + what);
}

void ConfigCheck::note(const std::string& key, const std::string& what) {
  notes.push_back(yaml_location(root_, file_, key) + ": " + what);
}

namespace {

std::string indexed(const std::string& key, size_t i) {
  return key + "[" + std::to_string(i) + "]";
}

// ---- run: ----

// The seeds shipped with kevo (seeds/*.cu), for messages.
std::string known_seeds() {
  auto dir = data_path("seeds");
  if (!dir.ok()) return "";
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(*dir, ec)) {
    if (e.path().extension() == ".cu") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

void check_seed(const std::string& name, const std::string& key, ConfigCheck& check) {
  // As Evolution::add_seeds resolves them: a name is seeds/<name>.cu, anything with '/' a path.
  std::string file = name;
  if (name.find('/') == std::string::npos) {
    auto path = data_path("seeds/" + name + (name.ends_with(".cu") ? "" : ".cu"));
    std::error_code ec;
    if (!path.ok() || !fs::is_regular_file(*path, ec)) {
      std::string known = known_seeds();
      check.error(key, "no seed '" + name + "' (a name under seeds/ or a .cu path" +
                           (known.empty() ? "" : "; shipped seeds: " + known) + ")");
      return;
    }
    file = *path;
  }
  std::string source;
  Status read = read_text_file(file, source);
  if (!read.ok()) {
    check.error(key, "seed '" + name + "': " + read.message());
    return;
  }
  // Directives and includes, as the compile workers would check them (NVRTC itself runs in the
  // run: seconds per seed).
  Status src = check_candidate({name, source, {}}, CompileOptions{});
  if (!src.ok()) check.error(key, "seed '" + name + "' (" + file + "): " + src.message());
}

void check_run(const KevoConfig& c, ConfigCheck& check) {
  const RunConfig& r = c.run;
  if (r.seeds.empty()) {
    check.error("run.seeds",
                "is empty: list at least one seed (a name under seeds/, e.g. "
                "hash_topk, or a .cu path)");
  }
  for (size_t i = 0; i < r.seeds.size(); ++i)
    check_seed(r.seeds[i], indexed("run.seeds", i), check);
  if (r.max_cost_usd < 0) check.error("run.max_cost_usd", "must be >= 0 (0 = no cost limit)");
  if (r.max_wall_minutes < 0) {
    check.error("run.max_wall_minutes", "must be >= 0 (0 = no time limit)");
  }
  std::error_code ec;
  if (fs::exists(r.runs_dir, ec) && !fs::is_directory(r.runs_dir, ec)) {
    check.error("run.runs_dir", "'" + r.runs_dir + "' exists and is not a folder");
  }
  if (fs::exists(fs::path(r.runs_dir) / r.name / "kevo.db", ec)) {
    check.note("run.name", "run '" + r.name + "' already exists under " + r.runs_dir +
                               "/: 'kevo run' will refuse it; continue it with 'kevo resume " +
                               r.name + "' or pick another name (--name)");
  }
}

// ---- evaluator: ----

std::string known_suites() {
  auto dir = data_path("configs/suites");
  if (!dir.ok()) return "none found";
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(*dir, ec)) {
    if (e.path().extension() == ".yaml") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none found" : out;
}

void check_evaluator(const KevoConfig& c, ConfigCheck& check) {
  const EvaluatorConfig& e = c.evaluator;
  const std::pair<const char*, const std::string*> suites[] = {
      {"evaluator.quick_suite", &e.quick_suite},
      {"evaluator.suite", &e.suite},
      {"evaluator.holdout_suite", &e.holdout_suite}};
  for (const auto& [key, name] : suites) {
    if (name->empty()) {
      if (std::string(key) == "evaluator.suite") check.error(key, "must name a suite");
      continue;
    }
    auto s = load_suite(*name);
    if (s.ok()) continue;
    const bool path =
        name->find('/') != std::string::npos || name->ends_with(".yaml") || name->ends_with(".yml");
    if (s.status().code() == StatusCode::kNotFound && !path) {
      check.error(key, "unknown suite '" + *name + "' (a name under configs/suites/: " +
                           known_suites() + "; or a .yaml path)");
    } else {
      check.error(key, s.status().message());
    }
  }
  static const std::regex kArch(R"(auto|sm_\d{2,3}[af]?)");
  if (!std::regex_match(e.arch, kArch)) {
    check.error("evaluator.arch", "'" + e.arch + "' is not a GPU target (auto, or e.g. sm_90a)");
  }
  if (e.index_cap_bytes_per_token < 1)
    check.error("evaluator.index_cap_bytes_per_token", "must be >= 1");
  if (e.warmup_iterations < 0) check.error("evaluator.warmup_iterations", "must be >= 0");
  if (e.target_spread <= 0) check.error("evaluator.target_spread", "must be > 0");
  if (e.max_seconds_per_workload <= 0)
    check.error("evaluator.max_seconds_per_workload", "must be > 0");
}

// ---- sandbox: ----

void check_sandbox(const KevoConfig& c, ConfigCheck& check) {
  const SandboxConfig& s = c.sandbox;
  if (s.kernel_timeout_s <= 0) check.error("sandbox.kernel_timeout_s", "must be > 0");
  if (s.evaluation_timeout_s <= 0) check.error("sandbox.evaluation_timeout_s", "must be > 0");
}

// ---- archive: ----

void check_archive(const KevoConfig& c, ConfigCheck& check) {
  const ArchiveConfig& a = c.archive;
  if (a.features.empty()) check.error("archive.features", "needs at least one feature axis");
  if (a.fitness.empty()) check.error("archive.fitness", "must name a metric of the result");
  if (a.migration_interval < 0) {
    check.error("archive.migration_interval", "must be >= 0 (0 = no migration)");
  }
  if (a.migration_count < 0) check.error("archive.migration_count", "must be >= 0");
  if (a.inspirations < 0) check.error("archive.inspirations", "must be >= 0");
}

// ---- llm: ----

// scheme://host[:port][/path], http or https, no spaces.
bool url_ok(const std::string& url) {
  static const std::regex kUrl(R"(https?://[A-Za-z0-9._~\-]+|https?://\[[0-9A-Fa-f:.]+\])");
  static const std::regex kRest(R"((:[0-9]{1,5})?(/[^\s]*)?)");
  std::smatch m;
  for (size_t end = url.size(); end > 0; --end) {
    if (std::regex_match(url.begin(), url.begin() + static_cast<long>(end), kUrl)) {
      return std::regex_match(url.begin() + static_cast<long>(end), url.end(), kRest);
    }
  }
  return false;
}

void check_llm(const KevoConfig& c, ConfigCheck& check) {
  const LlmConfig& l = c.llm;
  for (size_t i = 0; i < l.models.size(); ++i) {
    const LlmModelConfig& m = l.models[i];
    const std::string key = indexed("llm.models", i);
    if (!url_ok(m.base_url)) {
      check.error(key + ".base_url", "'" + m.base_url +
                                         "' is not a URL (e.g. "
                                         "https://api.openai.com/v1 or http://127.0.0.1:8000/v1)");
    }
    if (m.provider != "command" && !m.api_key_env.empty()) {  // a command brings its own keys
      const char* v = std::getenv(m.api_key_env.c_str());
      if (!v || !*v) {
        check.error(key + ".api_key_env", "the environment variable " + m.api_key_env +
                                              " (the API key of " + m.model +
                                              ") is not set; set "
                                              "it, or write api_key_env: \"\" for a server that "
                                              "needs no key");
      }
    }
    if (m.temperature < 0 || m.temperature > 2) {
      check.error(key + ".temperature", "must be between 0 and 2");
    }
    if (m.max_tokens < 1) check.error(key + ".max_tokens", "must be >= 1");
    if (m.usd_per_mtok_in < 0) check.error(key + ".usd_per_mtok_in", "must be >= 0");
    if (m.usd_per_mtok_out < 0) check.error(key + ".usd_per_mtok_out", "must be >= 0");
    // A budget kevo cannot measure is no budget: a priced provider must say its prices (0 for a
    // local server). A command's tokens are unknown: max_requests bounds it instead.
    if (c.run.max_cost_usd > 0 && m.provider != "command" && !m.prices_known) {
      char budget[32];
      std::snprintf(budget, sizeof budget, "%g", c.run.max_cost_usd);
      check.error(key, "model '" + m.model + "' has no prices (usd_per_mtok_in, usd_per_mtok_out) "
                       "while run.max_cost_usd is " + budget + ": write its prices per million "
                       "tokens (0 for a local server), or set run.max_cost_usd: 0 for no cost "
                       "budget");
    }
    static const char* kEfforts[] = {"", "minimal", "low", "medium", "high"};
    if (std::find(std::begin(kEfforts), std::end(kEfforts), m.reasoning_effort) ==
        std::end(kEfforts)) {
      check.error(key + ".reasoning_effort", "must be minimal, low, medium or high");
    }
  }
  if (l.max_retries < 0) check.error("llm.max_retries", "must be >= 0");
  if (l.backoff_initial_s < 0) check.error("llm.backoff_initial_s", "must be >= 0");
  if (l.backoff_max_s < l.backoff_initial_s) {
    check.error("llm.backoff_max_s", "must be >= backoff_initial_s");
  }
  std::error_code ec;
  if (!l.replay_from.empty() && !fs::is_regular_file(l.replay_from, ec)) {
    check.error("llm.replay_from", "no file '" + l.replay_from + "' (a kevo.db to replay)");
  }
  if (l.models.empty() && l.replay_from.empty()) {
    check.note("llm",
               "no LLM model: the built-in tuner makes every child (it only changes "
               "kevo:param values)");
  }
}

YAML::Node parse_or_error(const std::string& text, const std::string& file, CheckedConfig& out) {
  YAML::Node root;
  Status st = parse_yaml(text, file, root);
  if (!st.ok()) {
    out.errors.push_back(st.message());
    return YAML::Node();
  }
  if (root.IsNull() || !root.IsDefined()) root = YAML::Node(YAML::NodeType::Map);
  return root;
}

// Numbers as the shortest text that reads back the same; strings quoted when YAML needs it.
std::string scalar_text(const nlohmann::ordered_json& v) {
  if (v.is_string()) {
    static const std::regex kPlain(R"([A-Za-z_./][A-Za-z0-9_./:\-]*)");
    const std::string s = v.get<std::string>();
    bool plain = std::regex_match(s, kPlain) && s != "true" && s != "false" && s != "null";
    return plain ? s : v.dump();
  }
  return v.dump();
}

void yaml_lines(const nlohmann::ordered_json& j, int indent, std::string& out) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  for (const auto& [k, v] : j.items()) {
    if (v.is_object()) {
      out += pad + k + ":\n";
      yaml_lines(v, indent + 2, out);
    } else if (v.is_array() && !v.empty() && v[0].is_object()) {
      out += pad + k + ":\n";
      for (const auto& item : v) {
        std::string block;
        yaml_lines(item, indent + 4, block);
        block.replace(static_cast<size_t>(indent) + 2, 2, "- ");
        out += block;
      }
    } else if (v.is_array()) {
      std::string items;
      for (const auto& x : v) items += (items.empty() ? "" : ", ") + scalar_text(x);
      out += pad + k + ": [" + items + "]\n";
    } else {
      out += pad + k + ": " + scalar_text(v) + "\n";
    }
  }
}

}  // namespace

const std::vector<SectionCheck>& config_checks() {
  static const std::vector<SectionCheck> checks = {check_run, check_evaluator, check_sandbox,
                                                   check_archive, check_llm};
  return checks;
}

CheckedConfig check_config_text(const std::string& text, const std::string& file,
                                const std::function<void(YAML::Node&)>& edit, bool section_checks) {
  CheckedConfig out;
  out.file = file;
  YAML::Node root = parse_or_error(text, file, out);
  if (!out.errors.empty()) return out;
  if (!root.IsMap()) {
    out.errors.push_back(file + ": the top level must be a mapping (key: value lines)");
    return out;
  }
  if (edit) edit(root);
  YAML::Emitter emitted;
  emitted << root;
  out.effective = std::string(emitted.c_str()) + "\n";
  YamlSection s(root, file);
  bind(s, out.config);
  (void)s.finish();
  out.errors = s.messages();
  if (section_checks) {
    ConfigCheck check(root, file);
    for (const auto& f : config_checks()) f(out.config, check);
    out.errors.insert(out.errors.end(), check.errors.begin(), check.errors.end());
    out.notes = std::move(check.notes);
  }
  return out;
}

Result<CheckedConfig> check_config_file(const std::string& path,
                                        const std::function<void(YAML::Node&)>& edit,
                                        bool section_checks) {
  std::string text;
  KEVO_RETURN_IF_ERROR(read_text_file(path, text));
  return check_config_text(text, path, edit, section_checks);
}

std::string problems_text(const CheckedConfig& c) {
  if (c.errors.size() == 1) return c.errors.front();
  std::string out = c.file + ": " + std::to_string(c.errors.size()) + " problems:";
  for (const auto& e : c.errors) out += "\n  " + e;
  return out;
}

nlohmann::ordered_json resolved_config_json(const KevoConfig& c) {
  return dump_config(c);
}

std::string resolved_config_text(const KevoConfig& c) {
  std::string out;
  yaml_lines(resolved_config_json(c), 0, out);
  return out;
}

}  // namespace kevo
