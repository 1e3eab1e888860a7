// Turns per-workload measurements into the EvalResult of docs/design.md ("Evaluation result"):
// metrics and the feedback text for the LLM. Pure (tested without a GPU).
//
// Metrics: speedup = geometric mean over workloads of dense_us / decode_us; mean_rel_err = mean
// of the workloads' means (every workload counts the same, whatever its batch); p99_rel_err and
// max_rel_err = the worst workload's; index_bytes_per_token = the largest index / (B*Hkv*N),
// i.e. per token per KV head (the cap's unit); build_ns_per_token = build time over all
// workloads / their B*Hkv*N tokens; compile_ms as measured by the compiler.
// speedup_spread: how much of a speedup is noise, from the timing loop's samples. A workload's
// speedup is dense_us / decode_us, two medians each with a relative interquartile spread; their
// ratio's spread is taken as sqrt(decode_spread^2 + dense_spread^2), and the geometric mean's as
// the mean of the workloads' (no credit for averaging: noise such as clock drift is shared by
// the workloads). Two speedups closer than this are not told apart by the measurement.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evaluator/eval_result.h"

namespace kevo {

struct WorkloadMeasure {
  WorkloadResult result;  // name, B, N, times, errors, kernels filled in
  int Hkv = 0;
  int64_t index_bytes = 0;
};

EvalResult assemble_result(const std::vector<WorkloadMeasure>& ws, double compile_ms);

// The speedup_spread of a set of workloads (above); 0 when none has a spread.
double speedup_spread(const std::vector<WorkloadResult>& ws);

// Per-workload lines (time vs dense, errors, per-kernel time, registers, spills), then the
// workload with the lowest speedup and the one with the largest error.
std::string feedback_text(const EvalResult& r);

}  // namespace kevo
