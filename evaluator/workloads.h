// Workload suites (docs/design.md, Workloads): shapes plus a seeded, realistic data generator,
// or captured q/k/v tensors. Suites are YAML files (configs/suites/<name>.yaml); this header
// turns one into a list of WorkloadSpec. Pure host code, no GPU; thread-compatible.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/yaml_config.h"
#include "evaluator/task.h"
#include "evaluator/tensor_files.h"

namespace kevo {

// The generator's knobs (the model is described in evaluator/internal_kernels/gen_math.h).
// Defaults give Llama-like decode attention: heads from retrieval-peaked to nearly uniform.
struct GeneratorParams {
  int sinks = 4;                  // StreamingLLM keeps 4 sink tokens
  int outlier_channels = 4;       // a few key channels dominate (Double Sparsity, KV quant papers)
  double key_mean = 1.0;          // mean key as large as the per-token spread (MagicPIG centres it)
  double outlier_scale = 6.0;     // outlier channels 5-10x the others
  double rope_base = 500000;      // Llama 3's RoPE theta
  double qk_align = 0.3;          // queries share a little of the key-mean direction
  double temp_min = 0.5;          // flattest head: background logit spread 0.5
  double temp_max = 2.5;          // most peaked head: spread 2.5
  double heavy_fraction = 0.002;  // needles: 0.2% of tokens (16 at 8K, 262 at 128K)
  double heavy_mass_min = 0.03;   // flat heads put 3% of their mass on needles ...
  double heavy_mass_max = 0.8;    // ... retrieval heads 80%
  double sink_mass_min = 0.1;     // sinks take a share of every head's mass
  double sink_mass_max = 0.4;
  double recent_logit = 2.0;      // the newest token gets +2 logits, decaying over
  double recent_window = 32;      // ~32 tokens (local windows of 64-128 in the methods)
  double value_mean = 0.5;
  double value_outlier_frac = 0.01;  // values have token-wise outliers
  double query_noise = 0.35;      // fresh per-call part of each query: keeps calls distinct
};
void bind(YamlSection& s, GeneratorParams& g);

struct WorkloadSpec {
  std::string name;  // "B1-N32768" unless the suite names it
  Shape shape;
  uint64_t seed = 0;
  GeneratorParams gen;
  // Captured tensors instead of generated data (q holds one or more queries: fresh queries are
  // these plus small random perturbations, see docs/decisions.md).
  std::shared_ptr<const CapturedTensors> tensors;
};

struct Suite {
  std::string name;
  std::string file;  // where it was read from
  std::vector<WorkloadSpec> workloads;
};

// `name_or_path`: a suite name (configs/suites/<name>.yaml under data_root()) or a YAML path.
// Errors name the file, line and key.
Result<Suite> load_suite(const std::string& name_or_path);
// `file` names the text in messages and is the base for relative tensor paths.
Result<Suite> parse_suite(const std::string& yaml_text, const std::string& file);

// Shape limits of the evaluator's own kernels (reference, generator).
Status check_shape(const Shape& s);

}  // namespace kevo
