// Occupancy without a GPU: NVIDIA's own calculator (cuda_occupancy.h, header-only in the CUDA
// toolkit) on the published limits of the data-centre GPU of each architecture kevo compiles
// for, so `kevo eval --compile-only` can say how many blocks of a launch one SM holds and how
// many waves a grid makes before anything runs. On a GPU the driver's figure is the one used
// (evaluator/counters.h, waves).
#pragma once

#include <optional>
#include <string>

namespace kevo {

// The limits that decide occupancy, of one GPU model.
struct GpuLimits {
  std::string name;  // "H100/H200 SXM"
  int cc_major = 0, cc_minor = 0;
  int sm_count = 0;
  int max_threads_per_sm = 0;
  int regs_per_sm = 65536;
  int smem_per_sm = 0;           // bytes
  int smem_per_block_optin = 0;  // bytes, the most one block may ask for
  int reserved_smem_per_block = 1024;
};

// The data-centre GPU of an architecture ("sm_90a" and "sm_90": H100/H200 SXM, 132 SMs; sm_80:
// A100, sm_89: L40S, sm_100: B200); nullopt for one kevo has no figures for.
std::optional<GpuLimits> typical_gpu(const std::string& arch);

// Blocks of a kernel one SM holds at once (0: the launch cannot run there, e.g. more shared
// memory than a block may have). `registers` per thread, shared memory in bytes.
int blocks_per_sm(const GpuLimits& gpu, int threads_per_block, int registers, int static_smem,
                  int dynamic_smem);

}  // namespace kevo
