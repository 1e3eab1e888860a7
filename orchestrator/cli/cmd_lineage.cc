// `kevo lineage ID`: the path from the seed down to a program, with fitness at each step and
// what changed at each step (params with their resolved values, source lines added and removed).
#include <iostream>

#include "archive/diff.h"

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

struct StepChange {
  std::vector<std::string> params;  // "CTAS 1536 -> 1024"
  int added = 0, removed = 0;       // source lines
};

// What changed from `parent` to `child`; nullopt when a program cannot be read.
std::optional<StepChange> change_of(ArchiveReader& reader, ProgramId parent, ProgramId child) {
  auto a = reader.program(parent);
  auto b = reader.program(child);
  if (!a.ok() || !b.ok()) return std::nullopt;
  StepChange c;
  c.params = param_changes(resolved_params(*a), resolved_params(*b));
  for (const DiffLine& d : diff_lines(a->source, b->source)) {
    c.added += d.kind == DiffLine::kInsert;
    c.removed += d.kind == DiffLine::kDelete;
  }
  return c;
}

std::string change_text(const StepChange& c) {
  std::string out;
  for (const auto& p : c.params) out += (out.empty() ? "" : ", ") + p;
  if (c.added || c.removed) {
    out += (out.empty() ? "" : "; ") + std::string("+") + std::to_string(c.added) + " -" +
           std::to_string(c.removed) + " lines";
  }
  return out.empty() ? "nothing (same source and params)" : out;
}

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
      cli.exit_code = fail(open_failure_code(reader.status()), reader.status().message());
      return;
    }
    auto chain = (*reader)->lineage(*id);
    if (!chain.ok()) {
      cli.exit_code = fail(kExitFailure, chain.status().message());
      return;
    }
    std::vector<ProgramSummary> path(chain->rbegin(), chain->rend());  // seed first
    const ArchiveConfig& cfg = (*reader)->config();
    std::vector<std::optional<StepChange>> changes(path.size());
    for (size_t i = 1; i < path.size(); ++i) {
      changes[i] = change_of(**reader, path[i - 1].id, path[i].id);
    }
    if (a->archive.json) {
      json steps = json::array();
      for (size_t i = 0; i < path.size(); ++i) {
        const auto& p = path[i];
        json change = nullptr;
        if (changes[i]) {
          change = {{"params", changes[i]->params},
                    {"added", changes[i]->added},
                    {"removed", changes[i]->removed}};
        }
        steps.push_back({{"id", p.id},
                         {"generation", p.generation},
                         {"status", p.status},
                         {"fitness", p.fitness ? json(*p.fitness) : json()},
                         {"origin", p.origin},
                         {"island", p.island},
                         {"metrics", p.metrics},
                         {"changed", change}});
      }
      std::cout << json{{"fitness_metric", cfg.fitness}, {"lineage", steps}}.dump(2) << "\n";
      return;
    }
    std::vector<std::string> headers = {"gen", "id", "status", cfg.fitness, "change", "origin",
                                        "island"};
    for (const auto& f : cfg.features) headers.push_back(f.metric);
    headers.push_back("what changed");
    Table t(headers);
    std::optional<double> prev;
    json prev_metrics;
    for (size_t i = 0; i < path.size(); ++i) {
      const auto& p = path[i];
      std::string change = "-";
      if (p.fitness && prev && *prev != 0) {
        double pct = 100.0 * (*p.fitness - *prev) / *prev;
        change = (pct >= 0 ? "+" : "") + fmt_num(pct, 3) + "%";
        if (within_noise(pct, prev_metrics, p.metrics)) change += " (noise)";
      }
      std::vector<std::string> row = {std::to_string(p.generation), std::to_string(p.id), p.status,
                                      fmt_opt(p.fitness), change, p.origin,
                                      std::to_string(p.island)};
      for (const auto& f : cfg.features) row.push_back(fmt_metric(p.metrics, f.metric));
      row.push_back(i == 0 ? "(seed)" : changes[i] ? change_text(*changes[i]) : "?");
      t.add(row);
      if (p.fitness) {
        prev = p.fitness;
        prev_metrics = p.metrics;
      }
    }
    std::cout << "lineage of #" << *id << " (" << path.size() << " step"
              << (path.size() == 1 ? "" : "s") << ", seed first; \"(noise)\": a change within "
              << "the timing noise of the two results)\n"
              << t.render();
  });
}

}  // namespace kevo::cli
