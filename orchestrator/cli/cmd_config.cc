// `kevo config-check FILE`: validates a run config without running anything.
#include <iostream>

#include <nlohmann/json.hpp>

#include "orchestrator/cli/commands.h"
#include "orchestrator/config.h"

namespace kevo::cli {

void add_config_check_command(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand("config-check", "Check a run configuration file and print the "
                                                 "values kevo will use");
  struct Options {
    std::string path;
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  cmd->add_option("config", opt->path, "YAML run configuration")->required();
  cmd->add_flag("--json", opt->json, "machine-readable output");
  cmd->callback([&cli, opt] {
    const std::string& path = opt->path;
    auto cfg = load_config(path);
    if (!cfg.ok()) {
      cli.exit_code = fail(kExitFailure, cfg.status().message());
      return;
    }
    const KevoConfig& c = *cfg;
    if (opt->json) {
      nlohmann::json j = {{"ok", true},
                          {"run", {{"name", c.run.name}, {"seed", c.run.seed},
                                   {"max_evaluations", c.run.max_evaluations},
                                   {"seeds", c.run.seeds}}},
                          {"llm_models", c.llm.models.size()},
                          {"suite", c.evaluator.suite},
                          {"islands", c.archive.islands}};
      std::cout << j.dump(2) << "\n";
      return;
    }
    std::cout << path << ": ok\n"
              << "  run      " << c.run.name << " (seed " << c.run.seed << ", up to "
              << c.run.max_evaluations << " evaluations)\n"
              << "  seeds    ";
    for (const auto& s : c.run.seeds) std::cout << s << " ";
    std::cout << "\n  llm      "
              << (c.llm.models.empty() ? std::string("none (built-in tuner only)")
                                       : std::to_string(c.llm.models.size()) + " model(s)")
              << "\n  suite    " << c.evaluator.suite << "\n  islands  " << c.archive.islands
              << "\n";
  });
}

}  // namespace kevo::cli
