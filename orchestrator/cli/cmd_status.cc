// `kevo status`: where a run stands: evaluations, failures by status, the best program, LLM cost
// and tokens, and a heat map of each island's MAP-Elites grid. Safe while the run is writing.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "orchestrator/cli/archive_cli.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/cli/llm_report.h"

namespace kevo::cli {
namespace {

using nlohmann::json;

// Best fitness per (row bin, column bin) of one island: rows are the first feature axis,
// columns the second; with more axes a cell shows the best over the rest.
std::string heat_map(const ArchiveConfig& cfg, const std::vector<Elite>& elites, int island,
                     std::optional<ProgramId> best) {
  const FeatureAxis& rows = cfg.features[0];
  const bool two = cfg.features.size() >= 2;
  const size_t nrow = rows.bins.size() + 1;
  const size_t ncol = two ? cfg.features[1].bins.size() + 1 : 1;
  std::vector<std::vector<std::optional<double>>> grid(nrow,
                                                       std::vector<std::optional<double>>(ncol));
  std::vector<std::vector<bool>> star(nrow, std::vector<bool>(ncol, false));
  for (const Elite& e : elites) {
    if (e.island != island) continue;
    std::vector<int> bins = cell_bins(e.cell);
    if (bins.size() != cfg.features.size()) continue;
    size_t r = std::min<size_t>(static_cast<size_t>(bins[0]), nrow - 1);
    size_t c = two ? std::min<size_t>(static_cast<size_t>(bins[1]), ncol - 1) : 0;
    auto& slot = grid[r][c];
    if (!slot || e.fitness > *slot) slot = e.fitness;
    if (best && e.program == *best) star[r][c] = true;
  }
  std::vector<std::string> headers = {rows.metric};
  for (size_t c = 0; c < ncol; ++c) {
    headers.push_back(two ? bin_label(cfg.features[1], static_cast<int>(c)) : cfg.fitness);
  }
  Table t(headers);
  for (size_t r = 0; r < nrow; ++r) {
    std::vector<std::string> row = {bin_label(rows, static_cast<int>(r))};
    for (size_t c = 0; c < ncol; ++c) {
      row.push_back(grid[r][c] ? fmt_num(*grid[r][c], 3) + (star[r][c] ? "*" : "") : ".");
    }
    t.add(row);
  }
  return t.render("    ");
}

json to_json(const StatusReport& r, const ArchiveConfig& cfg, const std::string& path,
            const LlmReport& llm) {
  json by_status = json::object();
  for (const auto& [s, n] : r.totals.by_status) by_status[s] = n;
  json islands = json::array();
  for (int i = 0; i < cfg.islands; ++i) {
    json cells = json::array();
    for (const Elite& e : r.elites) {
      if (e.island == i) cells.push_back({{"cell", cell_bins(e.cell)}, {"program", e.program},
                                          {"fitness", e.fitness}});
    }
    islands.push_back({{"island", i}, {"elites", cells.size()}, {"cells", cells}});
  }
  json features = json::array();
  for (const auto& f : cfg.features) features.push_back({{"metric", f.metric}, {"bins", f.bins}});
  json best = nullptr;
  if (r.totals.best) {
    best = {{"program", r.totals.best->program}, {"fitness", r.totals.best->fitness},
            {"island", r.totals.best->island}, {"cell", cell_bins(r.totals.best->cell)}};
  }
  return {{"db", path},
          {"run", {{"name", r.run.name}, {"status", r.run.status}, {"seed", r.run.seed},
                   {"created_at", r.run.created_at}, {"updated_at", r.run.updated_at}}},
          {"evaluations", r.totals.evaluations},
          {"pending", r.totals.pending},
          {"by_status", by_status},
          {"fitness_metric", cfg.fitness},
          {"best", best},
          {"llm", llm_report_json(llm)},
          {"features", features},
          {"islands", islands}};
}

void print_text(const StatusReport& r, const ArchiveConfig& cfg, const std::string& path,
                const LlmReport& llm) {
  const Totals& t = r.totals;
  std::cout << "run          " << r.run.name << "  (" << r.run.status << ", seed " << r.run.seed
            << ", started " << fmt_time(r.run.created_at) << ")\n"
            << "file         " << path << "\n"
            << "evaluations  " << fmt_int(t.evaluations) << " done, " << fmt_int(t.pending)
            << " in flight\n";
  if (!t.by_status.empty()) {
    std::vector<std::pair<std::string, int64_t>> sorted(t.by_status.begin(), t.by_status.end());
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    std::cout << "  by status  ";
    for (size_t i = 0; i < sorted.size(); ++i) {
      double share = t.evaluations ? 100.0 * sorted[i].second / t.evaluations : 0;
      char pct[32];
      std::snprintf(pct, sizeof(pct), "%.1f%%", share);
      std::cout << (i ? ", " : "") << sorted[i].first << " " << fmt_int(sorted[i].second) << " ("
                << pct << ")";
    }
    std::cout << "\n";
  }
  if (t.best) {
    // Migration copies elites, so the best may hold a cell on several islands.
    std::string islands;
    for (const Elite& e : r.elites) {
      if (e.program == t.best->program) islands += (islands.empty() ? "" : " ") + std::to_string(e.island);
    }
    std::cout << "best         " << cfg.fitness << " " << fmt_num(t.best->fitness) << ": program #"
              << t.best->program << " (" << cell_label(cfg, t.best->cell) << "; elite on island"
              << (islands.find(' ') == std::string::npos ? " " : "s ") << islands << ")\n";
  } else {
    std::cout << "best         none yet (no program evaluated ok)\n";
  }
  std::cout << llm_report_text(llm);
  std::vector<int> per_island(cfg.islands, 0);
  for (const Elite& e : r.elites) {
    if (e.island >= 0 && e.island < cfg.islands) ++per_island[e.island];
  }
  std::cout << "grid         " << cfg.islands << " island" << (cfg.islands == 1 ? "" : "s") << ", "
            << r.elites.size() << " elites (";
  for (int i = 0; i < cfg.islands; ++i) std::cout << (i ? " / " : "") << per_island[i];
  std::cout << ")\n";
  std::optional<ProgramId> best;
  if (t.best) best = t.best->program;
  std::string axes = cfg.features.size() >= 2
                         ? "rows " + cfg.features[0].metric + ", columns " + cfg.features[1].metric
                         : "rows " + cfg.features[0].metric;
  if (cfg.features.size() > 2) axes += "; best over the other axes";
  for (int i = 0; i < cfg.islands; ++i) {
    std::cout << "\nisland " << i << ": best " << cfg.fitness << " per cell (" << axes
              << "; * = global best)\n"
              << heat_map(cfg, r.elites, i, best);
  }
}

}  // namespace

void add_status_command(CLI::App& app, Cli& cli) {
  auto args = std::make_shared<ArchiveArgs>();
  auto* cmd = app.add_subcommand("status", "Show a run's progress: evaluations, failures by "
                                           "status, best program, LLM cost and a heat map of "
                                           "each island's grid (safe while the run writes)");
  add_archive_args(cmd, *args);
  cmd->callback([&cli, args] {
    auto path = resolve_archive_path(*args);
    if (!path.ok()) {
      cli.exit_code = fail(kExitFailure, path.status().message());
      return;
    }
    auto reader = ArchiveReader::open(*path);
    if (!reader.ok()) {
      cli.exit_code = fail(kExitFailure, reader.status().message());
      return;
    }
    auto report = (*reader)->status_report();
    if (!report.ok()) {
      cli.exit_code = fail(kExitFailure, report.status().message());
      return;
    }
    const ArchiveConfig& cfg = (*reader)->config();
    auto llm = read_llm_report(**reader, report->run.config, double(std::time(nullptr)));
    if (!llm.ok()) {
      cli.exit_code = fail(kExitFailure, llm.status().message());
      return;
    }
    if (args->json) {
      std::cout << to_json(*report, cfg, *path, *llm).dump(2) << "\n";
    } else {
      print_text(*report, cfg, *path, *llm);
    }
  });
}

}  // namespace kevo::cli
