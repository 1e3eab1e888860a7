#include "evaluator/gpu_info.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "evaluator/cuda_driver.h"

namespace kevo {

std::string GpuInfo::arch() const {
  std::string a = "sm_" + std::to_string(cc_major) + std::to_string(cc_minor);
  // Arch-specific ('a') targets unlock wgmma/setmaxnreg on Hopper and tcgen05 on Blackwell; a
  // CUBIN for the exact chip is what we load anyway, so nothing is lost by asking for them.
  if (cc_major >= 9) a += "a";
  return a;
}

nlohmann::json to_json(const GpuInfo& g) {
  return {{"index", g.index},
          {"name", g.name},
          {"compute_capability", std::to_string(g.cc_major) + "." + std::to_string(g.cc_minor)},
          {"arch", g.arch()},
          {"sm_count", g.sm_count},
          {"memory_bytes", g.memory_bytes},
          {"l2_bytes", g.l2_bytes},
          {"max_smem_per_block_optin", g.max_smem_per_block_optin},
          {"copy_gbps", g.copy_gbps}};
}

GpuInfo gpu_info_from_json(const nlohmann::json& j) {
  GpuInfo g;
  if (!j.is_object()) return g;
  g.index = j.value("index", 0);
  g.name = j.value("name", std::string());
  std::string cc = j.value("compute_capability", std::string("0.0"));
  size_t dot = cc.find('.');
  if (dot != std::string::npos) {
    g.cc_major = std::atoi(cc.substr(0, dot).c_str());
    g.cc_minor = std::atoi(cc.substr(dot + 1).c_str());
  }
  g.sm_count = j.value("sm_count", 0);
  g.memory_bytes = j.value("memory_bytes", int64_t{0});
  g.l2_bytes = j.value("l2_bytes", int64_t{0});
  g.max_smem_per_block_optin = j.value("max_smem_per_block_optin", 0);
  g.copy_gbps = j.value("copy_gbps", 0.0);
  return g;
}

namespace {

// Times cuMemcpyDtoDAsync of a buffer well past L2 (256 MiB vs 50-60 MB of L2 on Hopper) and
// counts bytes read plus written, the convention of STREAM-style copy figures.
Result<double> measure_copy(const CudaDriver& d, CUdevice dev) {
  CUcontext ctx = nullptr;
  KEVO_CU(d, cuDevicePrimaryCtxRetain(&ctx, dev));
  struct Release {
    const CudaDriver& d;
    CUdevice dev;
    ~Release() { d.cuDevicePrimaryCtxRelease(dev); }
  } release{d, dev};
  KEVO_CU(d, cuCtxSetCurrent(ctx));
  const size_t bytes = size_t(256) << 20;
  CUdeviceptr src = 0, dst = 0;
  KEVO_CU(d, cuMemAlloc(&src, bytes));
  struct Free {
    const CudaDriver& d;
    CUdeviceptr& a;
    CUdeviceptr& b;
    ~Free() {
      if (a) d.cuMemFree(a);
      if (b) d.cuMemFree(b);
    }
  } free_bufs{d, src, dst};
  KEVO_CU(d, cuMemAlloc(&dst, bytes));
  KEVO_CU(d, cuMemsetD8(src, 0x5a, bytes));
  CUstream stream = nullptr;
  KEVO_CU(d, cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  CUevent start = nullptr, stop = nullptr;
  KEVO_CU(d, cuEventCreate(&start, CU_EVENT_DEFAULT));
  KEVO_CU(d, cuEventCreate(&stop, CU_EVENT_DEFAULT));
  std::vector<float> ms;
  for (int i = 0; i < 12; ++i) {
    KEVO_CU(d, cuEventRecord(start, stream));
    KEVO_CU(d, cuMemcpyDtoDAsync(dst, src, bytes, stream));
    KEVO_CU(d, cuEventRecord(stop, stream));
    KEVO_CU(d, cuEventSynchronize(stop));
    float t = 0;
    KEVO_CU(d, cuEventElapsedTime(&t, start, stop));
    if (i >= 2) ms.push_back(t);  // the first copies pay for page mapping and clock ramp-up
  }
  d.cuEventDestroy(start);
  d.cuEventDestroy(stop);
  d.cuStreamDestroy(stream);
  std::sort(ms.begin(), ms.end());
  double median_s = ms[ms.size() / 2] * 1e-3;
  return 2.0 * double(bytes) / median_s / 1e9;
}

}  // namespace

Result<std::vector<GpuInfo>> query_gpus(bool measure_bandwidth) {
  KEVO_ASSIGN_OR_RETURN(const CudaDriver* dp, cuda_driver());
  const CudaDriver& d = *dp;
  std::vector<GpuInfo> out;
  for (int i = 0; i < d.device_count; ++i) {
    CUdevice dev;
    KEVO_CU(d, cuDeviceGet(&dev, i));
    GpuInfo g;
    g.index = i;
    char name[256] = {};
    KEVO_CU(d, cuDeviceGetName(name, sizeof(name), dev));
    g.name = name;
    auto attr = [&](CUdevice_attribute a) {
      int v = 0;
      d.cuDeviceGetAttribute(&v, a, dev);
      return v;
    };
    g.cc_major = attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
    g.cc_minor = attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
    g.sm_count = attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
    g.l2_bytes = attr(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE);
    g.max_smem_per_block_optin = attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
    size_t mem = 0;
    KEVO_CU(d, cuDeviceTotalMem(&mem, dev));
    g.memory_bytes = int64_t(mem);
    if (measure_bandwidth) {
      auto bw = measure_copy(d, dev);
      if (!bw.ok()) return bw.status().with_context("measuring copy bandwidth of GPU " + std::to_string(i));
      g.copy_gbps = *bw;
    }
    out.push_back(std::move(g));
  }
  return out;
}

Result<int> cuda_driver_version() {
  KEVO_ASSIGN_OR_RETURN(const CudaDriver* d, cuda_driver());
  return d->driver_version;
}

int64_t free_gpu_memory_bytes() {
  auto d = cuda_driver();
  if (!d.ok()) return -1;
  size_t free = 0, total = 0;
  if ((*d)->cuMemGetInfo(&free, &total) != CUDA_SUCCESS) return -1;
  return static_cast<int64_t>(free);
}

}  // namespace kevo
