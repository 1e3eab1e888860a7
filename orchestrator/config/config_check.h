// Checking a run config before anything runs: everything that needs no GPU (types, ranges,
// unknown and duplicate keys, seed files and their directives, suites, URLs, API key variables,
// budgets), every problem at once, each with file:line. `kevo config-check` prints the result and
// the resolved config; `kevo run` checks before it looks for a GPU.
//
// Adding a check: write `void check_<section>(const KevoConfig&, ConfigCheck&)` in
// config_check.cc (or a file of your own) and list it in config_checks(); report with
// check.error("section.key", "must be >= 1") using the key path as written in the file
// ("llm.models[0].base_url"), and the line is found for you.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/config/config.h"

namespace kevo {

// Where checks report. Keys are dotted paths ("run.seeds[1]"); the location comes from the
// parsed file (the section's line when the key is not in the file, i.e. a default).
class ConfigCheck {
 public:
  ConfigCheck(YAML::Node root, std::string file) : root_(std::move(root)), file_(std::move(file)) {}
  void error(const std::string& key, const std::string& what);
  void note(const std::string& key, const std::string& what);  // worth knowing, not fatal
  const std::string& file() const { return file_; }

  std::vector<std::string> errors;  // "file:line: key 'run.seeds[1]': what"
  std::vector<std::string> notes;

 private:
  YAML::Node root_;
  std::string file_;
};

using SectionCheck = std::function<void(const KevoConfig&, ConfigCheck&)>;
// The checks run in order, one or more per section (run, evaluator, sandbox, archive, llm).
const std::vector<SectionCheck>& config_checks();

struct CheckedConfig {
  KevoConfig config;
  std::string file;
  std::string effective;  // the config as YAML text after `edit` (what a run stores)
  std::vector<std::string> errors;
  std::vector<std::string> notes;
  bool ok() const { return errors.empty(); }
};

// Reads `path` (an error for a missing file or a folder), parses it, applies `edit` to the tree
// (kevo run's flags; positions of the file's own keys are kept), binds it and, when
// `section_checks`, runs config_checks(). A YAML syntax error stops there (one error); everything
// else is collected. NotFound / InvalidArgument only when the file cannot be read at all.
Result<CheckedConfig> check_config_file(const std::string& path,
                                        const std::function<void(YAML::Node&)>& edit = {},
                                        bool section_checks = true);
// The same for text already read (a run's stored config); `file` names it in messages.
CheckedConfig check_config_text(const std::string& text, const std::string& file,
                                const std::function<void(YAML::Node&)>& edit = {},
                                bool section_checks = true);

// "file: 3 problems:\n  file:2: ...\n  ..." (or the single problem), for an error line.
std::string problems_text(const CheckedConfig& c);

// The resolved config (defaults and file) as JSON in the file's section order, and as YAML text.
nlohmann::ordered_json resolved_config_json(const KevoConfig& c);
std::string resolved_config_text(const KevoConfig& c);

}  // namespace kevo
