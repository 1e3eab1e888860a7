// What of NVRTC's log reaches people and LLMs: the candidate's own diagnostics, capped, and the
// per-kernel resource usage ptxas prints with -v. Private to the evaluator's compile step.
#pragma once

#include <string>
#include <vector>

#include "evaluator/evaluator.h"

namespace kevo {

struct LogCutOptions {
  std::string program_name = "candidate.cu";
  // Diagnostics naming these in-memory headers are kept too (they are the task's own API, and an
  // error inside one is usually the candidate misusing it). Prefix match.
  std::vector<std::string> own_prefixes = {"kevo/"};
  // Include folders of the allow-listed CUDA headers, each ending in '/', longest first. A
  // diagnostic inside one is shown as its first line (path made relative) and the lines that
  // lead back to the program ("at line 6 of candidate.cu"); its quoted source is dropped.
  std::vector<std::string> toolkit_dirs;
  size_t max_lines = 60;
  size_t max_bytes = 8 * 1024;
  size_t max_line_chars = 400;
};

// Keeps diagnostics that name the program or its task headers with their quoted source lines,
// shortens those inside toolkit headers, drops everything naming other files or holding an
// absolute path, drops ptxas info lines, and caps the result with a "... N more lines" note.
std::string cut_compile_log(const std::string& raw, const LogCutOptions& opt = {});

// The first error of the cut log as "line N: message"; for an error inside a header, N is the
// program line it was instantiated from when the log says ("line 6: in cub/x.cuh(457): ...").
// Else the first line mentioning an error, or "".
std::string first_error(const std::string& cut_log, const std::string& program_name = "candidate.cu");

// Per entry function (kernel) resources from the `ptxas info` lines of a -v compile, in the
// order ptxas printed them. Empty when the log has none.
std::vector<KernelResources> parse_ptxas_resources(const std::string& raw);

}  // namespace kevo
