#include "archive/config.h"

#include <algorithm>

namespace kevo {

void bind(YamlSection& s, FeatureAxis& c) {
  s.field("metric", c.metric);
  s.field("bins", c.bins);
  if (c.metric.empty()) s.error("metric", "must name a metric of the evaluation result");
  if (!std::is_sorted(c.bins.begin(), c.bins.end())) s.error("bins", "must be ascending");
}

void bind(YamlSection& s, ArchiveConfig& c) {
  s.section_list("features", c.features);
  s.field("fitness", c.fitness);
  s.field("islands", c.islands);
  s.field("migration_interval", c.migration_interval);
  s.field("migration_count", c.migration_count);
  s.field("exploit_ratio", c.exploit_ratio);
  s.field("explore_ratio", c.explore_ratio);
  s.field("inspirations", c.inspirations);
  if (c.islands < 1) s.error("islands", "must be at least 1");
  if (c.exploit_ratio < 0 || c.explore_ratio < 0 || c.exploit_ratio + c.explore_ratio > 1) {
    s.error("exploit_ratio", "exploit_ratio and explore_ratio must be >= 0 and sum to at most 1");
  }
}

}  // namespace kevo
