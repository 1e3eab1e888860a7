// `kevo config-check FILE`: checks a run config as `kevo run` would before it starts (everything
// that needs no GPU, every problem at once with file:line) and prints the resolved config:
// the file's values with every default filled in.
#include <iostream>

#include <nlohmann/json.hpp>

#include "orchestrator/cli/commands.h"
#include "orchestrator/config/config_check.h"

namespace kevo::cli {

void add_config_check_command(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand(
      "config-check",
      "Check a run configuration as 'kevo run' would before starting (types, ranges, unknown or "
      "duplicate keys, seed files, suites, LLM URLs and API key variables, budgets), report "
      "every problem with file:line, and print the resolved config with every default filled "
      "in. Exit 0 when it is fine, 1 when not, 2 when the file is missing.");
  struct Options {
    std::string path;
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  cmd->add_option("config", opt->path, "YAML run configuration")->required();
  cmd->add_flag("--json", opt->json, "machine-readable output: ok, errors, notes, config");
  cmd->callback([&cli, opt] {
    auto checked = check_config_file(opt->path);
    if (!checked.ok()) {
      const bool missing = checked.status().code() == StatusCode::kNotFound ||
                           checked.status().code() == StatusCode::kInvalidArgument;
      cli.exit_code = fail(missing ? kExitUsage : kExitFailure, checked.status().message());
      return;
    }
    const CheckedConfig& c = *checked;
    if (opt->json) {
      nlohmann::ordered_json j = {
          {"ok", c.ok()}, {"file", c.file}, {"errors", c.errors}, {"notes", c.notes}};
      if (c.ok()) j["config"] = resolved_config_json(c.config);
      std::cout << j.dump(2) << "\n";
    }
    if (!c.ok()) {
      cli.exit_code = fail(kExitFailure, problems_text(c));
      return;
    }
    if (opt->json) return;
    std::cout << c.file << ": ok\n";
    for (const auto& n : c.notes) std::cout << "note: " << n << "\n";
    std::cout << "\n# resolved config: the file's values with every default filled in\n"
              << resolved_config_text(c.config);
  });
}

}  // namespace kevo::cli
