// A workload's KV cache on the GPU (generated there, or uploaded from captured tensors), kept
// by the session across candidates, and the fresh queries drawn for every call.
#pragma once

#include <cstdint>
#include <memory>

#include "evaluator/gpu_context.h"
#include "evaluator/workloads.h"

namespace kevo {

struct WorkloadData {
  WorkloadSpec spec;
  kevo_gen::GenParams gen{};
  GuardedBuffer k, v;
  GuardedBuffer q_base;        // captured queries [T, B, Hq, D]; empty for generated workloads
  uint64_t k_sum = 0, v_sum = 0;  // checksums taken right after creation
  bool dirty = false;          // a candidate changed k or v: rebuild before any reuse
};

// Allocates and fills k and v (and the captured queries), then checksums them. Waits.
Result<std::unique_ptr<WorkloadData>> create_workload_data(GpuContext& c, const WorkloadSpec& w);
void free_workload_data(GpuContext& c, WorkloadData& d);

// Enqueues a fresh query for `call_seed` into q [B, Hq, D]: generated, or for captured tensors
// one of the captured queries (chosen by the seed) plus a 10%-of-rms random perturbation.
Status enqueue_query(GpuContext& c, const WorkloadData& d, uint64_t call_seed, CUdeviceptr q);

// Checksums k and v now (enqueues into sums[0], sums[1]; the caller zeroes them and waits).
Status enqueue_kv_checksums(GpuContext& c, const WorkloadData& d, CUdeviceptr sums);

}  // namespace kevo
