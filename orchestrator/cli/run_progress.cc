#include "orchestrator/cli/run_progress.h"

#include <cstdio>

#include <nlohmann/json.hpp>

namespace kevo::cli {

std::string ProgressPrinter::line(const Progress& p) {
  char buf[320];
  std::string best = "-";
  if (p.best_fitness) {
    char b[64];
    std::snprintf(b, sizeof b, "%.2fx (#%lld)", *p.best_fitness,
                  static_cast<long long>(p.best_program.value_or(0)));
    best = b;
  }
  std::snprintf(buf, sizeof buf,
                "[%4lld/%lld] ok %lld  failed %lld  best %s  %.1f eval/min  GPU busy %.0f%%",
                static_cast<long long>(p.evaluations), static_cast<long long>(p.max_evaluations),
                static_cast<long long>(p.ok), static_cast<long long>(p.failed), best.c_str(),
                p.evals_per_minute, p.gpu_busy * 100);
  std::string out = buf;
  if (p.llm) out += "  LLM " + llm_line(*p.llm, p.llm_in_flight, p.tokens, p.cost_usd);
  return out;
}

std::string ProgressPrinter::llm_line(const LlmProgress& l, int in_flight, int64_t tokens,
                                      double cost_usd) {
  std::string tok = tokens >= 1000 ? std::to_string(tokens / 1000) + "k" : std::to_string(tokens);
  char buf[256];
  std::snprintf(buf, sizeof buf, "%lld/%lld requests, %d in flight, %lld children, %lld rejected, %s tok, ",
                static_cast<long long>(l.requests), static_cast<long long>(l.max_requests),
                in_flight, static_cast<long long>(l.children), static_cast<long long>(l.rejected),
                tok.c_str());
  std::string out = buf;
  if (l.price_unknown) {
    out += "price unknown";
  } else {
    std::snprintf(buf, sizeof buf, "$%.2f", cost_usd);
    out += buf;
  }
  for (const auto& m : l.models) {
    if (m.paused_for_s > 0) {
      std::snprintf(buf, sizeof buf, " [%s paused %.0fs]", m.name.c_str(), m.paused_for_s);
      out += buf;
    }
  }
  if (!l.stopped.empty()) out += " [no more requests]";
  return out;
}

nlohmann::json llm_progress_json(const LlmProgress& l) {
  nlohmann::json models = nlohmann::json::array();
  for (const auto& m : l.models) {
    models.push_back({{"model", m.name},
                      {"requests", m.requests},
                      {"children", m.children},
                      {"rejected", m.rejected},
                      {"accept_rate", m.accept_rate},
                      {"paused_for_s", m.paused_for_s}});
  }
  return {{"requests", l.requests},     {"max_requests", l.max_requests},
          {"children", l.children},     {"rejected", l.rejected},
          {"rejections", l.rejections}, {"models", models},
          {"price_unknown", l.price_unknown}, {"stopped", l.stopped}};
}

void ProgressPrinter::show(const Progress& p) {
  if (terminal_) {
    if (p.note != last_note_ && !p.note.empty()) {
      out_ << "\r\033[K  " << p.note << "\n";
      last_note_ = p.note;
    }
    out_ << "\r\033[K" << line(p) << std::flush;
    return;
  }
  if (p.final || p.elapsed_s - last_plain_s_ >= 10) {
    out_ << line(p) << "\n" << std::flush;
    last_plain_s_ = p.elapsed_s;
  }
}

void ProgressPrinter::end_line() {
  if (terminal_) out_ << "\n" << std::flush;
}

nlohmann::json ProgressPrinter::summary_json(const RunSummary& s, const std::string& run_name) {
  const Progress& p = s.progress;
  nlohmann::json j = {{"run", run_name},
                      {"stop_reason", stop_reason_name(s.stop_reason)},
                      {"evaluations", p.evaluations},
                      {"ok", p.ok},
                      {"failed", p.failed},
                      {"tuner_children", s.tuner_children},
                      {"llm_children", s.llm_children},
                      {"llm_edit_failures", s.llm_edit_failures},
                      {"duplicates", s.duplicates},
                      {"tuned_out_parents", s.tuned_out_parents},
                      {"gpu_busy", p.gpu_busy},
                      {"gpu_jobs", p.gpu_jobs},
                      {"evals_per_minute", p.evals_per_minute},
                      {"tokens", p.tokens},
                      {"cost_usd", p.cost_usd},
                      {"elapsed_s", p.elapsed_s}};
  if (!s.stop_detail.empty()) j["stop_detail"] = s.stop_detail;
  if (p.llm) j["llm"] = llm_progress_json(*p.llm);
  if (p.best_fitness) {
    j["best"] = {{"program", p.best_program.value_or(0)}, {"fitness", *p.best_fitness}};
  }
  return j;
}

void ProgressPrinter::finish(const RunSummary& s, const std::string& run_name) {
  end_line();
  const Progress& p = s.progress;
  out_ << "stopped (" << stop_reason_name(s.stop_reason) << ") after " << p.evaluations
       << " evaluations in " << int(p.elapsed_s) << " s: " << s.tuner_children << " tuner and "
       << s.llm_children << " LLM children, " << s.duplicates << " duplicates skipped\n";
  if (!s.stop_detail.empty()) out_ << "  why: " << s.stop_detail << "\n";
  if (s.tuned_out_parents > 0) {
    out_ << "  tuner: every one- and two-param move of " << s.tuned_out_parents
         << " parent(s) is evaluated\n";
  }
  if (p.llm) {
    const LlmProgress& l = *p.llm;
    out_ << "LLM: " << llm_line(l, 0, p.tokens, p.cost_usd) << "\n";
    for (const auto& m : l.models) {
      char buf[200];
      std::snprintf(buf, sizeof buf, "  %-24s %5lld requests  %4lld children  %4lld rejected  accept %3.0f%%\n",
                    m.name.c_str(), static_cast<long long>(m.requests),
                    static_cast<long long>(m.children), static_cast<long long>(m.rejected),
                    100 * m.accept_rate);
      out_ << buf;
    }
    if (!l.rejections.empty()) {
      out_ << "  rejected replies by reason:";
      for (const auto& [reason, n] : l.rejections) out_ << " " << reason << " " << n << ";";
      out_ << "\n";
    }
    if (!l.stopped.empty()) out_ << "  no more requests: " << l.stopped << "\n";
  }
  if (p.best_fitness) {
    out_ << "best: program #" << p.best_program.value_or(0) << ", fitness " << *p.best_fitness
         << "\nnext: kevo top --run " << run_name << "   kevo show " << p.best_program.value_or(0)
         << " --run " << run_name << "   kevo export " << p.best_program.value_or(0) << " --run "
         << run_name << " --format cuda --out DIR\n";
  }
}

}  // namespace kevo::cli
