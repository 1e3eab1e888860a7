// `kevo status`: where a run stands: running or why it stopped, active time and evaluations per
// minute, failures by status, the best program overall and per method (seed), the LLM loop's
// outcomes (status_llm.cc), and a heat map of each island's MAP-Elites grid. Safe while the run
// is writing; reads indexes only, so it stays fast at 100,000 programs.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "orchestrator/cli/archive_cli.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/cli/status_sections.h"
#include "orchestrator/evolution/evolution.h"

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

// The stop reasons the evolution loop records, in words.
std::string stop_words(const std::string& reason) {
  auto known = parse_stop_reason(reason);
  return known ? reason + ": " + stop_reason_words(*known) : reason;
}

// "running", "finished (max_evaluations: ...)", or a run that ended without stopping.
std::string state_text(const StatusReport& r, const RunActivity& a) {
  if (a.writer_active) return "running";
  if (!a.stop_reason.empty()) return r.run.status + " (" + stop_words(a.stop_reason) + ")";
  if (r.run.status == "running") {
    return "not running: it ended without stopping (killed or crashed); 'kevo resume " +
           r.run.name + "' continues it";
  }
  return r.run.status;
}

std::string duration_text(double s) {
  const int64_t t = static_cast<int64_t>(s + 0.5);
  char buf[64];
  if (t >= 3600) {
    std::snprintf(buf, sizeof(buf), "%lldh %02lldm", static_cast<long long>(t / 3600),
                  static_cast<long long>(t % 3600 / 60));
  } else if (t >= 60) {
    std::snprintf(buf, sizeof(buf), "%lldm %02llds", static_cast<long long>(t / 60),
                  static_cast<long long>(t % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%llds", static_cast<long long>(t));
  }
  return buf;
}

double per_minute(int64_t evaluations, double active_s) {
  return active_s > 0 ? 60.0 * static_cast<double>(evaluations) / active_s : 0;
}

std::string pct(int64_t n, int64_t total) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f%%", total ? 100.0 * n / total : 0.0);
  return buf;
}

// Failure statuses, most frequent first.
std::vector<std::pair<std::string, int64_t>> failures(const std::map<std::string, int64_t>& by) {
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& [s, n] : by) {
    if (s != "ok" && n > 0) out.emplace_back(s, n);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

int64_t count_of(const std::map<std::string, int64_t>& by, const std::string& status) {
  auto it = by.find(status);
  return it == by.end() ? 0 : it->second;
}

json to_json(const StatusReport& r, const RunActivity& a, const std::vector<MethodSummary>& methods,
             const json& llm, const ArchiveConfig& cfg, const std::string& path) {
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
  json jm = json::array();
  for (const auto& m : methods) {
    json mb = json::object();
    for (const auto& [s, n] : m.by_status) mb[s] = n;
    json mbest = nullptr;
    if (m.best) {
      mbest = {{"program", m.best->id},
               {"fitness", m.best->fitness ? json(*m.best->fitness) : json()},
               {"metrics", m.best->metrics}};
    }
    jm.push_back({{"method", m.name},
                  {"seed", m.seed},
                  {"evaluated", m.evaluated},
                  {"pending", m.pending},
                  {"by_status", mb},
                  {"best", mbest}});
  }
  const int64_t ok = count_of(r.totals.by_status, "ok");
  return {{"db", path},
          {"run",
           {{"name", r.run.name},
            {"status", r.run.status},
            {"seed", r.run.seed},
            {"created_at", r.run.created_at},
            {"updated_at", r.run.updated_at}}},
          {"running", a.writer_active},
          {"stop_reason", a.stop_reason.empty() ? json() : json(a.stop_reason)},
          {"active_s", a.active_s},
          {"sessions", a.sessions},
          {"last_evaluation_at", a.last_evaluation > 0 ? json(a.last_evaluation) : json()},
          {"evaluations_per_minute", per_minute(r.totals.evaluations, a.active_s)},
          {"evaluations", r.totals.evaluations},
          {"pending", r.totals.pending},
          {"failed", r.totals.evaluations - ok},
          {"by_status", by_status},
          {"fitness_metric", cfg.fitness},
          {"best", best},
          {"methods", jm},
          {"llm", llm},
          {"features", features},
          {"islands", islands}};
}

void print_methods(const std::vector<MethodSummary>& methods, const ArchiveConfig& cfg) {
  std::vector<std::string> headers = {"method", "evaluated", "ok", "failed", "best " + cfg.fitness,
                                      "noise",  "program"};
  for (const auto& f : cfg.features) headers.push_back(f.metric);
  Table t(headers);
  for (const auto& m : methods) {
    const int64_t ok = count_of(m.by_status, "ok");
    std::vector<std::string> row = {m.name, fmt_int(m.evaluated), fmt_int(ok),
                                    fmt_int(m.evaluated - ok)};
    if (m.best) {
      row.push_back(fmt_opt(m.best->fitness));
      row.push_back(fmt_noise(m.best->metrics));
      row.push_back("#" + std::to_string(m.best->id));
      for (const auto& f : cfg.features) row.push_back(fmt_metric(m.best->metrics, f.metric));
    } else {
      row.insert(row.end(), {"-", "-", m.pending ? "(pending)" : "(none ok)"});
      for (size_t i = 0; i < cfg.features.size(); ++i) row.push_back("-");
    }
    t.add(row);
  }
  std::cout << "methods      the best program of each method (the seed it descends from)\n"
            << t.render("  ");
}

void print_text(const StatusReport& r, const RunActivity& a,
                const std::vector<MethodSummary>& methods, const LlmStatus& llm,
                const ArchiveConfig& cfg, const std::string& path) {
  const Totals& t = r.totals;
  std::cout << "run          " << r.run.name << "  " << state_text(r, a) << "\n"
            << "file         " << path << "\n";
  std::cout << "time         started " << fmt_time(r.run.created_at) << ", active "
            << duration_text(a.active_s);
  if (a.sessions > 1) std::cout << " in " << a.sessions << " sessions";
  char rate[32];
  std::snprintf(rate, sizeof(rate), "%.1f", per_minute(t.evaluations, a.active_s));
  std::cout << ", " << rate << " evaluations/minute";
  if (a.last_evaluation > 0) std::cout << ", last evaluation " << fmt_time(a.last_evaluation);
  std::cout << "\n";
  const int64_t ok = count_of(t.by_status, "ok");
  std::cout << "evaluations  " << fmt_int(t.evaluations) << " done, " << fmt_int(t.pending)
            << " in flight\n"
            << "  ok         " << fmt_int(ok) << " (" << pct(ok, t.evaluations) << ")\n"
            << "  failed     " << fmt_int(t.evaluations - ok) << " ("
            << pct(t.evaluations - ok, t.evaluations) << ")";
  auto failed = failures(t.by_status);
  for (size_t i = 0; i < failed.size(); ++i) {
    std::cout << (i ? ", " : ": ") << failed[i].first << " " << fmt_int(failed[i].second);
  }
  if (!failed.empty()) std::cout << "  (see 'kevo top --status failed')";
  std::cout << "\n";
  if (t.best) {
    // Migration copies elites, so the best may hold a cell on several islands.
    std::string islands, method;
    for (const Elite& e : r.elites) {
      if (e.program == t.best->program) islands += (islands.empty() ? "" : " ") + std::to_string(e.island);
    }
    for (const auto& m : methods) {
      if (m.best && m.best->id == t.best->program) method = m.name + "; ";
    }
    std::cout << "best         " << cfg.fitness << " " << fmt_num(t.best->fitness) << ": program #"
              << t.best->program << " (" << method << cell_label(cfg, t.best->cell)
              << "; elite on island" << (islands.find(' ') == std::string::npos ? " " : "s ")
              << islands << ")\n";
  } else {
    std::cout << "best         none yet (no program evaluated ok)\n";
  }
  if (!methods.empty()) print_methods(methods, cfg);
  for (const auto& line : llm.lines) std::cout << line << "\n";
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
  auto* cmd = app.add_subcommand("status",
                                 "Show a run's progress: running or why it stopped, "
                                 "active time, evaluations per minute, failures by "
                                 "status, the best program overall and per method, "
                                 "the LLM loop's outcomes and cost, and a heat map of "
                                 "each island's grid (safe while the run writes)");
  add_archive_args(cmd, *args);
  cmd->callback([&cli, args] {
    auto path = resolve_archive_path(*args);
    if (!path.ok()) {
      cli.exit_code = fail(open_failure_code(path.status()), path.status().message());
      return;
    }
    auto reader = ArchiveReader::open(*path);
    if (!reader.ok()) {
      cli.exit_code = fail(open_failure_code(reader.status()), reader.status().message());
      return;
    }
    auto report = (*reader)->status_report();
    auto activity = (*reader)->activity();
    auto methods = (*reader)->methods();
    Status st = !report.ok()     ? report.status()
                : !activity.ok() ? activity.status()
                                 : methods.status();
    if (!st.ok()) {
      cli.exit_code = fail(kExitFailure, st.message());
      return;
    }
    auto llm = llm_status(**reader, *report);
    if (!llm.ok()) {
      cli.exit_code = fail(kExitFailure, llm.status().message());
      return;
    }
    const ArchiveConfig& cfg = (*reader)->config();
    const std::string shown = printable_location(*path);
    WorkersStatus workers = workers_status(*path);
    if (args->json) {
      json j = to_json(*report, *activity, *methods, llm->json, cfg, shown);
      if (!workers.json.is_null()) j["queue"] = workers.json;
      std::cout << j.dump(2) << "\n";
    } else {
      print_text(*report, *activity, *methods, *llm, cfg, shown);
      if (!workers.lines.empty()) std::cout << "\n";
      for (const auto& line : workers.lines) std::cout << line << "\n";
    }
  });
}

}  // namespace kevo::cli
