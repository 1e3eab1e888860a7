// The "LLM" section of `kevo status` (see status_sections.h), read from the archive: requests,
// children and rejections by reason per model (the outcome each call was judged with), accept
// rates, tokens, cost (or "price unknown": a model without prices, or a command), which models a
// breaker holds (llm_paused events) and why requests stopped (llm_stopped).
#include <ctime>
#include <map>
#include <sstream>

#include "orchestrator/cli/archive_cli.h"
#include "orchestrator/cli/status_sections.h"
#include "orchestrator/config/config.h"

namespace kevo::cli {
namespace {

struct LlmReport {
  struct Model {
    std::string name;
    int64_t requests = 0, children = 0, rejected = 0, pending = 0;
    std::map<std::string, int64_t> outcomes;  // every outcome, "child" included
    int64_t tokens_in = 0, tokens_out = 0;
    double cost_usd = 0;
    bool price_known = true;
    std::string paused;  // "until 12:03:04 UTC: no SEARCH/REPLACE blocks" while paused
  };
  std::vector<Model> models;
  int64_t requests = 0, children = 0, rejected = 0;
  std::string stopped;  // why no more requests go out, from the run's events
};


bool is_child(const std::string& outcome) { return outcome == "child"; }
bool is_pending(const std::string& outcome) { return outcome.empty(); }

Result<LlmReport> read_llm_report(ArchiveReader& reader, const std::string& run_config,
                                  double now) {
  KEVO_ASSIGN_OR_RETURN(auto counts, reader.llm_outcomes());
  LlmReport r;
  KevoConfig config;
  bool have_config = load_yaml_config(run_config, "stored config", config).ok();
  auto model_of = [&](const std::string& name) -> LlmReport::Model& {
    for (auto& m : r.models) {
      if (m.name == name) return m;
    }
    r.models.push_back({});
    r.models.back().name = name;
    if (have_config) {
      for (const auto& mc : config.llm.models) {
        if (mc.model == name) r.models.back().price_known = mc.provider != "command" && mc.prices_known;
      }
    }
    return r.models.back();
  };
  for (const LlmOutcomeCount& c : counts) {
    LlmReport::Model& m = model_of(c.model);
    m.requests += c.calls;
    m.outcomes[c.outcome.empty() ? "(unjudged)" : c.outcome] += c.calls;
    if (is_child(c.outcome)) {
      m.children += c.calls;
    } else if (is_pending(c.outcome)) {
      m.pending += c.calls;
    } else {
      m.rejected += c.calls;
    }
    m.tokens_in += c.tokens_in;
    m.tokens_out += c.tokens_out;
    m.cost_usd += c.cost_usd;
  }
  for (const auto& m : r.models) {
    r.requests += m.requests;
    r.children += m.children;
    r.rejected += m.rejected;
  }
  // Breaker trips: a model is paused while its latest trip's pause has not run out.
  KEVO_ASSIGN_OR_RETURN(auto paused, reader.events("llm_paused", 1000));
  for (const Event& e : paused) {
    std::string name = e.message.value("model", "");
    double until = e.time + e.message.value("pause_s", 0.0);
    LlmReport::Model& m = model_of(name);
    if (until > now) {
      m.paused = "until " + fmt_time(until) + " (last " +
                 std::to_string(e.message.value("window", 0)) + " replies gave no child; mostly: " +
                 e.message.value("reason", "?") + ")";
    } else {
      m.paused.clear();
    }
  }
  KEVO_ASSIGN_OR_RETURN(auto stopped, reader.events("llm_stopped", 1));
  if (!stopped.empty()) r.stopped = stopped.back().message.value("detail", "");
  return r;
}

std::string llm_report_text(const LlmReport& r) {
  if (r.models.empty()) return "LLM          none used (the built-in tuner made every child)\n";
  std::string out = "LLM          " + fmt_int(r.requests) + " requests: " + fmt_int(r.children) +
                    " gave a child, " + fmt_int(r.rejected) + " rejected\n";
  Table t({"model", "requests", "children", "rejected", "accept", "tokens in", "tokens out",
           "cost", "state"});
  for (const auto& m : r.models) {
    int64_t judged = m.children + m.rejected;
    std::string accept = judged ? fmt_num(100.0 * double(m.children) / double(judged), 3) + "%" : "-";
    t.add({m.name, fmt_int(m.requests), fmt_int(m.children), fmt_int(m.rejected), accept,
           fmt_int(m.tokens_in), fmt_int(m.tokens_out),
           m.price_known ? fmt_usd(m.cost_usd) : "price unknown",
           m.paused.empty() ? "active" : "paused " + m.paused});
  }
  out += t.render();
  std::map<std::string, int64_t> reasons;
  for (const auto& m : r.models) {
    for (const auto& [o, n] : m.outcomes) {
      if (o != "child") reasons[o] += n;
    }
  }
  if (!reasons.empty()) {
    out += "  rejected by reason:";
    bool first = true;
    for (const auto& [o, n] : reasons) {
      out += std::string(first ? " " : ", ") + o + " " + fmt_int(n);
      first = false;
    }
    out += "\n";
  }
  if (!r.stopped.empty()) out += "  no more requests: " + r.stopped + "\n";
  return out;
}

nlohmann::json llm_report_json(const LlmReport& r) {
  nlohmann::json models = nlohmann::json::array();
  for (const auto& m : r.models) {
    int64_t judged = m.children + m.rejected;
    models.push_back({{"model", m.name},
                      {"requests", m.requests},
                      {"children", m.children},
                      {"rejected", m.rejected},
                      {"outcomes", m.outcomes},
                      {"accept_rate", judged ? double(m.children) / double(judged) : 0.0},
                      {"tokens_in", m.tokens_in},
                      {"tokens_out", m.tokens_out},
                      {"cost_usd", m.price_known ? nlohmann::json(m.cost_usd) : nlohmann::json()},
                      {"price_known", m.price_known},
                      {"paused", m.paused.empty() ? nlohmann::json() : nlohmann::json(m.paused)}});
  }
  return {{"requests", r.requests}, {"children", r.children}, {"rejected", r.rejected},
          {"models", models},
          {"stopped", r.stopped.empty() ? nlohmann::json() : nlohmann::json(r.stopped)}};
}


}  // namespace

Result<LlmStatus> llm_status(ArchiveReader& reader, const StatusReport& report) {
  KEVO_ASSIGN_OR_RETURN(LlmReport r,
                        read_llm_report(reader, report.run.config, double(std::time(nullptr))));
  LlmStatus s;
  s.json = llm_report_json(r);
  const Totals& t = report.totals;
  s.json["calls"] = t.llm_calls;
  s.json["failed"] = t.llm_failed;
  s.json["tokens_in"] = t.tokens_in;
  s.json["tokens_out"] = t.tokens_out;
  s.json["cost_usd"] = t.cost_usd;
  std::istringstream text(llm_report_text(r));
  for (std::string line; std::getline(text, line);) s.lines.push_back(line);
  return s;
}

}  // namespace kevo::cli
