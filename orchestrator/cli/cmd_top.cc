// `kevo top`: the best programs of a run, overall, of one island, or one per grid cell.
#include <iostream>

#include <nlohmann/json.hpp>

#include "orchestrator/cli/archive_cli.h"
#include "orchestrator/cli/commands.h"

namespace kevo::cli {
namespace {

using nlohmann::json;

struct TopArgs {
  ArchiveArgs archive;
  int limit = 10;
  std::optional<int> island;
  bool per_cell = false;
};

json summary_json(const ProgramSummary& p) {
  return {{"id", p.id},           {"status", p.status},         {"fitness", p.fitness ? json(*p.fitness) : json()},
          {"island", p.island},   {"generation", p.generation}, {"origin", p.origin},
          {"parent", p.parent ? json(*p.parent) : json()},      {"cell", cell_bins(p.cell)},
          {"metrics", p.metrics}, {"created_at", p.created_at}};
}

}  // namespace

void add_top_command(CLI::App& app, Cli& cli) {
  auto a = std::make_shared<TopArgs>();
  auto* cmd = app.add_subcommand("top", "List the best programs of a run (by fitness), overall, "
                                        "of one island, or the elite of each grid cell");
  add_archive_args(cmd, a->archive);
  cmd->add_option("-n,--limit", a->limit, "how many to list")->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--island", a->island, "only this island (born there; with --per-cell: its grid)");
  cmd->add_flag("--per-cell", a->per_cell, "one program per grid cell: each cell's elite");
  cmd->callback([&cli, a] {
    auto reader = open_archive_reader(a->archive);
    if (!reader.ok()) {
      cli.exit_code = fail(kExitFailure, reader.status().message());
      return;
    }
    const ArchiveConfig& cfg = (*reader)->config();
    if (a->island && (*a->island < 0 || *a->island >= cfg.islands)) {
      cli.exit_code = fail(kExitFailure, "--island " + std::to_string(*a->island) +
                                             ": the run has islands 0.." +
                                             std::to_string(cfg.islands - 1));
      return;
    }
    auto rows = (*reader)->top({a->limit, a->island, a->per_cell});
    if (!rows.ok()) {
      cli.exit_code = fail(kExitFailure, rows.status().message());
      return;
    }
    if (a->archive.json) {
      json out = json::array();
      for (const auto& p : *rows) out.push_back(summary_json(p));
      std::cout << json{{"fitness_metric", cfg.fitness}, {"programs", out}}.dump(2) << "\n";
      return;
    }
    if (rows->empty()) {
      std::cout << "no program evaluated ok yet\n";
      return;
    }
    std::vector<std::string> headers = {"#", "id", cfg.fitness, "island", "gen", "origin", "parent"};
    for (const auto& f : cfg.features) headers.push_back(f.metric);
    headers.push_back("cell");
    Table t(headers);
    int rank = 0;
    for (const auto& p : *rows) {
      std::vector<std::string> row = {std::to_string(++rank), std::to_string(p.id),
                                      fmt_opt(p.fitness), std::to_string(p.island),
                                      std::to_string(p.generation), p.origin,
                                      p.parent ? std::to_string(*p.parent) : "-"};
      for (const auto& f : cfg.features) row.push_back(fmt_metric(p.metrics, f.metric));
      std::string cell;
      std::vector<int> bins = cell_bins(p.cell);
      for (size_t i = 0; i < bins.size() && i < cfg.features.size(); ++i) {
        cell += (i ? " " : "") + bin_label(cfg.features[i], bins[i]);
      }
      row.push_back(cell.empty() ? "-" : cell);
      t.add(row);
    }
    std::cout << t.render("");
  });
}

}  // namespace kevo::cli
