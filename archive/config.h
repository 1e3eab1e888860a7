// MAP-Elites archive settings (the `archive:` section of a run config). Defaults: docs/design.md,
// Archive.
#pragma once

#include <string>
#include <vector>

#include "common/yaml_config.h"

namespace kevo {

struct FeatureAxis {
  std::string metric;         // any metric of the evaluation result
  std::vector<double> bins;   // ascending upper edges; values above the last go in a final bin
};

void bind(YamlSection& s, FeatureAxis& c);

struct ArchiveConfig {
  // Error and index size are the two trade-offs users pick a kernel by.
  std::vector<FeatureAxis> features = {
      {"mean_rel_err", {0.005, 0.01, 0.02, 0.05, 0.1, 0.2}},
      {"index_bytes_per_token", {0, 2, 4, 8, 16, 32, 64, 128}},
  };
  std::string fitness = "speedup";
  // Four islands keep lineages apart long enough to explore (OpenEvolve and FunSearch use 4-5).
  int islands = 4;
  // Ring migration of each island's best elites every this many evaluations.
  int migration_interval = 50;
  int migration_count = 2;
  // Parent selection mix: exploit the island's best, explore a random cell, or take the global best.
  double exploit_ratio = 0.6;
  double explore_ratio = 0.3;  // the rest (0.1) is the global best
  int inspirations = 3;
  // Islands kept apart in groups: island i is in group i % island_groups, and migration and the
  // global-best parent stay inside a group. A run on GPUs of several models gives each model a
  // group (fitness measured on one model never competes with another's). Not a YAML key: the run
  // sets it from its GPUs; islands must be a multiple of it.
  int island_groups = 1;
};

void bind(YamlSection& s, ArchiveConfig& c);

}  // namespace kevo
