// What a GPU is and how fast it moves bytes: for `kevo doctor`, the prompt's hardware facts and
// the physical-floor check of the anti-cheat.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace kevo {

struct GpuInfo {
  int index = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  int sm_count = 0;
  int64_t memory_bytes = 0;
  int64_t l2_bytes = 0;
  int max_smem_per_block_optin = 0;  // bytes a block may get after raising its limit
  double copy_gbps = 0;              // measured device-to-device copy, bytes read + written; 0 = not measured

  std::string arch() const;  // "sm_90a" on Hopper (the 'a' features need the exact chip), else "sm_XY"
};

nlohmann::json to_json(const GpuInfo& g);
// What to_json wrote (another host's GPU, from a worker's registration); missing fields keep
// their defaults.
GpuInfo gpu_info_from_json(const nlohmann::json& j);

// Queries every GPU; with measure_bandwidth, times a device-to-device copy on each (about 0.3 s
// per GPU). Unavailable (one clear line) when there is no driver or GPU.
Result<std::vector<GpuInfo>> query_gpus(bool measure_bandwidth);

// The CUDA driver's version (13000 for 13.0), loading the driver on first use; Unavailable (one
// clear line) when there is no driver.
Result<int> cuda_driver_version();

// Free memory of the GPU of the calling thread's current CUDA context, in bytes; -1 when there is
// no driver or no current context. For a GPU runner's replies.
int64_t free_gpu_memory_bytes();

}  // namespace kevo
