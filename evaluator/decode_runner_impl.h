// Private to decode_runner*.cc: the state of one workload run and its steps.
#pragma once

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "evaluator/args.h"
#include "evaluator/decode_runner.h"
#include "evaluator/run_checks.h"

namespace kevo::runner_detail {

constexpr int kSlots = 16;    // calls per batch: result slots and event sets
constexpr int kDiffSlot = 2;  // accuracy phase: slot 0 call A, 1 call B, 2 = B compared with A
constexpr int kRefFirst = 2;  // reference buffers 0 and 1 alternate; 2 is the first call's

// Where the checks write on the GPU: per-slot row errors and q checksums, checksums of k, v and
// index, guard-band results.
struct Layout {
  size_t errs = 0, qsum, sums, gbad, gfirst, total;
  explicit Layout(int rows) {
    qsum = (size_t(kSlots) * rows * 4 * sizeof(float) + 255) / 256 * 256;
    sums = qsum + kSlots * 2 * sizeof(uint64_t);
    gbad = sums + 4 * sizeof(uint64_t);
    gfirst = gbad + 16 * sizeof(uint32_t);
    total = gfirst + 16 * sizeof(uint64_t);
  }
};

class Runner {
 public:
  Runner(GpuContext& c, WorkloadData& d, const RunPlan& p, const RunLimits& l)
      : c_(c),
        drv_(c.drv()),
        d_(d),
        plan_(p),
        lim_(l),
        s_(d.spec.shape),
        rows_(s_.B * s_.Hq),
        lay_(rows_),
        rng_(std::random_device{}()) {}
  ~Runner();
  RunOutcome run();
  // Build phase, then the counter passes of one decode call (decode_runner_counters.cc).
  CountersOutcome run_counters(CounterProfiler& prof);

 private:
  bool fail(EvalStatus st, std::string msg) {
    out_.status = st;
    out_.message = std::move(msg);
    return false;
  }
  bool fail(const Failure& v) { return fail(v.status, v.message); }
  bool driver_failed(const Status& st, const std::string& during) {
    if (c_.poisoned()) return fail(EvalStatus::kCrash, crash_text(st.message(), during));
    return fail(EvalStatus::kCrash, "evaluator failure during " + during + ": " + st.message());
  }
  std::string crash_text(const std::string& err, const std::string& during) const;
  bool setup();
  // every_kernel: record evs[i + 1] after every kernel (per-kernel times), else only after the
  // last (the decode time: an event between kernels adds ~1 us per boundary on the H100, which a
  // caller's stream does not pay).
  bool launch_kernels(const std::vector<PlanKernel>& ks, CUevent* evs, uint64_t seed,
                      bool every_kernel = true);
  // With args_ as they are; after_decode_kernel: the kernel before it in the stream is a decode
  // kernel of the same call (a plan line's pdl applies only then).
  bool launch_kernel(const PlanKernel& k, bool after_decode_kernel = false);
  bool enqueue_call(int slot, uint64_t q_seed, uint64_t arg_seed, bool flush, int ref_cur,
                    int ref_prev, bool every_kernel = true);
  bool enqueue_integrity_checks(bool kv, bool index);
  bool wait_for(double timeout_s, const std::string& what, int slots);
  bool read_results();
  bool judge_integrity(const std::string& phase, bool kv, bool index, int q_slots);
  const float* errs(int slot) const {
    return reinterpret_cast<const float*>(host_.data() + lay_.errs) + size_t(slot) * rows_ * 4;
  }
  uint64_t u64_at(size_t off, int i) const {
    uint64_t x;
    std::memcpy(&x, host_.data() + off + 8 * i, 8);
    return x;
  }
  void keep_errors(const float* e, double call_mean) {
    out_.worst_call_mean = std::max(out_.worst_call_mean, call_mean);
    for (int r = 0; r < rows_; ++r) {
      if (e[4 * r + 3] == 0 && std::isfinite(e[4 * r])) out_.row_errors.push_back(e[4 * r]);
    }
  }
  CUevent event(int slot, int i) { return ev_[size_t(slot) * (plan_.decode.size() + 1) + i]; }
  bool build_phase();
  bool accuracy_phase();
  bool timing_phase();
  bool counters_phase(CounterProfiler& prof, CountersOutcome& co);

  GpuContext& c_;
  const CudaDriver& drv_;
  WorkloadData& d_;
  const RunPlan& plan_;
  const RunLimits& lim_;
  const Shape s_;
  const int rows_;
  Layout lay_;
  std::mt19937_64 rng_;
  GuardedBuffer q_, o_, index_, ws_, refs_, first_out_, part_, res_;
  std::vector<CUevent> ev_;
  CUevent b0_ = nullptr, b1_ = nullptr;
  HostArgs args_{};
  std::vector<uint8_t> host_;
  uint64_t index_sum_ = 0;
  double first_mean_ = 0, call_s_ = 0.001;
  int last_ref_ = kRefFirst;
  RunOutcome out_;
};

}  // namespace kevo::runner_detail
