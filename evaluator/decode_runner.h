// Runs one candidate's plan on one workload with every anti-cheat check of docs/design.md
// ("Anti-cheat"), and times its decode phase. Private to the evaluator (GpuSession uses it for
// candidates and for the dense baseline alike, so both are measured the same way).
//
// Per workload: allocate q, o, index, workspace with guard bands; build phase once (timed);
// accuracy phase (two calls with the same query and seed: must agree); then warm-up and timed
// calls, each with a fresh query whose fp32 reference is computed before the call, the output
// poisoned with NaN, the workspace refilled with fresh garbage and L2 emptied of dirty lines
// (GpuContext::evict_l2_clean); q checksummed around every call; guard bands after every batch;
// k, v and index checksummed after build, after the accuracy phase and at the end. A hang becomes
// `timeout`, a sticky CUDA error `crash` (both poison the context).
#pragma once

#include <cuda.h>

#include <string>
#include <vector>

#include "evaluator/eval_result.h"
#include "evaluator/gpu_context.h"
#include "evaluator/timing_stats.h"
#include "evaluator/workload_data.h"

namespace kevo {

struct PlanKernel {
  std::string name;
  CUfunction fn = nullptr;
  ResolvedLaunch launch{};
  int registers = 0, static_smem = 0, local_bytes = 0, max_threads = 1024;
};

struct RunPlan {
  std::vector<PlanKernel> build, decode;  // plan order
  int64_t index_bytes = 0, workspace_bytes = 0;
};

struct RunLimits {
  StopRule stop;
  int warmup_iterations = 3;
  double kernel_timeout_s = 2.0;  // one call (or the build phase) longer than this hangs
  double max_mean_rel_err = 0.2;
  // Two calls with the same query and seed may differ by this much (row relative difference):
  // room for atomics' summation order, none for reads of garbage.
  double determinism_tolerance = 0.01;
  double floor_us = 0;  // decode faster than this is physically impossible (see gpu_session.cc)
};

struct RunOutcome {
  EvalStatus status = EvalStatus::kOk;
  std::string message;   // what was caught, for a person and an LLM
  double decode_us = 0;  // median over timed calls
  double build_us = 0;
  double spread = 0;               // interquartile spread / median of the timed calls
  std::vector<double> kernel_us;   // median per decode kernel
  std::vector<double> row_errors;  // every checked call's per-row relative errors
  double worst_call_mean = 0;      // the largest mean row error of one checked call
  int timed_calls = 0;
  bool inputs_modified = false;  // k or v changed: the session must rebuild this workload
};

RunOutcome run_workload(GpuContext& c, WorkloadData& d, const RunPlan& plan, const RunLimits& lim);

class CounterProfiler;

struct CountersOutcome {
  EvalStatus status = EvalStatus::kOk;  // not ok when the candidate failed during the passes
  std::string message;
  std::vector<KernelCounters> kernels;  // per decode kernel in plan order; empty if unavailable
  std::string unavailable;              // why there are no counters (CUPTI's one line)
  int passes = 0;
  bool inputs_modified = false;  // as in RunOutcome
};

// Hardware counters of the decode kernels on one workload: the build phase, then one decode call
// replayed once per profiler pass, each pass from the same query, seeds and workspace garbage,
// with L2 emptied of dirty lines before it (as before the timed calls); k, v, the index and
// the guard bands are checked afterwards like after the timed calls. Nothing here is timed.
CountersOutcome profile_workload(GpuContext& c, WorkloadData& d, const RunPlan& plan,
                                 const RunLimits& lim, CounterProfiler& prof);

}  // namespace kevo
