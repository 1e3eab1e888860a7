// Overview, heat map, points and version models (model_program.cc has programs and LLM calls).
#include <algorithm>
#include <map>

#include "orchestrator/config/config.h"
#include "orchestrator/web/model.h"

namespace kevo::web {

using nlohmann::json;

namespace {

json opt_json(const std::optional<double>& v) {
  return v ? json(*v) : json();
}
json opt_json(const std::optional<int64_t>& v) {
  return v ? json(*v) : json();
}

// The run's budget from the config it runs with: the latest `resumed` event's (kevo resume may
// change it), else the stored one. Null when neither parses.
json budget(ArchiveReader& reader, const RunInfo& run) {
  std::string text = run.config;
  auto resumed = reader.events("resumed", 1);
  if (resumed.ok() && !resumed->empty()) {
    const json& m = resumed->back().message;
    if (m.is_object() && m.contains("config") && m["config"].is_string()) {
      text = m["config"].get<std::string>();
    }
  }
  KevoConfig cfg;
  if (!load_yaml_config(text, "stored config", cfg).ok()) return nullptr;
  return {{"max_evaluations", cfg.run.max_evaluations},
          {"max_cost_usd", cfg.run.max_cost_usd},
          {"max_wall_minutes", cfg.run.max_wall_minutes}};
}

json summary_json(const ProgramSummary& s, const ArchiveConfig& cfg) {
  return {{"id", s.id},
          {"status", s.status},
          {"fitness", opt_json(s.fitness)},
          {"island", s.island},
          {"generation", s.generation},
          {"origin", s.origin},
          {"parent", opt_json(s.parent)},
          {"cell", s.cell.empty() ? "" : cell_label(cfg, s.cell)},
          {"metrics", s.metrics},
          {"created_at", s.created_at}};
}

json map_json(const ArchiveConfig& cfg, const std::vector<Elite>& elites,
              const std::optional<Elite>& best) {
  json features = json::array();
  for (const auto& f : cfg.features) {
    json labels = json::array();
    for (size_t b = 0; b <= f.bins.size(); ++b) labels.push_back(bin_label(f, static_cast<int>(b)));
    features.push_back({{"metric", f.metric}, {"bins", f.bins}, {"labels", labels}});
  }
  json islands = json::array();
  for (int i = 0; i < cfg.islands; ++i) {
    json cells = json::array();
    for (const Elite& e : elites) {
      if (e.island != i) continue;
      cells.push_back({{"cell", cell_bins(e.cell)},
                       {"label", cell_label(cfg, e.cell)},
                       {"program", e.program},
                       {"fitness", e.fitness}});
    }
    islands.push_back({{"island", i}, {"cells", cells}});
  }
  return {{"fitness_metric", cfg.fitness},
          {"features", features},
          {"islands", islands},
          {"best", best ? json(best->program) : json()},
          {"best_fitness", best ? json(best->fitness) : json()}};
}

}  // namespace

Result<json> map_model(RunViews& views) {
  KEVO_ASSIGN_OR_RETURN(auto r, views.reader().status_report());
  return map_json(views.reader().config(), r.elites, r.totals.best);
}

Result<std::string> version_token(RunViews& views) {
  KEVO_ASSIGN_OR_RETURN(auto r, views.reader().status_report());
  return std::to_string(r.totals.evaluations) + "-" + std::to_string(r.totals.pending) + "-" +
         std::to_string(r.totals.llm_calls) + "-" + r.run.status + "-" +
         std::to_string(r.elites.size());
}

Result<json> overview_model(RunViews& views, double now) {
  ArchiveReader& reader = views.reader();
  const ArchiveConfig& cfg = reader.config();
  KEVO_ASSIGN_OR_RETURN(auto r, reader.status_report());
  const Totals& t = r.totals;
  // A stopped run's rate is the one it ended with, not zero.
  double rate_end = r.run.status == "running" ? now : r.run.updated_at;
  KEVO_ASSIGN_OR_RETURN(auto rate, views.rate(600, rate_end));
  KEVO_ASSIGN_OR_RETURN(auto methods, views.methods());
  KEVO_ASSIGN_OR_RETURN(auto top, reader.top({.limit = 10}));
  KEVO_ASSIGN_OR_RETURN(auto events, reader.events("", 15));
  KEVO_ASSIGN_OR_RETURN(auto stopped, reader.events("stopped", 1));

  json by_status = json::object();
  for (const auto& [s, n] : t.by_status) by_status[s] = n;
  json stop = nullptr;
  if (r.run.status != "running" && !stopped.empty()) {
    const json& m = stopped.back().message;
    stop = {{"reason", m.is_object() && m.contains("reason") ? m["reason"] : json("")},
            {"time", stopped.back().time}};
  }
  json jm = json::array();
  for (const Method& m : methods) {
    jm.push_back({{"name", m.name},
                  {"seed", m.seed},
                  {"seed_status", m.seed_status},
                  {"seed_fitness", opt_json(m.seed_fitness)},
                  {"evaluated", m.evaluated},
                  {"ok", m.ok},
                  {"best", opt_json(m.best)},
                  {"best_fitness", opt_json(m.best_fitness)}});
  }
  json jtop = json::array();
  for (const auto& s : top) jtop.push_back(summary_json(s, cfg));
  json jevents = json::array();
  for (auto it = events.rbegin(); it != events.rend(); ++it) {  // newest first
    jevents.push_back(
        {{"id", it->id}, {"time", it->time}, {"kind", it->kind}, {"message", it->message}});
  }
  json best = nullptr;
  if (t.best) {
    best = {{"program", t.best->program},
            {"fitness", t.best->fitness},
            {"island", t.best->island},
            {"cell", cell_label(cfg, t.best->cell)}};
  }
  return json{{"run",
               {{"name", r.run.name},
                {"status", r.run.status},
                {"seed", r.run.seed},
                {"created_at", r.run.created_at},
                {"updated_at", r.run.updated_at},
                {"db", views.path()}}},
              {"now", now},
              {"stop", stop},
              {"budget", budget(reader, r.run)},
              {"evaluations", t.evaluations},
              {"pending", t.pending},
              {"by_status", by_status},
              {"rate",
               {{"window_s", rate.window_s},
                {"in_window", rate.in_window},
                {"recent_per_min", rate.recent_per_min},
                {"overall_per_min", rate.overall_per_min},
                {"last_evaluated_at", opt_json(rate.last_evaluated_at)}}},
              {"fitness_metric", cfg.fitness},
              {"best", best},
              {"llm",
               {{"calls", t.llm_calls},
                {"failed", t.llm_failed},
                {"tokens_in", t.tokens_in},
                {"tokens_out", t.tokens_out},
                {"cost_usd", t.cost_usd}}},
              {"methods", jm},
              {"top", jtop},
              {"events", jevents},
              {"map", map_json(cfg, r.elites, t.best)}};
}

Result<json> points_model(RunViews& views, ProgramId after) {
  KEVO_ASSIGN_OR_RETURN(auto page, views.points_after(after));
  const auto& pts = page.points;
  std::map<std::string, int> index;
  json statuses = json::array();
  json points = json::array();
  for (const EvalPoint& p : pts) {
    auto [it, added] = index.emplace(p.status, static_cast<int>(index.size()));
    if (added) statuses.push_back(p.status);
    points.push_back({p.id, p.island, it->second, opt_json(p.fitness)});
  }
  return json{{"fitness_metric", views.reader().config().fitness},
              {"islands", views.reader().config().islands},
              {"statuses", statuses},
              {"points", points},
              {"after", after},
              {"next_after", page.next_after}};
}

}  // namespace kevo::web
