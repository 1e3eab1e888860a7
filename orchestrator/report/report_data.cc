// report_data(): what the figures and tables show, read from the archive once.
#include <algorithm>
#include <array>
#include <map>
#include <unordered_map>

#include "orchestrator/report/report.h"

namespace kevo {

using nlohmann::json;

std::vector<size_t> pareto_front(const std::vector<std::pair<double, double>>& points) {
  std::vector<size_t> order(points.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (points[a].first != points[b].first) return points[a].first < points[b].first;
    return points[a].second > points[b].second;
  });
  std::vector<size_t> front;
  for (size_t i : order) {
    // On the front: fitter than everything with less (or equal) error.
    if (front.empty() || points[i].second > points[front.back()].second) front.push_back(i);
  }
  return front;
}

namespace {

json opt(const std::optional<double>& v) {
  return v ? json(*v) : json();
}

json points_json(const std::vector<EvalPoint>& pts) {
  std::map<std::string, int> index;
  json statuses = json::array(), ids = json::array(), islands = json::array(),
       status = json::array(), fitness = json::array();
  for (const EvalPoint& p : pts) {
    auto [it, added] = index.emplace(p.status, static_cast<int>(index.size()));
    if (added) statuses.push_back(p.status);
    ids.push_back(p.id);
    islands.push_back(p.island);
    status.push_back(it->second);
    fitness.push_back(opt(p.fitness));
  }
  return {{"statuses", statuses},
          {"id", ids},
          {"island", islands},
          {"status", status},
          {"fitness", fitness}};
}

// The best program of each method, per workload of its result.
Status method_workloads(ArchiveReader& reader, json& methods, json& workload_names) {
  std::vector<std::string> order;
  for (json& m : methods) {
    m["workloads"] = json::array();
    if (!m["best"].is_number()) continue;
    KEVO_ASSIGN_OR_RETURN(Program p, reader.program(m["best"].get<ProgramId>()));
    if (!p.result.is_object() || !p.result.contains("workloads")) continue;
    for (const auto& w : p.result["workloads"]) {
      if (!w.is_object() || !w.contains("name") || !w["name"].is_string()) continue;
      std::string name = w["name"];
      if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
      m["workloads"].push_back({{"name", name},
                                {"speedup", w.value("speedup", json())},
                                {"mean_rel_err", w.value("mean_rel_err", json())}});
    }
  }
  workload_names = order;
  return Status::Ok();
}

json llm_json(const std::vector<LlmCallRow>& calls, int want_bins) {
  json by_outcome = json::object(), by_model = json::object(), bins = json::array();
  int64_t children = 0, ok_children = 0;
  for (const auto& c : calls) {
    by_outcome[c.outcome] = by_outcome.value(c.outcome, 0) + 1;
    json& m = by_model[c.model];
    if (m.is_null()) m = {{"calls", 0}, {"children", 0}};
    m["calls"] = m["calls"].get<int64_t>() + 1;
    if (c.child) {
      ++children;
      m["children"] = m["children"].get<int64_t>() + 1;
      if (c.child_status == "ok") ++ok_children;
    }
  }
  if (!calls.empty()) {
    double t0 = calls.front().created_at, t1 = calls.back().created_at;
    for (const auto& c : calls) t0 = std::min(t0, c.created_at), t1 = std::max(t1, c.created_at);
    // Enough calls per bin for a rate to mean something.
    int n = std::clamp(static_cast<int>(calls.size() / 10), 1, std::max(1, want_bins));
    double width = std::max(1e-6, (t1 - t0) / n);
    std::vector<std::array<int64_t, 3>> counts(n, {0, 0, 0});
    for (const auto& c : calls) {
      int b = std::min(n - 1, static_cast<int>((c.created_at - t0) / width));
      ++counts[b][0];
      if (c.child) ++counts[b][1];
      if (c.child && c.child_status == "ok") ++counts[b][2];
    }
    for (int b = 0; b < n; ++b) {
      bins.push_back({{"start", t0 + b * width},
                      {"end", t0 + (b + 1) * width},
                      {"calls", counts[b][0]},
                      {"children", counts[b][1]},
                      {"ok_children", counts[b][2]}});
    }
  }
  return {{"calls", calls.size()},
          {"children", children},
          {"ok_children", ok_children},
          {"by_outcome", by_outcome},
          {"by_model", by_model},
          {"bins", bins},
          {"outcomes_derived", !calls.empty() && calls.front().outcome_derived}};
}

}  // namespace

Result<json> report_data(RunViews& views, const ReportOptions& options) {
  ArchiveReader& reader = views.reader();
  const ArchiveConfig& cfg = reader.config();
  KEVO_ASSIGN_OR_RETURN(auto status, reader.status_report());
  KEVO_ASSIGN_OR_RETURN(auto points, views.points());
  KEVO_ASSIGN_OR_RETURN(auto methods, views.methods());
  KEVO_ASSIGN_OR_RETURN(auto metrics, views.ok_metrics(options.error_metric));
  KEVO_ASSIGN_OR_RETURN(auto calls, views.all_llm_calls());
  KEVO_ASSIGN_OR_RETURN(auto stopped, reader.events("stopped", 1));

  std::unordered_map<ProgramId, int> method_of;
  json jm = json::array();
  for (size_t i = 0; i < methods.size(); ++i) {
    const Method& m = methods[i];
    method_of[m.seed] = static_cast<int>(i);
    jm.push_back({{"name", m.name},
                  {"seed", m.seed},
                  {"seed_status", m.seed_status},
                  {"seed_fitness", opt(m.seed_fitness)},
                  {"evaluated", m.evaluated},
                  {"ok", m.ok},
                  {"best", m.best ? json(*m.best) : json()},
                  {"best_fitness", opt(m.best_fitness)}});
  }
  json workloads;
  KEVO_RETURN_IF_ERROR(method_workloads(reader, jm, workloads));

  std::vector<std::pair<double, double>> xy;
  json pid = json::array(), perr = json::array(), pfit = json::array(), pmethod = json::array();
  std::vector<const ProgramMetrics*> with_error;
  for (const auto& m : metrics) {
    if (!m.error) continue;
    with_error.push_back(&m);
    xy.emplace_back(*m.error, m.fitness);
    pid.push_back(m.id);
    perr.push_back(*m.error);
    pfit.push_back(m.fitness);
    auto it = method_of.find(m.root);
    pmethod.push_back(it == method_of.end() ? -1 : it->second);
  }
  json front = json::array();
  for (size_t i : pareto_front(xy)) {
    const ProgramMetrics& m = *with_error[i];
    auto it = method_of.find(m.root);
    front.push_back(
        {{"id", m.id},
         {"error", *m.error},
         {"fitness", m.fitness},
         {"method", it == method_of.end() ? json("") : json(methods[it->second].name)}});
  }

  const Totals& t = status.totals;
  int64_t ok = t.by_status.count("ok") ? t.by_status.at("ok") : 0;
  json by_status = json::object();
  for (const auto& [s, n] : t.by_status) by_status[s] = n;
  json best = nullptr;
  if (t.best) {
    auto it = std::find_if(points.begin(), points.end(),
                           [&](const EvalPoint& p) { return p.id == t.best->program; });
    std::string method;
    if (it != points.end() && method_of.count(it->root)) method = methods[method_of[it->root]].name;
    best = {{"program", t.best->program},
            {"fitness", t.best->fitness},
            {"cell", cell_label(cfg, t.best->cell)},
            {"method", method}};
  }
  json llm = llm_json(calls, options.accept_rate_bins);
  llm["failed"] = t.llm_failed;
  llm["tokens_in"] = t.tokens_in;
  llm["tokens_out"] = t.tokens_out;
  llm["cost_usd"] = t.cost_usd;
  // A running run's row is stamped at its start; its last evaluation says how far it got.
  KEVO_ASSIGN_OR_RETURN(auto rate, views.rate(600, status.run.updated_at));
  const double end = std::max(status.run.updated_at, rate.last_evaluated_at.value_or(0));
  const double wall = std::max(0.0, end - status.run.created_at);
  return json{
      {"run",
       {{"name", status.run.name},
        {"status", status.run.status},
        {"created_at", status.run.created_at},
        {"updated_at", status.run.updated_at},
        {"stop_reason", !stopped.empty() && stopped.back().message.is_object()
                            ? stopped.back().message.value("reason", json(""))
                            : json("")},
        {"db", views.path()}}},
      {"fitness_metric", cfg.fitness},
      {"error_metric", options.error_metric},
      {"islands", cfg.islands},
      {"summary",
       {{"evaluations", t.evaluations},
        {"pending", t.pending},
        {"by_status", by_status},
        {"ok", ok},
        {"best", best},
        {"wall_s", wall},
        {"evals_per_min", wall > 0 ? 60.0 * t.evaluations / wall : 0.0}}},
      {"points", points_json(points)},
      {"pareto",
       {{"id", pid}, {"error", perr}, {"fitness", pfit}, {"method", pmethod}, {"front", front}}},
      {"methods", jm},
      {"workloads", workloads},
      {"llm", llm}};
}

}  // namespace kevo
