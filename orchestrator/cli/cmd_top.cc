// `kevo top`: the best programs of a run, overall, of one island, or one per grid cell, with
// their method (seed) and timing noise; or with --status S the programs that ended with S
// (newest first) and their messages.
#include <iostream>

#include <nlohmann/json.hpp>

#include "evaluator/eval_result.h"
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
  std::string status;
};

json summary_json(const ProgramSummary& p, const std::string& method) {
  return {{"id", p.id},
          {"status", p.status},
          {"fitness", p.fitness ? json(*p.fitness) : json()},
          {"island", p.island},
          {"generation", p.generation},
          {"origin", p.origin},
          {"parent", p.parent ? json(*p.parent) : json()},
          {"cell", cell_bins(p.cell)},
          {"metrics", p.metrics},
          {"created_at", p.created_at},
          {"method", method},
          {"message", p.message}};
}

// --status: a status name, "failed" (every failure) or "pending"; else the usage error's text.
std::string check_status(const std::string& s) {
  if (s == "failed" || s == kPending || parse_eval_status(s)) return "";
  std::string known = "failed, pending";
  for (EvalStatus e : all_eval_statuses()) known += std::string(", ") + eval_status_name(e);
  return "--status " + s + ": not a status (one of: " + known + ")";
}

// The message's first line, cut to `width` characters.
std::string short_message(const std::string& m, size_t width = 110) {
  std::string line = m.substr(0, m.find('\n'));
  if (line.size() > width) line = line.substr(0, width - 3) + "...";
  return line.empty() ? "-" : line;
}

void print_failed(const std::vector<ProgramSummary>& rows,
                  const std::map<ProgramId, std::string>& methods, const std::string& status) {
  if (rows.empty()) {
    std::cout << "no program with status " << status << "\n";
    return;
  }
  Table t({"id", "method", "status", "origin", "parent", "gen", "island", "message"});
  for (const auto& p : rows) {
    auto m = methods.find(p.id);
    t.add({std::to_string(p.id), m == methods.end() ? "-" : m->second, p.status, p.origin,
           p.parent ? std::to_string(*p.parent) : "-", std::to_string(p.generation),
           std::to_string(p.island), short_message(p.message)});
  }
  std::cout << t.render("")
            << "(newest first; 'kevo show ID' prints a message and compile log "
               "in full)\n";
}

}  // namespace

void add_top_command(CLI::App& app, Cli& cli) {
  auto a = std::make_shared<TopArgs>();
  auto* cmd = app.add_subcommand("top", "List the best programs of a run (by fitness), overall, "
                                        "of one island, or the elite of each grid cell");
  add_archive_args(cmd, a->archive);
  cmd->add_option("-n,--limit", a->limit, "how many to list")
      ->capture_default_str()
      ->check(at_least(1));
  cmd->add_option("--island", a->island, "only this island (born there; with --per-cell: its grid)");
  cmd->add_flag("--per-cell", a->per_cell, "one program per grid cell: each cell's elite");
  cmd->add_option(
      "--status", a->status,
      "list the programs that ended with this status instead, newest first, with "
      "their messages: failed (every failure), compile_error, inaccurate, timeout, ...");
  cmd->callback([&cli, a] {
    if (!a->status.empty()) {
      std::string bad = check_status(a->status);
      if (bad.empty() && a->per_cell) bad = "--status and --per-cell do not go together";
      if (!bad.empty()) {
        cli.exit_code = fail(kExitUsage, bad);
        return;
      }
    }
    auto reader = open_archive_reader(a->archive);
    if (!reader.ok()) {
      cli.exit_code = fail(open_failure_code(reader.status()), reader.status().message());
      return;
    }
    const ArchiveConfig& cfg = (*reader)->config();
    if (a->island && (*a->island < 0 || *a->island >= cfg.islands)) {
      cli.exit_code = fail(kExitFailure, "--island " + std::to_string(*a->island) +
                                             ": the run has islands 0.." +
                                             std::to_string(cfg.islands - 1));
      return;
    }
    TopQuery q{a->limit, a->island, a->per_cell, std::nullopt};
    if (!a->status.empty()) q.status = a->status;
    auto rows = (*reader)->top(q);
    if (!rows.ok()) {
      cli.exit_code = fail(kExitFailure, rows.status().message());
      return;
    }
    std::vector<ProgramId> ids;
    for (const auto& p : *rows) ids.push_back(p.id);
    auto methods = (*reader)->methods_of(ids);
    if (!methods.ok()) {
      cli.exit_code = fail(kExitFailure, methods.status().message());
      return;
    }
    auto method = [&](ProgramId id) {
      auto it = methods->find(id);
      return it == methods->end() ? std::string("-") : it->second;
    };
    if (a->archive.json) {
      json out = json::array();
      for (const auto& p : *rows) out.push_back(summary_json(p, method(p.id)));
      std::cout << json{{"fitness_metric", cfg.fitness}, {"programs", out}}.dump(2) << "\n";
      return;
    }
    if (!a->status.empty()) {
      print_failed(*rows, *methods, a->status);
      return;
    }
    if (rows->empty()) {
      std::cout << "no program evaluated ok yet\n";
      return;
    }
    std::vector<std::string> headers = {"#",      "id",  "method", cfg.fitness, "noise",
                                        "island", "gen", "origin", "parent"};
    for (const auto& f : cfg.features) headers.push_back(f.metric);
    headers.push_back("cell");
    Table t(headers);
    int rank = 0;
    for (const auto& p : *rows) {
      std::vector<std::string> row = {std::to_string(++rank),
                                      std::to_string(p.id),
                                      method(p.id),
                                      fmt_opt(p.fitness),
                                      fmt_noise(p.metrics),
                                      std::to_string(p.island),
                                      std::to_string(p.generation),
                                      p.origin,
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
    if (cfg.fitness == "speedup") {
      std::cout << "(noise: the timing spread of a result; speedups closer than it are not told "
                   "apart)\n";
    }
  });
}

}  // namespace kevo::cli
