// LLM calls: the filterable listing, one call, and the exchange (prompt, reply, outcome).
#include "orchestrator/web/render.h"

namespace kevo::web {

using nlohmann::json;

namespace {

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// Outcomes the LLM loop records (schema v4) and the ones derived before it.
const std::vector<std::string>& known_outcomes() {
  static const std::vector<std::string> o = {"child",         "no_edit",        "no_match",
                                             "compile_error", "request_failed", "duplicate",
                                             "rejected",      "no_child"};
  return o;
}

std::string outcome_cell(const json& r) {
  std::string out = badge(str(r, "outcome"));
  if (r["outcome_derived"].is_boolean() && r["outcome_derived"].get<bool>()) {
    out += "<small title=\"derived: this archive does not record outcomes\">*</small>";
  }
  return out;
}

std::string select(const char* name, const std::string& current,
                   const std::vector<std::string>& options) {
  std::string out = std::string("<select name=\"") + name + "\"><option value=\"\">any</option>";
  bool found = current.empty();
  for (const auto& o : options) {
    found = found || o == current;
    out += "<option value=\"" + esc(o) + "\"" + (o == current ? " selected" : "") + ">" + esc(o) +
           "</option>";
  }
  if (!found)
    out += "<option value=\"" + esc(current) + "\" selected>" + esc(current) + "</option>";
  return out + "</select>";
}

}  // namespace

std::string render_calls(const json& m) {
  const json& f = m["filters"];
  const json& t = m["totals"];
  std::string out = "<h1>LLM calls</h1><p>" + fmt_int(t["calls"].get<int64_t>()) + " calls, " +
                    fmt_int(t["failed"].get<int64_t>()) + " failed, " +
                    fmt_usd(t["cost_usd"].get<double>()) + ". Newest first.";
  if (!m["stored_outcomes"].get<bool>()) {
    out += " Outcomes marked * are derived: this archive predates recorded outcomes.";
  }
  out += "</p><form method=\"get\" action=\"/llm\" class=\"filters\"><label>status " +
         select("status", str(f, "status"),
                {"ok", "unavailable", "timeout", "invalid argument", "I/O error", "cancelled",
                 "internal error"}) +
         "</label> <label>outcome " + select("outcome", str(f, "outcome"), known_outcomes()) +
         "</label> <button type=\"submit\">filter</button> <a href=\"/llm\">clear</a></form>";
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : m["rows"]) {
    std::string child = r["child"].is_number() ? program_link(r["child"].get<int64_t>()) + " " +
                                                     badge(str(r, "child_status"))
                                               : "-";
    std::string note = str(r, "error").empty() ? str(r, "rejection") : str(r, "error");
    if (note.size() > 120) note = note.substr(0, 120) + "...";
    rows.push_back({call_link(r["id"].get<int64_t>()), esc(fmt_time(r["created_at"].get<double>())),
                    esc(str(r, "model")), esc(str(r, "tag")), badge(str(r, "status")),
                    outcome_cell(r),
                    r["parent"].is_number() ? program_link(r["parent"].get<int64_t>()) : "-", child,
                    fmt_int(r["tokens_in"].get<int64_t>()), fmt_int(r["tokens_out"].get<int64_t>()),
                    fmt_usd(r["cost_usd"].get<double>()), fmt_num(r["latency_s"].get<double>(), 3),
                    esc(note)});
  }
  out += html_table({"call", "time", "model", "tag", "status", "outcome", "parent", "child",
                     "tokens in", "out", "cost", "latency s", "error or rejection"},
                    rows, "calls");
  if (rows.empty()) out += "<p>No call matches in this stretch of the run.</p>";
  if (m["next_before"].is_number()) {
    std::string href = "/llm?status=" + url_encode(str(f, "status")) +
                       "&amp;outcome=" + url_encode(str(f, "outcome")) +
                       "&amp;before=" + std::to_string(m["next_before"].get<int64_t>());
    out += "<p><a href=\"" + href + "\">older calls &#8594;</a></p>";
  }
  return out;
}

std::string render_exchange(const json& c) {
  std::string out = "<p>" + call_link(c["id"].get<int64_t>()) + " " + esc(str(c, "model")) + " (" +
                    esc(str(c, "provider")) + ") " + badge(str(c, "status")) + " outcome " +
                    outcome_cell(c);
  if (!str(c, "tag").empty()) out += " tag <code>" + esc(str(c, "tag")) + "</code>";
  out += "</p>";
  if (!str(c, "error").empty())
    out += "<pre class=\"text error\">" + esc(str(c, "error")) + "</pre>";
  if (!str(c, "rejection").empty()) {
    out += "<p>Rejected:</p><pre class=\"text error\">" + esc(str(c, "rejection")) + "</pre>";
  }
  for (const auto& msg : c["messages"]) {
    out += "<details class=\"msg\"><summary>" + esc(str(msg, "role")) + " <small>" +
           fmt_int(static_cast<int64_t>(str(msg, "content").size())) +
           " chars</small></summary><pre class=\"text\">" + esc(str(msg, "content")) +
           "</pre></details>";
  }
  out += "<details class=\"msg\" open><summary>reply <small>" +
         fmt_int(static_cast<int64_t>(str(c, "response").size())) +
         " chars</small></summary><pre class=\"text reply\">" + esc(str(c, "response")) +
         "</pre></details>";
  return out;
}

std::string render_call(const json& c) {
  std::string out = "<h1>LLM call #" + std::to_string(c["id"].get<int64_t>()) + "</h1>";
  std::vector<std::vector<std::string>> rows = {
      {"time", esc(fmt_time(c["created_at"].get<double>()))},
      {"model", esc(str(c, "model")) + " (" + esc(str(c, "provider")) + ")"},
      {"tokens", fmt_int(c["tokens_in"].get<int64_t>()) + " in, " +
                     fmt_int(c["tokens_out"].get<int64_t>()) + " out"},
      {"cost", fmt_usd(c["cost_usd"].get<double>())},
      {"latency", fmt_num(c["latency_s"].get<double>(), 3) + " s"},
      {"parent", c["parent"].is_number() ? program_link(c["parent"].get<int64_t>()) : "-"},
      {"child", c["child"].is_number()
                    ? program_link(c["child"].get<int64_t>()) + " " + badge(str(c, "child_status"))
                    : "none"}};
  out += "<table class=\"info\"><tbody>";
  for (const auto& r : rows) out += "<tr><th>" + r[0] + "</th><td>" + r[1] + "</td></tr>";
  out += "</tbody></table>" + render_exchange(c);
  return out;
}

}  // namespace kevo::web
