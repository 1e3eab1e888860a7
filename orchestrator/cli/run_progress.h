// The live progress line of `kevo run` / `kevo resume` and their closing summary.
#pragma once

#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "orchestrator/evolution/evolution.h"

namespace kevo::cli {

class ProgressPrinter {
 public:
  // On a terminal the line redraws in place; otherwise a line every 10 s (logs, CI).
  ProgressPrinter(std::ostream& out, bool terminal) : out_(out), terminal_(terminal) {}
  void show(const Progress& p);
  // The closing summary as text, on the progress stream.
  void finish(const RunSummary& s, const std::string& run_name);
  // Ends the redrawn line, for a caller that prints the summary elsewhere (as JSON on stdout).
  void end_line();

  // The closing summary as JSON (`kevo run --json`: the only thing written on stdout).
  static nlohmann::json summary_json(const RunSummary& s, const std::string& run_name);

  static std::string line(const Progress& p);
  // "12/600 requests, 3 in flight, 4 children, 5 rejected, 80k tok, $0.12" (+ paused models).
  static std::string llm_line(const LlmProgress& l, int in_flight, int64_t tokens, double cost_usd);

 private:
  std::ostream& out_;
  bool terminal_;
  double last_plain_s_ = -1e9;
  std::string last_note_;
};

// The LLM progress as JSON (the summary of `kevo run --json`).
nlohmann::json llm_progress_json(const LlmProgress& l);

}  // namespace kevo::cli
