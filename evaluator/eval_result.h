// The result of evaluating one candidate: docs/design.md, "Evaluation result". This struct
// is what `kevo eval --json` prints, what GPU runners send back over their pipe, and what the
// archive stores (metrics JSON + artifacts). Plain data; copyable; no GPU types.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "evaluator/counters.h"

namespace kevo {

enum class EvalStatus {
  kOk,
  kRejectedSource,  // refused before compiling (include outside the allow-list, bad directive)
  kCompileError,    // NVRTC failed
  kInvalidPlan,     // plan expressions do not evaluate (division by zero, grid of 0, too big)
  kLaunchError,     // the driver refused a launch (too many registers or shared memory, ...)
  kCrash,          // a sticky CUDA error (illegal address, trap, misaligned access) or runner death
  kTimeout,        // compile or a kernel passed its deadline
  kInaccurate,     // error above the tolerance, or non-finite / unwritten output
  kCheatDetected,  // wrote inputs, wrote outside buffers, cached across calls, impossible time
};

const char* eval_status_name(EvalStatus s);  // "ok", "rejected_source", ...
std::optional<EvalStatus> parse_eval_status(const std::string& name);
std::vector<EvalStatus> all_eval_statuses();

struct KernelTiming {
  std::string name;
  double us = 0;           // median time of this kernel alone (events between kernels)
  int registers = 0;       // per thread, from the driver
  int smem_bytes = 0;      // static + dynamic shared memory per block
  int local_bytes = 0;     // local memory per thread (spills and stack arrays)
  // Hardware counters of one call of this kernel (evaluator/counters.h): only on the workloads
  // profiled, only when counters were asked for (EvaluatorConfig::counters).
  std::optional<KernelCounters> counters;
};

// How the counters of a result were measured; present only when counters were asked for.
struct CountersRun {
  int passes = 0;           // replay passes per profiled decode call
  double ms = 0;            // wall time the counters added to the evaluation
  std::string unavailable;  // why there are none (no CUPTI, no permission...); "" when measured
};

struct WorkloadResult {
  std::string name;  // "B1-N32768"
  int B = 0, N = 0;
  double decode_us = 0;  // median of the decode phase
  double dense_us = 0;   // the dense reference kernel, same process, same data
  double speedup = 0;    // dense_us / decode_us
  double mean_rel_err = 0, p99_rel_err = 0, max_rel_err = 0;
  double build_us = 0;                // build phase, once per KV cache (not in fitness)
  std::vector<KernelTiming> kernels;  // decode kernels, in plan order
  // Noise of the two medians: interquartile range / median of the timed calls (0.02 = the
  // middle half of the samples spans 2% of the median). 0 when unknown (older results).
  double decode_spread = 0, dense_spread = 0;
  double worst_call_err = 0;  // the largest mean relative error of one call (the gate's unit)
  int Hq = 0, Hkv = 0, D = 0;  // the rest of the shape (0 in results from before it was kept)
};

struct EvalResult {
  EvalStatus status = EvalStatus::kOk;
  std::string message;  // what and where, for a person and an LLM; empty when ok
  double fitness = 0;   // == metrics["speedup"] when ok, 0 otherwise
  // Raw values (docs/design.md: speedup, mean_rel_err, p99_rel_err, max_rel_err,
  // index_bytes_per_token, build_ns_per_token, compile_ms; and speedup_spread, the speedup's
  // relative noise: see result_assembly.h). Binning happens in the archive, never here.
  std::map<std::string, double> metrics;
  std::vector<WorkloadResult> workloads;
  std::string compile_log;  // cut to the candidate's own lines and capped
  std::string feedback;     // short text for the LLM: per-kernel times, what failed
  std::string gpu;          // where it was measured, "NVIDIA H100 80GB HBM3 (sm_90a)"; "" = no GPU
  std::optional<CountersRun> counters;  // absent unless counters were asked for

  bool ok() const { return status == EvalStatus::kOk; }
  static EvalResult failure(EvalStatus s, std::string message);
};

nlohmann::json to_json(const EvalResult& r);
// Accepts what to_json writes; InvalidArgument naming the field otherwise.
Result<EvalResult> eval_result_from_json(const nlohmann::json& j);

// Copies the counters of `from` (a counters-only evaluation of the same program) into `into`,
// matching workloads by name and kernels by position and name; `into.counters` takes
// `from.counters`. Timings, errors and metrics of `into` stay as they are.
void merge_counters(EvalResult& into, const EvalResult& from);

}  // namespace kevo
