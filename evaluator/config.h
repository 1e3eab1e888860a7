// Evaluator settings (the `evaluator:` section of a run config).
#pragma once

#include <string>

#include "common/yaml_config.h"

namespace kevo {

struct EvaluatorConfig {
  // Workload suites by name (configs/suites/<name>.yaml) or path. The quick suite screens every
  // candidate first (cascade); the main suite gives fitness; holdout runs on new elites only.
  std::string quick_suite = "quick";
  std::string suite = "llama3-8b";
  std::string holdout_suite = "holdout";
  // Mean relative error above which a candidate is `inaccurate`. 0.2 admits the aggressive sparse
  // methods of the field (errors of 0.05-0.15 at 1/32 of the tokens) while rejecting broken ones;
  // the archive's error bins separate accurate from loose variants.
  double max_mean_rel_err = 0.2;
  // Index cap in bytes per token per KV head (docs/design.md, Anti-cheat: 128 by default).
  int index_cap_bytes_per_token = 128;
  // Timing: median over at least min_iterations, stop when the interquartile spread is under
  // target_spread of the median, never beyond max_seconds per workload.
  int warmup_iterations = 3;
  int min_iterations = 10;
  int max_iterations = 200;
  double target_spread = 0.02;
  double max_seconds_per_workload = 0.5;
  // A decode call (or the build phase) still running after this many seconds hangs: the
  // result is `timeout` and the runner process must be replaced (a kernel cannot be stopped).
  // The slowest honest candidate on the default suite takes milliseconds.
  double kernel_timeout_s = 2.0;
  // GPU architecture to compile for; "auto" asks the device (sm_90a on Hopper).
  std::string arch = "auto";
  // Hardware counters per decode kernel (DRAM bytes, bandwidth, L2 hits, occupancy, stalls):
  // "off", "elites" (each new elite once, and every `kevo eval`) or "all" (every evaluation on
  // the main suite). They cost replay passes after the timed calls (about 0.1-0.3 s), worth it
  // for the programs prompts show as parents, not for the many children that never become one.
  std::string counters = "elites";
  // Which workloads of the suite get counters: "largest" (most K/V bytes: where bandwidth
  // matters most), "all", or a workload name ("B1-N131072").
  std::string counters_workloads = "largest";
};

void bind(YamlSection& s, EvaluatorConfig& c);

}  // namespace kevo
