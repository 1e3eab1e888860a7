// The evaluator's public API: compile a candidate (no GPU needed), evaluate a compiled candidate
// on a GPU, or both in one process. The sandbox runs compile_candidate in confined worker
// processes and GpuSession in runner processes; `kevo eval` may run everything in-process.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evaluator/config.h"
#include "evaluator/eval_result.h"
#include "evaluator/task.h"

namespace kevo {

// A candidate: one .cu source plus param overrides (empty = the file's defaults).
struct Candidate {
  std::string name;  // for messages ("hash_topk", "program 41")
  std::string source;
  std::map<std::string, int64_t> params;
};

struct CompileOptions {
  std::string arch = "sm_90a";                        // exact target; CUBIN, never PTX
  std::string cuda_include_dir = "/usr/local/cuda/include";
  std::string cache_dir;  // "" = no disk cache; key: hash(source, params, arch, NVRTC version)
  double timeout_s = 30;  // nvrtcSetFlowCallback cancels past this
};

// What ptxas reports for one kernel (-v), known at compile time without a GPU. The GPU session
// reports the driver's figures in KernelTiming; these serve `kevo eval --compile-only` and
// feedback for candidates that never reach a GPU.
struct KernelResources {
  std::string name;
  int registers = 0;     // per thread
  int smem_bytes = 0;    // static shared memory per block (dynamic smem comes from the plan)
  int local_bytes = 0;   // stack frame per thread: local arrays and spills
  int spill_stores = 0;  // bytes per thread
  int spill_loads = 0;
};

struct CompileOutcome {
  EvalStatus status = EvalStatus::kOk;  // ok, rejected_source, compile_error or timeout
  std::string message;
  std::string cubin;        // binary; empty unless ok
  std::string log;          // cut to the candidate's own lines, capped
  double compile_ms = 0;
  bool cache_hit = false;
  std::map<std::string, int64_t> params;  // resolved (defaults + overrides)
  std::vector<KernelResources> kernels;   // every entry function, in plan order; empty unless ok
};

// The checks compile_candidate makes before NVRTC sees the file: directives, param overrides, and
// the source check (includes against the allow-list, directives, lexical tricks). Ok, or the
// message a rejected_source outcome would carry ("line N: ..."). Cheap; no compiler, no GPU.
Status check_candidate(const Candidate& c, const CompileOptions& opt);

// Checks the source (includes against the allow-list, directives), then compiles it with NVRTC,
// supplying the task header from memory. Never throws for a bad candidate; never needs a GPU.
CompileOutcome compile_candidate(const Candidate& c, const CompileOptions& opt);

// The on-disk CUBIN cache of compile_candidate (opt.cache_dir), for callers that compile in a
// process that cannot write (a confined compile worker): the cached outcome of `c`, or nullopt
// on a miss, an empty cache_dir or a candidate whose directives do not parse.
std::optional<CompileOutcome> cached_compile(const Candidate& c, const CompileOptions& opt);
// Stores an ok outcome of `c` (anything else is not cached). Failures to write are logged only.
void store_compile(const Candidate& c, const CompileOptions& opt, const CompileOutcome& outcome);

// A kernel's name as a person reads it: "_Z6attendN4kevo4ArgsE" -> "attend(kevo::Args)"; names
// that are not mangled (extern "C") come back as they are.
std::string demangle_kernel_name(const std::string& name);

nlohmann::json to_json(const Candidate& c);
Result<Candidate> candidate_from_json(const nlohmann::json& j);
nlohmann::json to_json(const CompileOutcome& o);  // cubin as base64
Result<CompileOutcome> compile_outcome_from_json(const nlohmann::json& j);

// What an evaluation measures besides accuracy and time.
struct EvalOptions {
  // Hardware counters (evaluator/counters.h) of the decode kernels on
  // EvaluatorConfig::counters_workloads, in replay passes after every timed call. Ignored when
  // EvaluatorConfig::counters is "off"; implied on the main suite when it is "all".
  bool counters = false;
  // Counters only, for a program already evaluated ok (a new elite): no accuracy or timing
  // phase. The result is ok with the profiled workloads and their kernels' counters and no
  // metrics (or the failure the passes met); merge_counters() puts them into the stored result.
  bool counters_only = false;
};

// A CUDA context on one GPU with the suites' data, the dense reference and scratch buffers, kept
// across candidates (creating a context costs ~0.1 s). Not thread-safe; one per runner process.
class GpuSession {
 public:
  virtual ~GpuSession() = default;
  // Evaluates a compiled candidate on `suite` (a suite name or YAML path) with all anti-cheat
  // checks. A sticky CUDA error (illegal address...) yields status crash and sets poisoned().
  virtual EvalResult evaluate(const Candidate& c, const CompileOutcome& compiled,
                              const std::string& suite, const EvalOptions& options = {}) = 0;
  // True after a sticky CUDA error: the process must end and a fresh runner take over.
  virtual bool poisoned() const = 0;
  virtual std::string arch() const = 0;  // the GPU's exact compile target, e.g. "sm_90a"
};

// Unavailable (one line) without a usable GPU.
Result<std::unique_ptr<GpuSession>> open_gpu_session(int device, const EvaluatorConfig& config);

// compile_candidate + GpuSession::evaluate in this process (for `kevo eval` and tests).
EvalResult evaluate_in_process(GpuSession& session, const Candidate& c, const CompileOptions& opt,
                               const std::string& suite, const EvalOptions& options = {});

}  // namespace kevo
