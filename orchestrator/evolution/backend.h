// The real EvaluationBackend: the sandbox's compile pool and one GPU runner per GPU, plus the
// adapter that records every LLM call in the archive.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "orchestrator/evolution/evolution.h"
#include "sandbox/sandbox.h"

namespace kevo {

class SandboxBackend : public EvaluationBackend {
 public:
  // Starts the compile workers and one runner per GPU in `gpus`. Unavailable (one line) when
  // a runner cannot open its GPU.
  static Result<std::unique_ptr<SandboxBackend>> start(const KevoConfig& config,
                                                       const std::vector<GpuInfo>& gpus,
                                                       const std::string& compile_cache_dir);

  std::future<CompileOutcome> compile(Candidate candidate) override;
  EvalResult evaluate(int gpu, const Candidate& candidate, const CompileOutcome& compiled,
                      const std::string& suite) override;
  int gpu_count() const override { return static_cast<int>(runners_.size()); }
  EvalResult measure_counters(int gpu, const Candidate& candidate, const CompileOutcome& compiled,
                              const std::string& suite) override;

 private:
  std::unique_ptr<CompilePool> pool_;
  std::vector<std::unique_ptr<GpuRunner>> runners_;
};

// Records every LLM call in the archive's llm_calls table. Thread-safe (the archive is).
// The loop tags each request uniquely and asks take_id(tag) for the row its reply was stored in,
// so a child program links to the call that made it.
class ArchiveCallRecorder : public CallRecorder {
 public:
  explicit ArchiveCallRecorder(Archive& archive) : archive_(archive) {}
  void record(const LlmCallRecord& call) override;
  std::optional<LlmCallId> take_id(const std::string& tag);

 private:
  Archive& archive_;
  std::mutex mu_;
  std::map<std::string, LlmCallId> ids_by_tag_;
};

// The recorded calls of a run, oldest first, for a replay client.
Result<std::vector<LlmCallRecord>> load_recorded_calls(const std::string& db_path);

}  // namespace kevo
