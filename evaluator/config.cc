#include "evaluator/config.h"

#include "evaluator/counters.h"

namespace kevo {

void bind(YamlSection& s, EvaluatorConfig& c) {
  s.field("quick_suite", c.quick_suite);
  s.field("suite", c.suite);
  s.field("holdout_suite", c.holdout_suite);
  s.field("max_mean_rel_err", c.max_mean_rel_err);
  s.field("index_cap_bytes_per_token", c.index_cap_bytes_per_token);
  s.field("warmup_iterations", c.warmup_iterations);
  s.field("min_iterations", c.min_iterations);
  s.field("max_iterations", c.max_iterations);
  s.field("target_spread", c.target_spread);
  s.field("max_seconds_per_workload", c.max_seconds_per_workload);
  s.field("arch", c.arch);
  s.field("kernel_timeout_s", c.kernel_timeout_s);
  s.field("counters", c.counters);
  s.field("counters_workloads", c.counters_workloads);
  if (!parse_counters_mode(c.counters)) s.error("counters", "must be off, elites or all");
  if (c.counters_workloads.empty())
    s.error("counters_workloads", "must be largest, all or a workload name");
  if (c.kernel_timeout_s <= 0) s.error("kernel_timeout_s", "must be positive");
  if (c.max_mean_rel_err <= 0) s.error("max_mean_rel_err", "must be positive");
  if (c.min_iterations < 1) s.error("min_iterations", "must be at least 1");
  if (c.max_iterations < c.min_iterations) s.error("max_iterations", "must be >= min_iterations");
}

}  // namespace kevo
