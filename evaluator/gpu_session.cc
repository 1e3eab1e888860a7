// Placeholder until the GPU back end lands: every GPU evaluation reports that it is missing.
#include "evaluator/evaluator.h"

namespace kevo {

Result<std::unique_ptr<GpuSession>> open_gpu_session(int, const EvaluatorConfig&) {
  return Status::Unavailable("GPU evaluation is not built yet");
}

EvalResult evaluate_in_process(GpuSession& session, const Candidate& c, const CompileOptions& opt,
                               const std::string& suite) {
  CompileOutcome compiled = compile_candidate(c, opt);
  if (compiled.status != EvalStatus::kOk) return EvalResult::failure(compiled.status, compiled.message);
  return session.evaluate(c, compiled, suite);
}

}  // namespace kevo
