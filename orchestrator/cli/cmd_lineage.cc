// `kevo lineage ID`: the path from the seed down to a program, with fitness at each step.
#include <iostream>

#include <nlohmann/json.hpp>

#include "orchestrator/cli/archive_cli.h"
#include "orchestrator/cli/commands.h"

namespace kevo::cli {
namespace {

using nlohmann::json;

struct LineageArgs {
  ArchiveArgs archive;
  std::string id;
};

}  // namespace

void add_lineage_command(CLI::App& app, Cli& cli) {
  auto a = std::make_shared<LineageArgs>();
  auto* cmd = app.add_subcommand("lineage", "Show the path from the seed to a program, with "
                                            "fitness and its change at each step");
  cmd->add_option("id", a->id, "program id")->required();
  add_archive_args(cmd, a->archive);
  cmd->callback([&cli, a] {
    auto id = parse_program_id(a->id);
    if (!id.ok()) {
      cli.exit_code = fail(kExitUsage, id.status().message());
      return;
    }
    auto reader = open_archive_reader(a->archive);
    if (!reader.ok()) {
      cli.exit_code = fail(kExitFailure, reader.status().message());
      return;
    }
    auto chain = (*reader)->lineage(*id);
    if (!chain.ok()) {
      cli.exit_code = fail(kExitFailure, chain.status().message());
      return;
    }
    std::vector<ProgramSummary> path(chain->rbegin(), chain->rend());  // seed first
    const ArchiveConfig& cfg = (*reader)->config();
    if (a->archive.json) {
      json steps = json::array();
      for (const auto& p : path) {
        steps.push_back({{"id", p.id}, {"generation", p.generation}, {"status", p.status},
                         {"fitness", p.fitness ? json(*p.fitness) : json()},
                         {"origin", p.origin}, {"island", p.island}, {"metrics", p.metrics}});
      }
      std::cout << json{{"fitness_metric", cfg.fitness}, {"lineage", steps}}.dump(2) << "\n";
      return;
    }
    std::vector<std::string> headers = {"gen", "id", "status", cfg.fitness, "change", "origin",
                                        "island"};
    for (const auto& f : cfg.features) headers.push_back(f.metric);
    Table t(headers);
    std::optional<double> prev;
    for (const auto& p : path) {
      std::string change = "-";
      if (p.fitness && prev && *prev != 0) {
        double pct = 100.0 * (*p.fitness - *prev) / *prev;
        change = (pct >= 0 ? "+" : "") + fmt_num(pct, 3) + "%";
      }
      std::vector<std::string> row = {std::to_string(p.generation), std::to_string(p.id), p.status,
                                      fmt_opt(p.fitness), change, p.origin,
                                      std::to_string(p.island)};
      for (const auto& f : cfg.features) row.push_back(fmt_metric(p.metrics, f.metric));
      t.add(row);
      if (p.fitness) prev = p.fitness;
    }
    std::cout << "lineage of #" << *id << " (" << path.size() << " step"
              << (path.size() == 1 ? "" : "s") << ", seed first)\n"
              << t.render();
  });
}

}  // namespace kevo::cli
