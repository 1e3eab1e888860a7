// The CUDA driver API, loaded at run time. kevo never links libcuda.so.1, so the binary starts on
// machines without a GPU or driver; everything GPU-related asks cuda_driver() first and reports
// its Status (one clear line) when there is none. Thread-safe: loaded once, then read-only.
#pragma once

#include <cuda.h>

#include <string>

#include "common/status.h"

namespace kevo {

// X-macro of every driver entry point kevo uses. Types come from cuda.h's own prototypes, and
// each is resolved with cuGetProcAddress at this header's CUDA_VERSION, so ABI versions match.
// (Packed by hand: clang-format would put one entry per line.)
// clang-format off
#define KEVO_CUDA_DRIVER_FUNCTIONS(X)                                                       \
  X(cuInit) X(cuDriverGetVersion) X(cuGetErrorName) X(cuGetErrorString)                    \
  X(cuDeviceGetCount) X(cuDeviceGet) X(cuDeviceGetName) X(cuDeviceGetAttribute)            \
  X(cuDeviceTotalMem) X(cuDevicePrimaryCtxRetain) X(cuDevicePrimaryCtxRelease)             \
  X(cuDevicePrimaryCtxReset) X(cuCtxSetCurrent) X(cuCtxSynchronize) X(cuCtxSetLimit)       \
  X(cuMemAlloc) X(cuMemFree) X(cuMemGetInfo) X(cuMemcpyHtoD) X(cuMemcpyDtoH)               \
  X(cuMemcpyDtoD) X(cuMemcpyHtoDAsync) X(cuMemcpyDtoHAsync) X(cuMemcpyDtoDAsync)           \
  X(cuMemsetD8) X(cuMemsetD8Async) X(cuMemsetD32Async) X(cuMemAllocHost) X(cuMemFreeHost)  \
  X(cuStreamCreate) X(cuStreamDestroy) X(cuStreamSynchronize) X(cuStreamQuery)             \
  X(cuEventCreate) X(cuEventDestroy) X(cuEventRecord) X(cuEventSynchronize)                \
  X(cuEventElapsedTime) X(cuEventQuery) X(cuModuleLoadData) X(cuModuleLoadDataEx)          \
  X(cuModuleUnload) X(cuModuleGetFunction) X(cuFuncGetAttribute) X(cuFuncSetAttribute)     \
  X(cuLaunchKernel) X(cuLaunchKernelEx) X(cuOccupancyMaxActiveBlocksPerMultiprocessor)
// clang-format on

struct CudaDriver {
#define KEVO_DECLARE_FN(name) decltype(&::name) name = nullptr;
  KEVO_CUDA_DRIVER_FUNCTIONS(KEVO_DECLARE_FN)
#undef KEVO_DECLARE_FN
  int driver_version = 0;  // e.g. 13000
  int device_count = 0;    // after cuInit

  // "CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access was encountered"
  std::string error_text(CUresult r) const;
};

// Loads libcuda.so.1 and runs cuInit(0) on first use. Unavailable when there is no driver or no
// GPU, with a message that says which. The pointer lives until the process ends.
Result<const CudaDriver*> cuda_driver();

// Status for a failed driver call: "<what>: CUDA_ERROR_...: text". Ok when r == CUDA_SUCCESS.
Status cuda_status(const CudaDriver& d, CUresult r, const std::string& what);

}  // namespace kevo

// Inside a function returning Status/Result with a `const CudaDriver& drv` in scope.
#define KEVO_CU(drv, call) KEVO_RETURN_IF_ERROR(::kevo::cuda_status((drv), (drv).call, #call))
