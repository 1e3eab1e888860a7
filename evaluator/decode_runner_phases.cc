// The phases of a workload run: build, accuracy (two identical calls), timing (fresh queries),
// final integrity checks. See decode_runner.h for the whole sequence.
#include <algorithm>
#include <chrono>
#include <cmath>

#include "evaluator/decode_runner_impl.h"

namespace kevo::runner_detail {

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

bool Runner::build_phase() {
  if (!plan_.build.empty()) {
    // The build sees a throwaway query and poisoned output: nothing it computes from them can
    // help a later call, whose query is fresh.
    Status st = enqueue_query(c_, d_, rng_(), q_.data);
    if (st.ok()) st = c_.poison_bf16(o_.data, o_.bytes);
    if (st.ok()) st = c_.check(drv_.cuEventRecord(b0_, c_.stream()), "cuEventRecord");
    if (!st.ok()) return driver_failed(st, "the build phase");
    if (!launch_kernels(plan_.build, nullptr, rng_())) return false;
    st = c_.check(drv_.cuEventRecord(b1_, c_.stream()), "cuEventRecord");
    if (!st.ok()) return driver_failed(st, "the build phase");
    if (!wait_for(lim_.kernel_timeout_s * double(plan_.build.size()), "the build phase", 0)) {
      return false;
    }
    float ms = 0;
    st = c_.check(drv_.cuEventElapsedTime(&ms, b0_, b1_), "cuEventElapsedTime");
    if (!st.ok()) return driver_failed(st, "the build phase");
    out_.build_us = double(ms) * 1000.0;
  }
  if (!enqueue_integrity_checks(/*kv=*/true, /*index=*/true)) return false;
  if (!wait_for(30.0, "the checks after the build phase", 0) || !read_results()) return false;
  if (!judge_integrity("build phase", true, false, 0)) return false;
  index_sum_ = u64_at(lay_.sums, 2);  // what every decode call must leave unchanged
  return true;
}

bool Runner::accuracy_phase() {
  const double t0 = now_s();
  const uint64_t q_seed = rng_(), arg_seed = rng_();
  if (!enqueue_call(0, q_seed, arg_seed, false, kRefFirst, kRefFirst)) return false;
  Status st = c_.bf16_to_f32(o_.data, first_out_.data, size_t(rows_) * s_.D);
  if (!st.ok()) return driver_failed(st, "the accuracy checks");
  if (!enqueue_call(1, q_seed, arg_seed, false, kRefFirst, kRefFirst)) return false;
  st = c_.rel_err(o_.data, first_out_.data, first_out_.data, first_out_.data, rows_, s_.D,
                  res_.data + lay_.errs + size_t(kDiffSlot) * rows_ * 16);
  if (!st.ok()) return driver_failed(st, "the accuracy checks");
  if (!enqueue_integrity_checks(true, true)) return false;
  if (!wait_for(2 * lim_.kernel_timeout_s + 5.0, "the first decode calls", 2)) return false;
  if (!read_results()) return false;
  if (!judge_integrity("decode phase", true, true, 2)) return false;
  for (int call = 0; call < 2; ++call) {
    CallErrors e = summarize_call(errs(call), rows_);
    if (call == 0) first_mean_ = e.mean_cur;
    if (auto v = judge_call(e, 0, s_.Hq, lim_.max_mean_rel_err, first_mean_)) return fail(*v);
    keep_errors(errs(call), e.mean_cur);
  }
  if (auto v = judge_determinism(summarize_call(errs(kDiffSlot), rows_), s_.Hq,
                                 lim_.determinism_tolerance)) {
    return fail(*v);
  }
  call_s_ = std::max(1e-5, (now_s() - t0) / 2);
  return true;
}

bool Runner::timing_phase() {
  // Batches of about 25 ms between synchronisations, so the host never lets the GPU idle long.
  const int batch = std::clamp(int(0.025 / call_s_), 2, kSlots);
  const size_t nk = plan_.decode.size();
  std::vector<double> decode;
  std::vector<std::vector<double>> per_kernel(nk);
  const double start = now_s();
  int calls = 0;
  SampleStats stats;
  while (true) {
    // Even slots time each kernel (events between kernels), odd slots the decode as a whole
    // (events only around it), so the decode time carries no event overhead.
    auto per_kernel_slot = [](int j) { return j % 2 == 0; };
    for (int j = 0; j < batch; ++j) {
      const int cur = last_ref_ == 0 ? 1 : 0;
      if (!enqueue_call(j, rng_(), rng_(), /*flush=*/true, cur, last_ref_, per_kernel_slot(j))) {
        return false;
      }
      last_ref_ = cur;
    }
    if (!enqueue_integrity_checks(false, false)) return false;
    const double budget = lim_.kernel_timeout_s + 10.0 * batch * call_s_ + 1.0;
    if (!wait_for(
            budget,
            "decode calls " + std::to_string(calls + 2) + ".." + std::to_string(calls + batch + 1),
            batch)) {
      return false;
    }
    if (!read_results()) return false;
    if (!judge_integrity("decode phase", false, false, batch)) return false;
    for (int j = 0; j < batch; ++j) {
      CallErrors e = summarize_call(errs(j), rows_);
      if (auto v = judge_call(e, calls + j + 2, s_.Hq, lim_.max_mean_rel_err, first_mean_)) {
        return fail(*v);
      }
      keep_errors(errs(j), e.mean_cur);
      if (calls + j < lim_.warmup_iterations) continue;
      float ms = 0;
      Status st = Status::Ok();
      if (!per_kernel_slot(j) || nk == 1) {  // one kernel: no event between kernels in any slot
        st = c_.check(drv_.cuEventElapsedTime(&ms, event(j, 0), event(j, int(nk))),
                      "cuEventElapsedTime");
        decode.push_back(double(ms) * 1000.0);
      }
      for (size_t i = 0; i < nk && st.ok() && per_kernel_slot(j); ++i) {
        st = c_.check(drv_.cuEventElapsedTime(&ms, event(j, int(i)), event(j, int(i) + 1)),
                      "cuEventElapsedTime");
        per_kernel[i].push_back(double(ms) * 1000.0);
      }
      if (!st.ok()) return driver_failed(st, "reading the timings");
    }
    calls += batch;
    stats = summarize(decode);
    if (should_stop(stats, now_s() - start, lim_.stop)) break;
  }
  out_.decode_us = stats.median;
  out_.spread = stats.spread;
  out_.timed_calls = stats.count;
  for (auto& k : per_kernel) out_.kernel_us.push_back(summarize(k).median);
  // k, v and index once more, after every call.
  if (!enqueue_integrity_checks(true, true)) return false;
  if (!wait_for(30.0, "the final checks", 0) || !read_results()) return false;
  return judge_integrity("decode phase", true, true, 0);
}

RunOutcome Runner::run() {
  if (setup() && build_phase() && accuracy_phase() && timing_phase()) {
    if (out_.decode_us < lim_.floor_us) {
      char buf[200];
      std::snprintf(buf, sizeof(buf),
                    "the decode phase measured %.3g us, below the physical floor of %.3g us "
                    "(half an empty kernel launch on this GPU plus moving q and o): the timing "
                    "cannot be right",
                    out_.decode_us, lim_.floor_us);
      fail(EvalStatus::kCheatDetected, buf);
    }
  }
  return out_;
}

}  // namespace kevo::runner_detail

namespace kevo {

RunOutcome run_workload(GpuContext& c, WorkloadData& d, const RunPlan& plan, const RunLimits& lim) {
  runner_detail::Runner r(c, d, plan, lim);
  return r.run();
}

}  // namespace kevo
