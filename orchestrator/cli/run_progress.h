// The live progress line of `kevo run` / `kevo resume` and their closing summary.
#pragma once

#include <ostream>
#include <string>

#include "orchestrator/evolution.h"

namespace kevo::cli {

class ProgressPrinter {
 public:
  // On a terminal the line redraws in place; otherwise a line every 10 s (logs, CI).
  ProgressPrinter(std::ostream& out, bool terminal) : out_(out), terminal_(terminal) {}
  void show(const Progress& p);
  void finish(const RunSummary& s, const std::string& run_name, bool json);

  static std::string line(const Progress& p);

 private:
  std::ostream& out_;
  bool terminal_;
  double last_plain_s_ = -1e9;
  std::string last_note_;
};

}  // namespace kevo::cli
