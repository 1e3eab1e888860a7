// Which of a host's GPUs a run or a worker uses (`--gpus`, run.gpus), one runner each.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "evaluator/gpu_info.h"

namespace kevo {

struct GpuSelection {
  std::vector<GpuInfo> gpus;        // in the order given; a GPU listed twice appears twice
  std::vector<std::string> models;  // distinct GPU names, in order of first appearance
};

// `spec` is "all" or comma-separated device indices ("0,2"). InvalidArgument, naming the GPUs
// there are, for an unknown index, a malformed list, a GPU listed twice without `allow_shared`
// (two runners on one GPU: for testing the multi-runner path only), or GPUs of different models
// without `allow_mixed` (their speedups are not comparable).
Result<GpuSelection> select_gpus(const std::vector<GpuInfo>& available, const std::string& spec,
                                 bool allow_mixed, bool allow_shared);

// Whether KEVO_ALLOW_SHARED_GPU=1 is set: the testing switch that lets a GPU be listed twice.
bool shared_gpus_allowed();

}  // namespace kevo
