// The counter passes of a workload run (issue 20): one decode call, replayed once per CUPTI pass,
// after the build phase. Kept apart from the timed phases: nothing here is timed, and a profiler
// that is missing or refused leaves the evaluation as it was.
#include "evaluator/counters.h"
#include "evaluator/cupti_profiler.h"
#include "evaluator/decode_runner_impl.h"

namespace kevo::runner_detail {

bool Runner::counters_phase(CounterProfiler& prof, CountersOutcome& co) {
  // Every pass must do the same work, or each group of counters would describe another call:
  // the same query, call seed and workspace garbage each time, and an L2 without dirty lines
  // (their write-back would be counted as the kernel's DRAM writes).
  const uint64_t q_seed = rng_(), arg_seed = rng_(), ws_seed = rng_();
  const size_t nk = plan_.decode.size();
  auto prepare = [&]() -> bool {
    Status st = enqueue_query(c_, d_, q_seed, q_.data);
    if (st.ok()) st = c_.poison_bf16(o_.data, o_.bytes);
    if (st.ok()) st = c_.garbage(ws_.data, ws_.bytes, ws_seed);
    if (st.ok()) st = c_.evict_l2_clean();
    if (!st.ok()) return driver_failed(st, "the preparation of a counter pass");
    return wait_for(30.0, "the preparation of a counter pass", 0);
  };
  auto launch = [&]() -> bool {
    args_.seed = arg_seed;
    for (const PlanKernel& k : plan_.decode) {
      if (!launch_kernel(k)) return false;
    }
    return wait_for(lim_.kernel_timeout_s * double(nk) + 1.0, "a decode call under the profiler",
                    0);
  };
  auto values = prof.profile(int(nk), prepare, launch, &co.passes);
  if (out_.status != EvalStatus::kOk) return false;  // the candidate failed; out_ says how
  if (!values.ok()) {
    co.unavailable = values.status().message();
  } else {
    for (size_t i = 0; i < nk; ++i) {
      const PlanKernel& k = plan_.decode[i];
      const ResolvedLaunch& l = k.launch;
      const int threads = int(l.block[0] * l.block[1] * l.block[2]);
      int blocks = 0;
      double theoretical = 0;
      if (drv_.cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, k.fn, threads, l.smem) ==
          CUDA_SUCCESS) {
        theoretical = double(blocks) * ((threads + 31) / 32);
      }
      KernelCounters kc = counters_from_values((*values)[i], c_.info().copy_gbps, theoretical);
      set_grid_fill(kc, (long long)l.grid[0] * l.grid[1] * l.grid[2], blocks, c_.info().sm_count);
      co.kernels.push_back(std::move(kc));
    }
  }
  // Replays are calls like any other: they may not write the inputs or outside their buffers.
  if (!enqueue_integrity_checks(/*kv=*/true, /*index=*/true)) return false;
  if (!wait_for(30.0, "the checks after the counter passes", 0) || !read_results()) return false;
  return judge_integrity("counter passes", true, true, 0);
}

CountersOutcome Runner::run_counters(CounterProfiler& prof) {
  CountersOutcome co;
  if (setup() && build_phase() && counters_phase(prof, co)) return co;
  co.status = out_.status;
  co.message = out_.message;
  co.inputs_modified = out_.inputs_modified;
  co.kernels.clear();
  return co;
}

}  // namespace kevo::runner_detail

namespace kevo {

CountersOutcome profile_workload(GpuContext& c, WorkloadData& d, const RunPlan& plan,
                                 const RunLimits& lim, CounterProfiler& prof) {
  runner_detail::Runner r(c, d, plan, lim);
  return r.run_counters(prof);
}

}  // namespace kevo
