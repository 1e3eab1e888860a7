// Compiling one candidate from the command line the way a run does: in a confined compile worker
// (sandbox/sandbox.h) under its deadline, with the CUBIN cache read and written by this process
// (a worker cannot write). Used by `kevo eval` and by `kevo export`'s compile check.
#pragma once

#include <string>

#include "common/status.h"
#include "evaluator/evaluator.h"

namespace kevo::cli {

// `options.timeout_s` is the deadline (the worker is killed past it), `options.cache_dir` the
// cache ("" = none). Unavailable when no compile worker can start.
Result<CompileOutcome> compile_in_worker(const Candidate& c, const CompileOptions& options);

// NVRTC names the program "candidate.cu" in its diagnostics; the user knows the file by its name.
void relabel_program(std::string& text, const std::string& file);

}  // namespace kevo::cli
