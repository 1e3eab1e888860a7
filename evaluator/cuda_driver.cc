#include "evaluator/cuda_driver.h"

#include <dlfcn.h>

#include <mutex>

namespace kevo {

std::string CudaDriver::error_text(CUresult r) const {
  const char* name = nullptr;
  const char* text = nullptr;
  if (cuGetErrorName) cuGetErrorName(r, &name);
  if (cuGetErrorString) cuGetErrorString(r, &text);
  std::string out = name ? name : ("CUDA error " + std::to_string(int(r)));
  if (text) out += std::string(": ") + text;
  return out;
}

Status cuda_status(const CudaDriver& d, CUresult r, const std::string& what) {
  if (r == CUDA_SUCCESS) return Status::Ok();
  return Status::Unavailable(what + ": " + d.error_text(r));
}

namespace {

Result<CudaDriver*> load() {
  // RTLD_LOCAL: nothing else in the process should bind to the driver's symbols by accident.
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    return Status::Unavailable("no NVIDIA driver: libcuda.so.1 could not be loaded (" +
                               std::string(dlerror()) + "); GPU work needs a machine with a GPU");
  }
  using GetProc = CUresult (*)(const char*, void**, int, cuuint64_t, CUdriverProcAddressQueryResult*);
  auto get_proc = reinterpret_cast<GetProc>(dlsym(lib, "cuGetProcAddress_v2"));
  if (!get_proc) {
    return Status::Unavailable("the NVIDIA driver is too old: cuGetProcAddress_v2 is missing "
                               "(kevo needs a driver for CUDA 12 or later)");
  }
  auto* d = new CudaDriver();  // intentionally never freed: lives for the process
  std::string missing;
#define KEVO_RESOLVE_FN(name)                                                                 \
  {                                                                                           \
    void* fn = nullptr;                                                                       \
    CUdriverProcAddressQueryResult found{};                                                   \
    if (get_proc(#name, &fn, CUDA_VERSION, CU_GET_PROC_ADDRESS_DEFAULT, &found) == CUDA_SUCCESS && fn) \
      d->name = reinterpret_cast<decltype(d->name)>(fn);                                      \
    else                                                                                      \
      missing += std::string(missing.empty() ? "" : ", ") + #name;                            \
  }
  KEVO_CUDA_DRIVER_FUNCTIONS(KEVO_RESOLVE_FN)
#undef KEVO_RESOLVE_FN
  if (!missing.empty()) {
    return Status::Unavailable("the NVIDIA driver lacks entry points kevo needs (" + missing +
                               "); update the driver to one for CUDA " +
                               std::to_string(CUDA_VERSION / 1000) + "." +
                               std::to_string(CUDA_VERSION % 1000 / 10));
  }
  d->cuDriverGetVersion(&d->driver_version);
  CUresult r = d->cuInit(0);
  if (r != CUDA_SUCCESS) {
    return Status::Unavailable("the NVIDIA driver is present but no GPU could be initialised (" +
                               d->error_text(r) + ")");
  }
  d->cuDeviceGetCount(&d->device_count);
  if (d->device_count == 0) return Status::Unavailable("no GPU: the NVIDIA driver sees no device");
  return d;
}

}  // namespace

Result<const CudaDriver*> cuda_driver() {
  static std::once_flag once;
  static Result<CudaDriver*> loaded = Status::Internal("not loaded");
  std::call_once(once, [] { loaded = load(); });
  if (!loaded.ok()) return loaded.status();
  return static_cast<const CudaDriver*>(loaded.value());
}

}  // namespace kevo
