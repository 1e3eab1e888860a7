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
  std::string tokens = p.tokens >= 1000 ? std::to_string(p.tokens / 1000) + "k" : std::to_string(p.tokens);
  std::snprintf(buf, sizeof buf,
                "[%4lld/%lld] ok %lld  failed %lld  best %s  %.1f eval/min  GPU busy %.0f%%  "
                "LLM %d in flight, %s tok, $%.2f",
                static_cast<long long>(p.evaluations), static_cast<long long>(p.max_evaluations),
                static_cast<long long>(p.ok), static_cast<long long>(p.failed), best.c_str(),
                p.evals_per_minute, p.gpu_busy * 100, p.llm_in_flight, tokens.c_str(), p.cost_usd);
  return buf;
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

void ProgressPrinter::finish(const RunSummary& s, const std::string& run_name, bool json) {
  if (terminal_) out_ << "\n";
  const Progress& p = s.progress;
  if (json) {
    nlohmann::json j = {{"run", run_name},
                        {"stop_reason", s.stop_reason},
                        {"evaluations", p.evaluations},
                        {"ok", p.ok},
                        {"failed", p.failed},
                        {"tuner_children", s.tuner_children},
                        {"llm_children", s.llm_children},
                        {"llm_edit_failures", s.llm_edit_failures},
                        {"duplicates", s.duplicates},
                        {"gpu_busy", p.gpu_busy},
                        {"evals_per_minute", p.evals_per_minute},
                        {"tokens", p.tokens},
                        {"cost_usd", p.cost_usd},
                        {"elapsed_s", p.elapsed_s}};
    if (p.best_fitness) {
      j["best"] = {{"program", p.best_program.value_or(0)}, {"fitness", *p.best_fitness}};
    }
    out_ << j.dump(2) << "\n";
    return;
  }
  out_ << "stopped (" << s.stop_reason << ") after " << p.evaluations << " evaluations in "
       << int(p.elapsed_s) << " s: " << s.tuner_children << " tuner and " << s.llm_children
       << " LLM children, " << s.duplicates << " duplicates skipped\n";
  if (p.best_fitness) {
    out_ << "best: program #" << p.best_program.value_or(0) << ", fitness " << *p.best_fitness
         << "\nnext: kevo top --run " << run_name << "   kevo show " << p.best_program.value_or(0)
         << " --run " << run_name << "   kevo export " << p.best_program.value_or(0) << " --run "
         << run_name << " --format cuda --out DIR\n";
  }
}

}  // namespace kevo::cli
