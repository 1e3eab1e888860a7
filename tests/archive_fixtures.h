// Helpers for the archive suites: evaluation results shaped like docs/design.md ("Evaluation
// result"), distinct program sources, and a small grid config.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "archive/archive.h"

namespace kevo::testing {

// An evaluation result with the metrics the default grid reads, and one workload with kernels.
inline nlohmann::json eval_json(const std::string& status, double speedup, double mean_rel_err,
                                double index_bytes_per_token) {
  bool ok = status == "ok";
  return {{"status", status},
          {"message", ok ? "" : "line 3: something went wrong"},
          {"fitness", ok ? speedup : 0.0},
          {"metrics", {{"speedup", speedup}, {"mean_rel_err", mean_rel_err},
                       {"p99_rel_err", mean_rel_err * 3}, {"max_rel_err", mean_rel_err * 5},
                       {"index_bytes_per_token", index_bytes_per_token},
                       {"build_ns_per_token", 0.3}, {"compile_ms", 41}}},
          {"workloads", {{{"name", "B1-N32768"}, {"B", 1}, {"N", 32768}, {"decode_us", 40.0 / speedup},
                          {"dense_us", 40.0}, {"speedup", speedup}, {"mean_rel_err", mean_rel_err},
                          {"p99_rel_err", mean_rel_err * 3},
                          {"kernels", {{{"name", "score"}, {"us", 3.1}, {"registers", 40},
                                        {"smem_bytes", 0}, {"local_bytes", 0}},
                                       {{"name", "attend"}, {"us", 4.8}, {"registers", 96},
                                        {"smem_bytes", 49152}, {"local_bytes", 0}}}}}}},
          {"artifacts", {{"compile_log", ok ? "" : "kernel.cu(3): error: expected ';'"},
                         {"feedback", "score 3.1 us, attend 4.8 us"}}}};
}

inline std::string kernel_source(int variant) {
  return "#include \"kevo/sparse_decode.cuh\"\n"
         "// kevo:param  BITS = 32 in {16, 32, 64}\n"
         "// kevo:decode attend grid(Hq, B) block(256)\n"
         "extern \"C\" __global__ void attend(const kevo::Args a) {\n"
         "  // variant " + std::to_string(variant) + "\n"
         "}\n";
}

inline RunInfo test_run(uint64_t seed = 7) {
  RunInfo r;
  r.name = "test-run";
  r.config = "run:\n  name: test-run\n";
  r.seed = seed;
  return r;
}

inline ArchiveConfig test_config(int islands = 2) {
  ArchiveConfig c;  // the default axes: mean_rel_err x index_bytes_per_token, fitness speedup
  c.islands = islands;
  c.migration_interval = 0;  // off unless a test turns it on
  return c;
}

}  // namespace kevo::testing
