#include <algorithm>
#include <cmath>
#include <cstdio>

#include "evaluator/decode_runner_impl.h"

namespace kevo::runner_detail {

namespace {
std::string dims(const unsigned d[3]) {
  return std::to_string(d[0]) + "x" + std::to_string(d[1]) + "x" + std::to_string(d[2]);
}
}  // namespace

Runner::~Runner() {
  if (c_.poisoned()) return;  // never block on a lost context; the process ends soon
  drv_.cuStreamSynchronize(c_.stream());
  for (CUevent e : ev_) drv_.cuEventDestroy(e);
  if (b0_) drv_.cuEventDestroy(b0_);
  if (b1_) drv_.cuEventDestroy(b1_);
  for (GuardedBuffer* b : {&q_, &o_, &index_, &ws_, &refs_, &first_out_, &part_, &res_}) c_.free(*b);
}

std::string Runner::crash_text(const std::string& err, const std::string& during) const {
  std::string names;
  for (const auto* ks : {&plan_.build, &plan_.decode}) {
    for (const auto& k : *ks) names += (names.empty() ? "" : ", ") + k.name;
  }
  return "a CUDA error stopped the GPU during " + during + ": " + err +
         ". One of the kernels (" + names + ") accessed memory out of bounds (far outside the "
         "buffers), made a misaligned vector access or trapped. The GPU context is lost.";
}

bool Runner::setup() {
  const size_t qo = size_t(rows_) * s_.D * 2, f32 = size_t(rows_) * s_.D * 4;
  struct Want {
    GuardedBuffer* b;
    const char* name;
    size_t bytes;
  } want[] = {{&q_, "q", qo}, {&o_, "o", qo},
              {&index_, "index", size_t(plan_.index_bytes)},
              {&ws_, "workspace", size_t(plan_.workspace_bytes)},
              {&refs_, "references", 3 * f32}, {&first_out_, "first output", f32},
              {&part_, "reference partials", GpuContext::reference_part_bytes(s_)},
              {&res_, "check results", lay_.total}};
  for (auto& w : want) {
    auto b = c_.alloc(w.name, w.bytes);
    if (!b.ok()) {
      if (c_.poisoned()) return driver_failed(b.status(), "allocation");
      return fail(EvalStatus::kInvalidPlan, "the plan's buffers do not fit in GPU memory: " +
                                                b.status().message());
    }
    *w.b = *b;
  }
  const size_t nev = size_t(kSlots) * (plan_.decode.size() + 1);
  ev_.resize(nev, nullptr);
  for (auto& e : ev_) {
    Status st = c_.check(drv_.cuEventCreate(&e, CU_EVENT_DEFAULT), "cuEventCreate");
    if (!st.ok()) return driver_failed(st, "setup");
  }
  Status st = c_.check(drv_.cuEventCreate(&b0_, CU_EVENT_DEFAULT), "cuEventCreate");
  if (st.ok()) st = c_.check(drv_.cuEventCreate(&b1_, CU_EVENT_DEFAULT), "cuEventCreate");
  args_ = HostArgs{q_.data, d_.k.data, d_.v.data, o_.data, index_.data, ws_.data,
                   s_.B, s_.Hq, s_.Hkv, s_.N, s_.D, float(1.0 / std::sqrt(double(s_.D))), 0,
                   plan_.index_bytes, plan_.workspace_bytes};
  host_.resize(lay_.total);
  if (st.ok()) st = c_.set_guards({&q_, &o_, &index_, &ws_, &d_.k, &d_.v});
  if (st.ok()) st = c_.fill_guards();
  if (st.ok()) st = c_.garbage(index_.data, index_.bytes, rng_());
  if (st.ok()) st = c_.garbage(ws_.data, ws_.bytes, rng_());
  if (st.ok()) st = c_.wait(30.0);
  if (!st.ok()) return driver_failed(st, "setup");
  return true;
}

bool Runner::launch_kernel(const PlanKernel& k, bool after_decode_kernel) {
  void* params[] = {&args_};
  const ResolvedLaunch& l = k.launch;
  const unsigned threads = l.block[0] * l.block[1] * l.block[2];
  const std::string what = "kernel '" + k.name + "' (grid " + dims(l.grid) + ", block " +
                           dims(l.block) + ", " + std::to_string(l.smem) + " B dynamic smem)";
  if (int(threads) > k.max_threads) {
    return fail(EvalStatus::kLaunchError,
                what + " cannot launch: it uses " + std::to_string(k.registers) +
                    " registers per thread, so a block may have at most " +
                    std::to_string(k.max_threads) + " threads");
  }
  CUresult r;
  if (l.pdl && after_decode_kernel) {
    // Programmatic dependent launch: this grid may start once every block of the kernel before
    // it has run kevo::launch_dependents() (or exited); kevo::wait_prior_kernels() in it waits
    // for that kernel's completion and memory. Only after a decode kernel of the same call: the
    // checks and the L2 flush before a call's first kernel stay ordinary stream dependencies.
    CUlaunchAttribute attr{};
    attr.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    attr.value.programmaticStreamSerializationAllowed = 1;
    CUlaunchConfig cfg{};
    cfg.gridDimX = l.grid[0], cfg.gridDimY = l.grid[1], cfg.gridDimZ = l.grid[2];
    cfg.blockDimX = l.block[0], cfg.blockDimY = l.block[1], cfg.blockDimZ = l.block[2];
    cfg.sharedMemBytes = l.smem;
    cfg.hStream = c_.stream();
    cfg.attrs = &attr;
    cfg.numAttrs = 1;
    r = drv_.cuLaunchKernelEx(&cfg, k.fn, params, nullptr);
  } else {
    r = drv_.cuLaunchKernel(k.fn, l.grid[0], l.grid[1], l.grid[2], l.block[0], l.block[1],
                            l.block[2], l.smem, c_.stream(), params, nullptr);
  }
  if (r != CUDA_SUCCESS) {
    Status st = c_.check(r, "cuLaunchKernel");
    if (c_.poisoned()) return driver_failed(st, "the launch of " + what);
    return fail(EvalStatus::kLaunchError, what +
                                              " was refused by the driver: " + drv_.error_text(r) +
                                              " (" + std::to_string(k.registers) + " registers, " +
                                              std::to_string(k.static_smem) + " B static smem)");
  }
  return true;
}

bool Runner::launch_kernels(const std::vector<PlanKernel>& ks, CUevent* evs, uint64_t seed,
                            bool every_kernel) {
  args_.seed = seed;
  for (size_t i = 0; i < ks.size(); ++i) {
    if (!launch_kernel(ks[i], i > 0 && ks[i - 1].launch.phase == Phase::kDecode)) return false;
    if (evs && (every_kernel || i + 1 == ks.size())) {
      Status st = c_.check(drv_.cuEventRecord(evs[i + 1], c_.stream()), "cuEventRecord");
      if (!st.ok()) return driver_failed(st, "timing");
    }
  }
  return true;
}

bool Runner::enqueue_call(int slot, uint64_t q_seed, uint64_t arg_seed, bool flush, int ref_cur,
                          int ref_prev, bool every_kernel) {
  const size_t ref_bytes = size_t(rows_) * s_.D * 4;
  auto ref = [&](int i) { return refs_.data + i * ref_bytes; };
  const CUdeviceptr qsum = res_.data + lay_.qsum + size_t(slot) * 16;
  Status st = enqueue_query(c_, d_, q_seed, q_.data);
  // The reference comes first, from the pristine query: a kernel that rewrites q cannot
  // move the target.
  if (st.ok()) st = c_.reference(q_.data, d_.k.data, d_.v.data, s_, part_.data, ref(ref_cur));
  if (st.ok()) st = c_.check(drv_.cuMemsetD8Async(qsum, 0, 16, c_.stream()), "cuMemsetD8Async");
  if (st.ok()) st = c_.checksum(q_.data, q_.bytes, qsum);
  if (st.ok()) st = c_.poison_bf16(o_.data, o_.bytes);
  if (st.ok()) st = c_.garbage(ws_.data, ws_.bytes, rng_());
  // L2 is emptied and left holding clean lines only. A memset flush would leave up to L2-size of
  // dirty lines whose write-back (up to ~17 us of DRAM time for an H100's 50 MB) runs inside the
  // timed call and is charged to the candidate; before a real decode, L2 holds mostly clean lines
  // (the weights the projections just read). docs/decisions.md, "Timed calls start from a clean
  // L2".
  if (st.ok() && flush) st = c_.evict_l2_clean();
  if (st.ok()) st = c_.check(drv_.cuEventRecord(event(slot, 0), c_.stream()), "cuEventRecord");
  if (!st.ok()) return driver_failed(st, "a decode call's preparation");
  if (!launch_kernels(plan_.decode, &ev_[size_t(slot) * (plan_.decode.size() + 1)], arg_seed,
                      every_kernel)) {
    return false;
  }
  st = c_.checksum(q_.data, q_.bytes, qsum + 8);
  if (st.ok()) {
    st = c_.rel_err(o_.data, ref(ref_cur), ref(ref_prev), ref(kRefFirst), rows_, s_.D,
                    res_.data + lay_.errs + size_t(slot) * rows_ * 16);
  }
  if (!st.ok()) return driver_failed(st, "a decode call's checks");
  return true;
}

bool Runner::enqueue_integrity_checks(bool kv, bool index) {
  const CUdeviceptr sums = res_.data + lay_.sums;
  Status st = c_.check(drv_.cuMemsetD8Async(sums, 0, 32, c_.stream()), "cuMemsetD8Async");
  if (st.ok()) st = c_.check_guards(res_.data + lay_.gbad, res_.data + lay_.gfirst);
  if (st.ok() && kv) st = enqueue_kv_checksums(c_, d_, sums);
  if (st.ok() && index) st = c_.checksum(index_.data, index_.bytes, sums + 16);
  if (!st.ok()) return driver_failed(st, "the integrity checks");
  return true;
}

bool Runner::wait_for(double timeout_s, const std::string& what, int slots) {
  Status st = c_.wait(timeout_s);
  if (st.ok()) return true;
  if (st.code() != StatusCode::kTimeout) return driver_failed(st, what);
  // Which kernel is still running: the first whose end event has not fired.
  std::string kernel;
  for (int s = 0; s < slots && kernel.empty(); ++s) {
    for (size_t i = 0; i < plan_.decode.size(); ++i) {
      if (drv_.cuEventQuery(event(s, int(i) + 1)) == CUDA_ERROR_NOT_READY) {
        kernel = plan_.decode[i].name;
        break;
      }
    }
  }
  char secs[32];
  std::snprintf(secs, sizeof(secs), "%.1f", timeout_s);
  return fail(EvalStatus::kTimeout,
              what + " did not finish within " + secs + " s" +
                  (kernel.empty() ? "" : " (kernel '" + kernel + "' was still running)") +
                  ": a kernel that never ends (an infinite loop, a barrier not every thread "
                  "reaches, a spin-wait on a flag no one sets). The GPU context is lost.");
}

bool Runner::read_results() {
  Status st = c_.check(drv_.cuMemcpyDtoH(host_.data(), res_.data, lay_.total), "reading results");
  if (!st.ok()) return driver_failed(st, "reading the check results");
  return true;
}

bool Runner::judge_integrity(const std::string& phase, bool kv, bool index, int q_slots) {
  std::vector<uint32_t> bad(12);
  std::vector<uint64_t> first(12);
  std::memcpy(bad.data(), host_.data() + lay_.gbad, 12 * 4);
  std::memcpy(first.data(), host_.data() + lay_.gfirst, 12 * 8);
  if (auto v = judge_guards({"q", "o", "index", "workspace", "k", "v"}, bad, first,
                            GuardedBuffer::kGuardBytes, phase)) {
    if (bad[8] || bad[9] || bad[10] || bad[11]) out_.inputs_modified = true;
    return fail(*v);
  }
  if (kv && (u64_at(lay_.sums, 0) != d_.k_sum || u64_at(lay_.sums, 1) != d_.v_sum)) {
    out_.inputs_modified = true;
    return fail(input_written(u64_at(lay_.sums, 0) != d_.k_sum ? "k" : "v", phase));
  }
  if (index && u64_at(lay_.sums, 2) != index_sum_) return fail(input_written("index", phase));
  for (int s = 0; s < q_slots; ++s) {
    if (u64_at(lay_.qsum, 2 * s) != u64_at(lay_.qsum, 2 * s + 1)) return fail(input_written("q", phase));
  }
  return true;
}

}  // namespace kevo::runner_detail
