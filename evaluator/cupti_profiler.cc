#include "evaluator/cupti_profiler.h"

#include <cupti_profiler_host.h>
#include <cupti_profiler_target.h>
#include <cupti_range_profiler.h>
#include <cupti_result.h>
#include <cupti_target.h>
#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>

namespace kevo {
namespace {

// Every CUPTI entry point kevo uses; types from CUPTI's own prototypes.
#define KEVO_CUPTI_FUNCTIONS(X)                                                                   \
  X(cuptiGetResultString)                                                                         \
  X(cuptiProfilerInitialize) X(cuptiDeviceGetChipName) X(cuptiProfilerGetCounterAvailability)     \
      X(cuptiProfilerHostInitialize) X(cuptiProfilerHostDeinitialize)                             \
          X(cuptiProfilerHostConfigAddMetrics) X(cuptiProfilerHostGetConfigImageSize)             \
              X(cuptiProfilerHostGetConfigImage) X(cuptiProfilerHostGetNumOfPasses)               \
                  X(cuptiProfilerHostGetMetricProperties) X(cuptiProfilerHostEvaluateToGpuValues) \
                      X(cuptiRangeProfilerEnable) X(cuptiRangeProfilerDisable)                    \
                          X(cuptiRangeProfilerGetCounterDataSize)                                 \
                              X(cuptiRangeProfilerCounterDataImageInitialize)                     \
                                  X(cuptiRangeProfilerSetConfig) X(cuptiRangeProfilerStart)       \
                                      X(cuptiRangeProfilerStop) X(cuptiRangeProfilerDecodeData)   \
                                          X(cuptiRangeProfilerGetCounterDataInfo)

struct Cupti {
#define KEVO_DECLARE_FN(name) decltype(&::name) name = nullptr;
  KEVO_CUPTI_FUNCTIONS(KEVO_DECLARE_FN)
#undef KEVO_DECLARE_FN
  std::string path;
};

constexpr int kSoVersion = CUDA_VERSION / 1000;  // libcupti.so.13 for CUDA 13

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// Where toolkits put CUPTI first (so its libnvperf_* neighbours can be loaded from the same
// folder, see load()), then whatever the loader finds (LD_LIBRARY_PATH, the ld cache).
std::vector<std::string> candidates() {
  const std::string so = "libcupti.so." + std::to_string(kSoVersion);
  std::vector<std::string> roots, out;
  for (const char* var : {"CUDA_HOME", "CUDA_PATH"}) {
    if (const char* v = std::getenv(var); v && *v) roots.push_back(v);
  }
  roots.push_back("/usr/local/cuda");
  roots.push_back("/usr/local/cuda-" + std::to_string(kSoVersion));
  for (const auto& r : roots) {
    for (const char* sub : {"/extras/CUPTI/lib64/", "/lib64/", "/targets/x86_64-linux/lib/"}) {
      out.push_back(r + sub + so);
    }
  }
  out.push_back(so);
  return out;
}

Result<Cupti*> load() {
  void* lib = nullptr;
  for (const std::string& c : candidates()) {
    const bool path = c.find('/') != std::string::npos;
    if (path && access(c.c_str(), F_OK) != 0) continue;
    // CUPTI opens libnvperf_host.so and libnvperf_target.so by name. Where its folder is not on
    // the loader's path (extras/CUPTI/lib64), loading them first from that folder makes those
    // lookups find the already loaded copies.
    if (path) {
      for (const char* dep : {"/libnvperf_host.so", "/libnvperf_target.so"}) {
        dlopen((dir_of(c) + dep).c_str(), RTLD_NOW | RTLD_LOCAL);
      }
    }
    lib = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib) break;
  }
  if (!lib) {
    return Status::Unavailable(
        "CUPTI (libcupti.so." + std::to_string(kSoVersion) +
        ") not found in the CUDA toolkit (/usr/local/cuda/extras/CUPTI/lib64, "
        "/usr/local/cuda/lib64, $CUDA_HOME) nor on the loader's path");
  }
  auto* c = new Cupti();  // intentionally never freed: lives for the process, like the driver
  std::string missing;
#define KEVO_RESOLVE_FN(name)                                       \
  c->name = reinterpret_cast<decltype(c->name)>(dlsym(lib, #name)); \
  if (!c->name) missing += std::string(missing.empty() ? "" : ", ") + #name;
  KEVO_CUPTI_FUNCTIONS(KEVO_RESOLVE_FN)
#undef KEVO_RESOLVE_FN
  Dl_info info{};
  c->path = c->cuptiRangeProfilerEnable &&
                    dladdr(reinterpret_cast<void*>(c->cuptiRangeProfilerEnable), &info) &&
                    info.dli_fname
                ? info.dli_fname
                : "libcupti";
  if (!missing.empty()) {
    return Status::Unavailable("CUPTI at " + c->path + " lacks the range profiler (" + missing +
                               "): it needs CUDA 12.6 or later");
  }
  return c;
}

Result<const Cupti*> cupti() {
  static std::once_flag once;
  static Result<Cupti*> loaded = Status::Internal("not loaded");
  std::call_once(once, [] { loaded = load(); });
  if (!loaded.ok()) return loaded.status();
  return static_cast<const Cupti*>(loaded.value());
}

Status cupti_status(const Cupti& c, CUptiResult r, const char* what) {
  if (r == CUPTI_SUCCESS) return Status::Ok();
  const char* name = nullptr;
  c.cuptiGetResultString(r, &name);
  std::string text =
      std::string(what) + ": " + (name ? name : "CUPTI error " + std::to_string(int(r)));
  if (r == CUPTI_ERROR_INSUFFICIENT_PRIVILEGES ||
      r == CUPTI_ERROR_VIRTUALIZED_DEVICE_INSUFFICIENT_PRIVILEGES) {
    text +=
        " (no permission to read GPU performance counters, ERR_NVGPUCTRPERM: run as root or "
        "load the driver with NVreg_RestrictProfilingToAdminUsers=0)";
  }
  return Status::Unavailable(text);
}

#define KEVO_CUPTI(c, fn, params) KEVO_RETURN_IF_ERROR(cupti_status((c), (c).fn(&(params)), #fn))

// Process-wide: CUPTI's profiler is initialised once and stays so.
Status initialize_profiler(const Cupti& c) {
  static std::once_flag once;
  static Status st = Status::Ok();
  std::call_once(once, [&] {
    CUpti_Profiler_Initialize_Params p{CUpti_Profiler_Initialize_Params_STRUCT_SIZE};
    st = cupti_status(c, c.cuptiProfilerInitialize(&p), "cuptiProfilerInitialize");
  });
  return st;
}

}  // namespace

struct CounterProfiler::Impl {
  const Cupti* c = nullptr;
  CUcontext ctx = nullptr;
  CUpti_Profiler_Host_Object* host = nullptr;
  std::vector<uint8_t> config;
  std::vector<std::string> names;    // create()'s list
  std::vector<const char*> present;  // the ones this chip has
  std::vector<int> slot;             // index in `names` of each of `present`

  ~Impl() {
    if (host) {
      CUpti_Profiler_Host_Deinitialize_Params p{
          CUpti_Profiler_Host_Deinitialize_Params_STRUCT_SIZE};
      p.pHostObject = host;
      c->cuptiProfilerHostDeinitialize(&p);
    }
  }
};

Result<std::string> cupti_library() {
  KEVO_ASSIGN_OR_RETURN(const Cupti* c, cupti());
  return c->path;
}

Result<std::unique_ptr<CounterProfiler>> CounterProfiler::create(
    CUcontext ctx, int device, const std::vector<std::string>& metrics) {
  KEVO_ASSIGN_OR_RETURN(const Cupti* cp, cupti());
  const Cupti& c = *cp;
  KEVO_RETURN_IF_ERROR(initialize_profiler(c));
  std::unique_ptr<CounterProfiler> prof(new CounterProfiler());
  prof->impl_ = std::make_unique<Impl>();
  Impl& m = *prof->impl_;
  m.c = cp;
  m.ctx = ctx;
  m.names = metrics;

  CUpti_Device_GetChipName_Params chip{CUpti_Device_GetChipName_Params_STRUCT_SIZE};
  chip.deviceIndex = size_t(device);
  KEVO_CUPTI(c, cuptiDeviceGetChipName, chip);
  CUpti_Profiler_GetCounterAvailability_Params avail{
      CUpti_Profiler_GetCounterAvailability_Params_STRUCT_SIZE};
  avail.ctx = ctx;
  KEVO_CUPTI(c, cuptiProfilerGetCounterAvailability, avail);
  std::vector<uint8_t> image(avail.counterAvailabilityImageSize);
  avail.pCounterAvailabilityImage = image.data();
  KEVO_CUPTI(c, cuptiProfilerGetCounterAvailability, avail);

  CUpti_Profiler_Host_Initialize_Params host{CUpti_Profiler_Host_Initialize_Params_STRUCT_SIZE};
  host.profilerType = CUPTI_PROFILER_TYPE_RANGE_PROFILER;
  host.pChipName = chip.pChipName;
  host.pCounterAvailabilityImage = image.data();
  KEVO_CUPTI(c, cuptiProfilerHostInitialize, host);
  m.host = host.pHostObject;

  for (size_t i = 0; i < m.names.size(); ++i) {
    CUpti_Profiler_Host_GetMetricProperties_Params p{
        CUpti_Profiler_Host_GetMetricProperties_Params_STRUCT_SIZE};
    p.pHostObject = m.host;
    p.pMetricName = m.names[i].c_str();
    if (c.cuptiProfilerHostGetMetricProperties(&p) == CUPTI_SUCCESS) {
      m.present.push_back(m.names[i].c_str());
      m.slot.push_back(int(i));
    } else {
      prof->missing_.push_back(m.names[i]);
    }
  }
  if (m.present.empty()) {
    return Status::Unavailable(std::string("CUPTI knows none of kevo's metrics on chip ") +
                               chip.pChipName);
  }
  // All metrics in one call: CUPTI then packs counters that can share a pass (7 passes on
  // Hopper instead of one per metric).
  CUpti_Profiler_Host_ConfigAddMetrics_Params add{
      CUpti_Profiler_Host_ConfigAddMetrics_Params_STRUCT_SIZE};
  add.pHostObject = m.host;
  add.ppMetricNames = m.present.data();
  add.numMetrics = m.present.size();
  KEVO_CUPTI(c, cuptiProfilerHostConfigAddMetrics, add);
  CUpti_Profiler_Host_GetConfigImageSize_Params size{
      CUpti_Profiler_Host_GetConfigImageSize_Params_STRUCT_SIZE};
  size.pHostObject = m.host;
  KEVO_CUPTI(c, cuptiProfilerHostGetConfigImageSize, size);
  m.config.resize(size.configImageSize);
  CUpti_Profiler_Host_GetConfigImage_Params get{
      CUpti_Profiler_Host_GetConfigImage_Params_STRUCT_SIZE};
  get.pHostObject = m.host;
  get.configImageSize = m.config.size();
  get.pConfigImage = m.config.data();
  KEVO_CUPTI(c, cuptiProfilerHostGetConfigImage, get);
  CUpti_Profiler_Host_GetNumOfPasses_Params np{
      CUpti_Profiler_Host_GetNumOfPasses_Params_STRUCT_SIZE};
  np.configImageSize = m.config.size();
  np.pConfigImage = m.config.data();
  KEVO_CUPTI(c, cuptiProfilerHostGetNumOfPasses, np);
  prof->passes_ = int(np.numOfPasses);
  return prof;
}

CounterProfiler::~CounterProfiler() = default;

Result<std::vector<std::vector<double>>> CounterProfiler::profile(
    int launches, const std::function<bool()>& prepare, const std::function<bool()>& launch,
    int* passes_run) {
  Impl& m = *impl_;
  const Cupti& c = *m.c;
  CUpti_RangeProfiler_Enable_Params en{CUpti_RangeProfiler_Enable_Params_STRUCT_SIZE};
  en.ctx = m.ctx;
  KEVO_CUPTI(c, cuptiRangeProfilerEnable, en);
  CUpti_RangeProfiler_Object* obj = en.pRangeProfilerObject;
  // Disabled on every way out: a context left in profiling mode would slow every later launch.
  struct Disable {
    const Cupti& c;
    CUpti_RangeProfiler_Object* obj;
    ~Disable() {
      CUpti_RangeProfiler_Disable_Params p{CUpti_RangeProfiler_Disable_Params_STRUCT_SIZE};
      p.pRangeProfilerObject = obj;
      c.cuptiRangeProfilerDisable(&p);
    }
  } disable{c, obj};

  CUpti_RangeProfiler_GetCounterDataSize_Params ds{
      CUpti_RangeProfiler_GetCounterDataSize_Params_STRUCT_SIZE};
  ds.pRangeProfilerObject = obj;
  ds.pMetricNames = m.present.data();
  ds.numMetrics = m.present.size();
  ds.maxNumOfRanges = size_t(launches);
  ds.maxNumRangeTreeNodes = uint32_t(launches);
  KEVO_CUPTI(c, cuptiRangeProfilerGetCounterDataSize, ds);
  std::vector<uint8_t> data(ds.counterDataSize);
  CUpti_RangeProfiler_CounterDataImage_Initialize_Params init{
      CUpti_RangeProfiler_CounterDataImage_Initialize_Params_STRUCT_SIZE};
  init.pRangeProfilerObject = obj;
  init.counterDataSize = data.size();
  init.pCounterData = data.data();
  KEVO_CUPTI(c, cuptiRangeProfilerCounterDataImageInitialize, init);

  CUpti_RangeProfiler_SetConfig_Params sc{CUpti_RangeProfiler_SetConfig_Params_STRUCT_SIZE};
  sc.pRangeProfilerObject = obj;
  sc.configSize = m.config.size();
  sc.pConfig = m.config.data();
  sc.counterDataImageSize = data.size();
  sc.pCounterDataImage = data.data();
  sc.range = CUPTI_AutoRange;
  // KEVO_COUNTERS_REPLAY=kernel (a diagnostic, for a driver where user replay misbehaves):
  // CUPTI replays each kernel itself, saving and restoring memory; prepare() then runs once.
  const char* replay = std::getenv("KEVO_COUNTERS_REPLAY");
  sc.replayMode = replay && std::string(replay) == "kernel" ? CUPTI_KernelReplay : CUPTI_UserReplay;
  sc.maxRangesPerPass = size_t(launches);
  sc.numNestingLevels = 1;
  sc.minNestingLevel = 1;
  sc.passIndex = 0;
  sc.targetNestingLevel = 1;
  KEVO_CUPTI(c, cuptiRangeProfilerSetConfig, sc);

  // CUPTI says when it has every pass; the bound only guards against a CUPTI that never does.
  const int max_passes = passes_ + 8;
  int pass = 0;
  for (bool all = false; !all; ++pass) {
    if (pass == max_passes) {
      return Status::Unavailable("CUPTI still wanted passes after " + std::to_string(pass));
    }
    if (!prepare()) return Status::Cancelled("the work to profile failed");
    CUpti_RangeProfiler_Start_Params start{CUpti_RangeProfiler_Start_Params_STRUCT_SIZE};
    start.pRangeProfilerObject = obj;
    KEVO_CUPTI(c, cuptiRangeProfilerStart, start);
    const bool launched = launch();
    CUpti_RangeProfiler_Stop_Params stop{CUpti_RangeProfiler_Stop_Params_STRUCT_SIZE};
    stop.pRangeProfilerObject = obj;
    Status st = cupti_status(c, c.cuptiRangeProfilerStop(&stop), "cuptiRangeProfilerStop");
    if (!launched) return Status::Cancelled("the work to profile failed");
    KEVO_RETURN_IF_ERROR(st);
    all = stop.isAllPassSubmitted != 0;
  }
  if (passes_run) *passes_run = pass;

  CUpti_RangeProfiler_DecodeData_Params dec{CUpti_RangeProfiler_DecodeData_Params_STRUCT_SIZE};
  dec.pRangeProfilerObject = obj;
  KEVO_CUPTI(c, cuptiRangeProfilerDecodeData, dec);
  CUpti_RangeProfiler_GetCounterDataInfo_Params info{
      CUpti_RangeProfiler_GetCounterDataInfo_Params_STRUCT_SIZE};
  info.pCounterDataImage = data.data();
  info.counterDataImageSize = data.size();
  KEVO_CUPTI(c, cuptiRangeProfilerGetCounterDataInfo, info);
  if (info.numTotalRanges != size_t(launches) || dec.numOfRangeDropped != 0) {
    return Status::Unavailable("CUPTI recorded " + std::to_string(info.numTotalRanges) +
                               " kernel ranges (" + std::to_string(dec.numOfRangeDropped) +
                               " dropped) for " + std::to_string(launches) + " launches");
  }
  std::vector<std::vector<double>> out(size_t(launches), std::vector<double>(m.names.size(), 0.0));
  std::vector<double> values(m.present.size());
  for (int r = 0; r < launches; ++r) {
    CUpti_Profiler_Host_EvaluateToGpuValues_Params ev{
        CUpti_Profiler_Host_EvaluateToGpuValues_Params_STRUCT_SIZE};
    ev.pHostObject = m.host;
    ev.pCounterDataImage = data.data();
    ev.counterDataImageSize = data.size();
    ev.rangeIndex = size_t(r);
    ev.ppMetricNames = m.present.data();
    ev.numMetrics = m.present.size();
    ev.pMetricValues = values.data();
    KEVO_CUPTI(c, cuptiProfilerHostEvaluateToGpuValues, ev);
    for (size_t i = 0; i < values.size(); ++i) out[size_t(r)][size_t(m.slot[i])] = values[i];
  }
  return out;
}

}  // namespace kevo
