// probe_counters (evaluator/counters.h): `kevo doctor`'s check that hardware counters work here,
// by doing what an evaluation does on the smallest kernel there is.
#include "evaluator/counters.h"
#include "evaluator/cupti_profiler.h"
#include "evaluator/gpu_context.h"

namespace kevo {

Result<std::string> probe_counters(int device) {
  KEVO_ASSIGN_OR_RETURN(std::string lib, cupti_library());
  KEVO_ASSIGN_OR_RETURN(auto ctx, GpuContext::open(device));
  KEVO_ASSIGN_OR_RETURN(auto prof,
                        CounterProfiler::create(ctx->context(), device, counter_metric_names()));
  Status failed = Status::Ok();
  auto ok = [&](Status st) {
    if (!st.ok() && failed.ok()) failed = st;
    return st.ok();
  };
  int passes = 0;
  auto values = prof->profile(
      1, [&] { return ok(ctx->wait(10.0)); },
      [&] {
        return ok(ctx->launch(ctx->kernels().empty, 1, 1, 1, 32, nullptr)) && ok(ctx->wait(10.0));
      },
      &passes);
  if (!failed.ok()) return failed;
  if (!values.ok()) return values.status();
  std::string out =
      "CUPTI range profiler (" + lib + "), " + std::to_string(passes) + " passes per profiled call";
  if (!prof->missing().empty()) {
    out += "; " + std::to_string(prof->missing().size()) +
           " metrics missing on this GPU (they read 0)";
  }
  return out;
}

}  // namespace kevo
