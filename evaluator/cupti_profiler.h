// CUPTI's range profiler (CUDA 12.6+), loaded at run time like the driver: kevo never links
// libcupti, so it starts where there is none, and a machine without CUPTI or without permission
// to read GPU counters gets results without counters, never a failure. Private to the
// evaluator (the GPU session, `kevo doctor` through counters_probe.cc, tests).
//
// Replay is the user's (CUPTI_UserReplay): the hardware reads only a few counters at a time, so
// the same launches run once per pass. Before each pass the caller restores what the launches
// read (same query, same seeds, L2 emptied); each kernel launch between start and stop is one
// range (CUPTI_AutoRange), so ranges are kernels whatever stream they run on.
#pragma once

#include <cuda.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace kevo {

// Where libcupti was found ("/usr/local/cuda/extras/CUPTI/lib64/libcupti.so.13"), or
// Unavailable saying why not. Loads it on first use; thread-safe.
Result<std::string> cupti_library();

// Not thread-safe: one per GPU session, used on the thread that owns the context.
class CounterProfiler {
 public:
  // Initialises CUPTI's profiler for `ctx` (current on this thread) on CUDA device `device` and
  // builds the configuration for `metrics`; metrics this chip does not have are left out (their
  // values read 0). Unavailable (one line) without CUPTI, on a GPU or driver that cannot be
  // profiled, or without permission to read counters (ERR_NVGPUCTRPERM).
  static Result<std::unique_ptr<CounterProfiler>> create(CUcontext ctx, int device,
                                                         const std::vector<std::string>& metrics);
  ~CounterProfiler();
  CounterProfiler(const CounterProfiler&) = delete;
  CounterProfiler& operator=(const CounterProfiler&) = delete;

  // Passes the configuration needs (CUPTI's own count; profile() stops when CUPTI says so).
  int passes() const { return passes_; }
  // Metrics of create()'s list this chip lacks (their values are 0).
  const std::vector<std::string>& missing() const { return missing_; }

  // Runs passes until CUPTI has all of them. Each pass: prepare() (outside any range), then the
  // profiler starts, launch() enqueues exactly `launches` kernel launches and waits for them, and
  // the profiler stops. prepare/launch return false when the work itself failed (the caller
  // recorded why): the result is then Cancelled. CUPTI's own failures are Unavailable.
  // On success: values[launch][metric], metrics in create()'s order; `passes_run` (if given)
  // gets the number of passes.
  Result<std::vector<std::vector<double>>> profile(int launches,
                                                   const std::function<bool()>& prepare,
                                                   const std::function<bool()>& launch,
                                                   int* passes_run = nullptr);

  struct Impl;

 private:
  CounterProfiler() = default;
  std::unique_ptr<Impl> impl_;
  int passes_ = 0;
  std::vector<std::string> missing_;
};

}  // namespace kevo
