// The overview page: run status and progress, the fitness chart (drawn by kevo.js from
// /api/points), heat maps, best program per method, top programs and recent events.
#include <algorithm>

#include "orchestrator/web/render.h"

namespace kevo::web {

using nlohmann::json;

namespace {

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string opt_num(const json& v, int significant = 4) {
  return v.is_number() ? fmt_num(v.get<double>(), significant) : "-";
}

// 3 significant digits below 100, whole numbers with separators above.
std::string fmt_rate(double v) {
  return v < 100 ? fmt_num(v, 3) : fmt_int(static_cast<int64_t>(v + 0.5));
}

std::string card(const std::string& title, const std::string& value, const std::string& detail) {
  return "<div class=\"card\"><div class=\"card-title\">" + title +
         "</div><div class=\"card-value\">" + value + "</div><div class=\"card-detail\">" + detail +
         "</div></div>";
}

std::string cards(const json& m) {
  const json& run = m["run"];
  const json& budget = m["budget"];
  const json& llm = m["llm"];
  const json& rate = m["rate"];
  std::string out = "<div class=\"cards\">";
  // Status and why it stopped.
  std::string status_detail = "started " + esc(fmt_time(run["created_at"].get<double>()));
  if (m["stop"].is_object()) {
    status_detail += "<br>stopped: " + esc(m["stop"]["reason"].is_string()
                                               ? m["stop"]["reason"].get<std::string>()
                                               : m["stop"]["reason"].dump());
  }
  out += card("run", badge(str(run, "status")), status_detail);
  // Progress against the evaluation budget.
  int64_t evals = m["evaluations"].get<int64_t>();
  std::string progress = fmt_int(m["pending"].get<int64_t>()) + " in flight";
  if (budget.is_object()) {
    int64_t max_evals = budget["max_evaluations"].get<int64_t>();
    progress = "<progress value=\"" + std::to_string(std::min(evals, max_evals)) + "\" max=\"" +
               std::to_string(std::max<int64_t>(1, max_evals)) + "\"></progress><br>" +
               fmt_int(evals) + " of " + fmt_int(max_evals) + "; " + progress;
  }
  out += card("evaluations", fmt_int(evals), progress);
  out += card("evaluations per minute", fmt_rate(rate["recent_per_min"].get<double>()),
              "over the last " + fmt_duration(rate["window_s"].get<double>()) + "; whole run " +
                  fmt_rate(rate["overall_per_min"].get<double>()));
  std::string best = "none yet";
  std::string best_detail = "no program evaluated ok";
  if (m["best"].is_object()) {
    best = fmt_num(m["best"]["fitness"].get<double>(), 4);
    best_detail =
        program_link(m["best"]["program"].get<int64_t>()) + " " + esc(str(m["best"], "cell"));
  }
  out += card("best " + esc(str(m, "fitness_metric")), best, best_detail);
  std::string cost_detail = fmt_int(llm["calls"].get<int64_t>()) + " calls (" +
                            fmt_int(llm["failed"].get<int64_t>()) + " failed), " +
                            fmt_int(llm["tokens_in"].get<int64_t>()) + " tokens in, " +
                            fmt_int(llm["tokens_out"].get<int64_t>()) + " out";
  if (budget.is_object())
    cost_detail += "; budget " + fmt_usd(budget["max_cost_usd"].get<double>());
  out += card("LLM cost", fmt_usd(llm["cost_usd"].get<double>()), cost_detail);
  return out + "</div>";
}

std::string status_bar(const json& by_status, int64_t total) {
  if (by_status.empty() || total <= 0) return "";
  std::vector<std::pair<std::string, int64_t>> sorted;
  for (const auto& [s, n] : by_status.items()) sorted.emplace_back(s, n.get<int64_t>());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out = "<p class=\"statuses\">";
  for (const auto& [s, n] : sorted) {
    out += badge(s) + " " + fmt_int(n) + " (" + fmt_num(100.0 * n / total, 3) + "%) ";
  }
  return out + "</p>";
}

std::string methods_table(const json& m) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& x : m["methods"]) {
    std::string gain = "-";
    if (x["best_fitness"].is_number() && x["seed_fitness"].is_number() &&
        x["seed_fitness"].get<double>() > 0) {
      gain = fmt_num(x["best_fitness"].get<double>() / x["seed_fitness"].get<double>(), 3) + "x";
    }
    rows.push_back({esc(str(x, "name")), program_link(x["seed"].get<int64_t>()),
                    badge(str(x, "seed_status")), opt_num(x["seed_fitness"]),
                    fmt_int(x["evaluated"].get<int64_t>()), fmt_int(x["ok"].get<int64_t>()),
                    x["best"].is_number() ? program_link(x["best"].get<int64_t>()) : "-",
                    opt_num(x["best_fitness"]), gain});
  }
  const std::string f = esc(str(m, "fitness_metric"));
  return html_table({"method", "seed", "seed status", "seed " + f, "evaluated", "ok", "best",
                     "best " + f, "gain"},
                    rows, "num");
}

std::string top_table(const json& m) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : m["top"]) {
    rows.push_back({program_link(p["id"].get<int64_t>()), opt_num(p["fitness"]),
                    json_num(p["metrics"], "mean_rel_err"),
                    json_num(p["metrics"], "index_bytes_per_token"),
                    std::to_string(p["island"].get<int>()),
                    std::to_string(p["generation"].get<int>()), esc(str(p, "origin")),
                    p["parent"].is_number() ? program_link(p["parent"].get<int64_t>()) : "-"});
  }
  return html_table({"program", esc(str(m, "fitness_metric")), "mean_rel_err", "index B/token",
                     "island", "gen", "origin", "parent"},
                    rows, "num");
}

std::string events_table(const json& m) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : m["events"]) {
    std::string msg = e["message"].dump(-1, ' ', false, json::error_handler_t::replace);
    if (msg.size() > 240) msg = msg.substr(0, 240) + "...";
    rows.push_back({esc(fmt_time(e["time"].get<double>())), esc(str(e, "kind")),
                    "<code>" + esc(msg) + "</code>"});
  }
  return html_table({"time", "event", "message"}, rows);
}

}  // namespace

std::string render_overview(const json& m) {
  std::string out = cards(m);
  out += status_bar(m["by_status"], m["evaluations"].get<int64_t>());
  out += "<section><h2>" + esc(str(m, "fitness_metric")) +
         " over evaluations</h2><p class=\"hint\">Every evaluation is a dot, coloured by "
         "status (failures below the axis); lines: best so far per island. Click a dot to open "
         "its program.</p><div class=\"chart\"><canvas id=\"fitness\" width=\"900\" "
         "height=\"320\" data-src=\"/api/points\"></canvas><div id=\"fitness-tip\" "
         "class=\"tip\"></div></div><div id=\"fitness-legend\" class=\"legend\"></div>"
         "</section>";
  out +=
      "<section><h2>MAP-Elites grid per island</h2><p class=\"hint\">Each cell holds the "
      "fittest program of its bin (click to open it).</p>" +
      render_heatmaps(m["map"]) + "</section>";
  out += "<section><h2>Best program per method</h2>" + methods_table(m) + "</section>";
  out += "<section><h2>Top programs</h2>" + top_table(m) + "</section>";
  out += "<section><h2>Recent events</h2>" + events_table(m) + "</section>";
  out += "<p class=\"hint\">Archive: <code>" + esc(str(m["run"], "db")) + "</code></p>";
  return out;
}

}  // namespace kevo::web
