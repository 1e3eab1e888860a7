// Program, LLM call listing and LLM call models.
#include "archive/diff.h"
#include "orchestrator/web/model.h"

namespace kevo::web {

using nlohmann::json;

namespace {

json opt_json(const std::optional<int64_t>& v) {
  return v ? json(*v) : json();
}
json opt_json(const std::optional<double>& v) {
  return v ? json(*v) : json();
}

json summary_json(const ProgramSummary& s) {
  return {{"id", s.id},         {"status", s.status}, {"fitness", opt_json(s.fitness)},
          {"island", s.island}, {"origin", s.origin}, {"generation", s.generation}};
}

json row_json(const LlmCallRow& r) {
  return {{"id", r.id},
          {"created_at", r.created_at},
          {"model", r.model},
          {"provider", r.provider},
          {"tokens_in", r.tokens_in},
          {"tokens_out", r.tokens_out},
          {"cost_usd", r.cost_usd},
          {"latency_s", r.latency_s},
          {"status", r.status},
          {"error", r.error},
          {"tag", r.tag},
          {"outcome", r.outcome},
          {"outcome_derived", r.outcome_derived},
          {"parent", opt_json(r.parent)},
          {"child", opt_json(r.child)},
          {"child_status", r.child_status},
          {"rejection", r.rejection}};
}

json call_json(const LlmCallDetail& d) {
  json j = row_json(d.row);
  j["error"] = d.call.error;  // whole, not the listing's first 300 characters
  j["messages"] = prompt_messages(d.call.prompt);
  j["response"] = d.call.response;
  return j;
}

// Text of a message's content: a string, or an array of parts with "text" (OpenAI, Anthropic).
std::string content_text(const json& c) {
  if (c.is_string()) return c.get<std::string>();
  if (c.is_array()) {
    std::string out;
    for (const auto& part : c) {
      if (part.is_object() && part.contains("text") && part["text"].is_string()) {
        out += (out.empty() ? "" : "\n") + part["text"].get<std::string>();
      } else if (part.is_string()) {
        out += (out.empty() ? "" : "\n") + part.get<std::string>();
      }
    }
    return out;
  }
  return c.dump(2, ' ', false, json::error_handler_t::replace);
}

}  // namespace

json prompt_messages(const std::string& prompt) {
  json j = json::parse(prompt, nullptr, false);
  json out = json::array();
  if (j.is_object() && j.contains("messages") && j["messages"].is_array()) {
    if (j.contains("system") && !j["system"].is_null()) {
      out.push_back({{"role", "system"}, {"content", content_text(j["system"])}});
    }
    for (const auto& m : j["messages"]) {
      if (!m.is_object()) continue;
      out.push_back({{"role", m.value("role", std::string("message"))},
                     {"content", m.contains("content") ? content_text(m["content"]) : ""}});
    }
  } else if (j.is_object()) {
    // Today's form: {"system": ..., "user": ..., "tag": ...}; any string field is a message.
    for (const char* role : {"system", "user", "assistant"}) {
      if (j.contains(role)) out.push_back({{"role", role}, {"content", content_text(j[role])}});
    }
    for (const auto& [k, v] : j.items()) {
      if (k != "system" && k != "user" && k != "assistant" && k != "tag" && v.is_string()) {
        out.push_back({{"role", k}, {"content", v.get<std::string>()}});
      }
    }
  }
  if (out.empty()) out.push_back({{"role", "prompt"}, {"content", prompt}});
  return out;
}

Result<json> program_model(RunViews& views, ProgramId id) {
  ArchiveReader& reader = views.reader();
  const ArchiveConfig& cfg = reader.config();
  KEVO_ASSIGN_OR_RETURN(Program p, reader.program(id));
  json parent = nullptr, diff = nullptr;
  if (p.parent) {
    auto par = reader.program(*p.parent);
    if (par.ok()) {
      parent = {{"id", par->id},
                {"status", par->status},
                {"fitness", opt_json(par->fitness)},
                {"params", par->params}};
      DiffStats stats;
      std::string text = unified_diff(par->source, p.source, "#" + std::to_string(par->id),
                                      "#" + std::to_string(p.id), 3, &stats);
      diff = {{"added", stats.added}, {"removed", stats.removed}, {"text", text}};
    }
  }
  json lineage = json::array();
  auto path = reader.lineage(id);
  if (path.ok()) {
    for (auto it = path->rbegin(); it != path->rend(); ++it) lineage.push_back(summary_json(*it));
  }
  json children = json::array();
  KEVO_ASSIGN_OR_RETURN(auto kids, views.children(id, 20));
  for (const auto& k : kids) children.push_back(summary_json(k));
  json llm = nullptr;
  if (p.llm_call) {
    auto d = views.llm_call(*p.llm_call, p.id);
    if (d.ok()) llm = call_json(*d);
  }
  return json{{"id", p.id},
              {"hash", p.hash},
              {"status", p.status},
              {"message", p.message},
              {"fitness_metric", cfg.fitness},
              {"fitness", opt_json(p.fitness)},
              {"island", p.island},
              {"generation", p.generation},
              {"origin", p.origin},
              {"cell", p.cell.empty() ? "" : cell_label(cfg, p.cell)},
              {"params", p.params},
              {"metrics", p.metrics},
              {"result", p.result},
              {"holdout", p.holdout},
              {"compile_log", p.compile_log},
              {"feedback", p.feedback},
              {"created_at", p.created_at},
              {"evaluated_at", opt_json(p.evaluated_at)},
              {"source", p.source},
              {"parent", parent},
              {"diff", diff},
              {"lineage", lineage},
              {"children", children},
              {"llm_call", llm}};
}

Result<json> calls_model(RunViews& views, const LlmCallQuery& q) {
  KEVO_ASSIGN_OR_RETURN(auto page, views.llm_calls(q));
  KEVO_ASSIGN_OR_RETURN(auto r, views.reader().status_report());
  json rows = json::array();
  for (const auto& row : page.rows) rows.push_back(row_json(row));
  return json{{"filters",
               {{"status", q.status},
                {"outcome", q.outcome},
                {"before", q.before ? json(*q.before) : json()}}},
              {"stored_outcomes", views.has_call_outcomes()},
              {"totals",
               {{"calls", r.totals.llm_calls},
                {"failed", r.totals.llm_failed},
                {"cost_usd", r.totals.cost_usd}}},
              {"rows", rows},
              {"next_before", page.next_before ? json(*page.next_before) : json()},
              {"scanned", page.scanned}};
}

Result<json> call_model(RunViews& views, LlmCallId id) {
  KEVO_ASSIGN_OR_RETURN(auto d, views.llm_call(id));
  return call_json(d);
}

}  // namespace kevo::web
