#include "evaluator/occupancy.h"

#include <cuda_occupancy.h>

#include <climits>

namespace kevo {

std::optional<GpuLimits> typical_gpu(const std::string& arch) {
  // Figures from NVIDIA's CUDA C++ Programming Guide, "Technical Specifications per Compute
  // Capability"
  // (https://docs.nvidia.com/cuda/cuda-c-programming-guide/#features-and-technical-specifications),
  // and each GPU's data sheet for the SM count.
  const std::string a =
      arch.size() > 3 && arch.back() == 'a' ? arch.substr(0, arch.size() - 1) : arch;
  if (a == "sm_90") return GpuLimits{"H100/H200 SXM", 9, 0, 132, 2048, 65536, 233472, 232448, 1024};
  if (a == "sm_80") return GpuLimits{"A100 SXM", 8, 0, 108, 2048, 65536, 167936, 166912, 1024};
  if (a == "sm_89") return GpuLimits{"L40S", 8, 9, 142, 1536, 65536, 102400, 101376, 1024};
  if (a == "sm_100") return GpuLimits{"B200", 10, 0, 148, 2048, 65536, 233472, 232448, 1024};
  return std::nullopt;
}

int blocks_per_sm(const GpuLimits& gpu, int threads_per_block, int registers, int static_smem,
                  int dynamic_smem) {
  cudaOccDeviceProp p;
  p.computeMajor = gpu.cc_major;
  p.computeMinor = gpu.cc_minor;
  p.maxThreadsPerBlock = 1024;
  p.maxThreadsPerMultiprocessor = gpu.max_threads_per_sm;
  p.regsPerBlock = gpu.regs_per_sm;
  p.regsPerMultiprocessor = gpu.regs_per_sm;
  p.warpSize = 32;
  p.sharedMemPerBlock = 48 * 1024;
  p.sharedMemPerMultiprocessor = size_t(gpu.smem_per_sm);
  p.numSms = gpu.sm_count;
  p.sharedMemPerBlockOptin = size_t(gpu.smem_per_block_optin);
  p.reservedSharedMemPerBlock = size_t(gpu.reserved_smem_per_block);
  cudaOccFuncAttributes f;
  f.maxThreadsPerBlock = INT_MAX;
  f.numRegs = registers;
  f.sharedSizeBytes = size_t(static_smem);
  // kevo raises a kernel's dynamic shared memory limit to what its plan asks (as the driver
  // needs past 48 KB), so the opt-in limit applies.
  f.shmemLimitConfig = FUNC_SHMEM_LIMIT_OPTIN;
  f.maxDynamicSharedSizeBytes = size_t(dynamic_smem);
  f.numBlockBarriers = 1;
  cudaOccDeviceState state;
  cudaOccResult r;
  if (cudaOccMaxActiveBlocksPerMultiprocessor(&r, &p, &f, &state, threads_per_block,
                                              size_t(dynamic_smem)) != CUDA_OCC_SUCCESS) {
    return 0;
  }
  return r.activeBlocksPerMultiprocessor;
}

}  // namespace kevo
