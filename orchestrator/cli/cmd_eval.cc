// `kevo eval FILE.cu`: compile and evaluate one candidate through the same sandbox as a run: the
// compile in a confined compile worker under its deadline (a compile bomb is stopped, not waited
// for), the evaluation in a GPU runner process. --compile-only needs no GPU: it checks, compiles,
// reports per-kernel resources from ptxas and the launch plan for every shape of the suite.
// --in-process (the default under ncu, nsys or compute-sanitizer) evaluates in this process: a
// tool's injection library crashed GPU runners (docs/decisions.md).
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "evaluator/evaluator.h"
#include "evaluator/workloads.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/cli/eval_output.h"
#include "orchestrator/cli/sandboxed_compile.h"
#include "sandbox/sandbox.h"

namespace kevo::cli {
namespace {

namespace fs = std::filesystem;

struct EvalOptions {
  std::string file;
  std::string suite = EvaluatorConfig{}.suite;
  bool json = false;
  bool compile_only = false;
  bool no_cache = false;
  std::vector<std::string> params;  // NAME=VALUE
  std::string arch = "auto";
  double compile_timeout_s = CompileOptions{}.timeout_s;
  std::string counters = "largest";  // largest | all | off | a workload name
  bool in_process = false;           // the GPU work in this process, not in a GPU runner
};

// $XDG_CACHE_HOME/kevo/cubin or ~/.cache/kevo/cubin; "" when neither is known.
std::string default_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/kevo/cubin";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/kevo/cubin";
  return "";
}

Result<std::map<std::string, int64_t>> parse_params(const std::vector<std::string>& items) {
  std::map<std::string, int64_t> out;
  for (const auto& item : items) {
    size_t eq = item.find('=');
    std::string name = item.substr(0, eq);
    if (eq == std::string::npos || name.empty()) {
      return Status::InvalidArgument("--param " + item + ": expected NAME=VALUE");
    }
    std::string value = item.substr(eq + 1);
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || errno == ERANGE) {
      return Status::InvalidArgument("--param " + item + ": the value must be an integer");
    }
    out[name] = v;
  }
  return out;
}

// The shapes of `suite` with the plan resolved for each. Errors only for an unreadable suite.
Result<std::vector<PlannedWorkload>> plan_workloads(const Candidate& c, const CompileOutcome& compiled,
                                                    const std::string& suite) {
  std::vector<PlannedWorkload> out;
  auto spec = parse_task_spec(c.source);
  if (!spec.ok()) return out;  // the compile outcome already says why
  KEVO_ASSIGN_OR_RETURN(Suite s, load_suite(suite));
  for (const auto& w : s.workloads) {
    PlannedWorkload p;
    p.name = w.name;
    p.shape = w.shape;
    auto plan = resolve_plan(*spec, compiled.params, w.shape);
    if (plan.ok()) {
      p.plan = std::move(plan).value();
    } else {
      p.error = plan.status().message();
    }
    out.push_back(std::move(p));
  }
  return out;
}

int run_compile_only(const EvalOptions& opt, const Candidate& c, CompileOptions copt) {
  copt.arch = opt.arch == "auto" ? "sm_90a" : opt.arch;
  CompileReport report;
  report.file = opt.file;
  report.arch = copt.arch;
  report.suite = opt.suite;
  auto compiled = compile_in_worker(c, copt);
  if (!compiled.ok()) return fail(kExitFailure, compiled.status().message());
  report.outcome = std::move(compiled).value();
  relabel_program(report.outcome.log, opt.file);
  relabel_program(report.outcome.message, opt.file);
  if (report.outcome.status == EvalStatus::kOk) {
    auto planned = plan_workloads(c, report.outcome, opt.suite);
    if (!planned.ok()) return fail(kExitFailure, "suite " + opt.suite + ": " + planned.status().message());
    report.workloads = std::move(planned).value();
    for (const auto& w : report.workloads) {
      if (w.error.empty()) continue;
      report.outcome.status = EvalStatus::kInvalidPlan;
      report.outcome.message = w.name + ": " + w.error;
      break;
    }
  }
  std::cout << (opt.json ? to_json(report).dump(2) + "\n" : render_text(report));
  if (report.outcome.status != EvalStatus::kOk) {
    return fail(kExitFailure, std::string(eval_status_name(report.outcome.status)) + ": " + report.outcome.message);
  }
  return kExitOk;
}

int run_eval(const EvalOptions& opt) {
  std::string source;
  {
    std::error_code ec;
    if (fs::is_directory(opt.file, ec))
      return fail(kExitUsage, opt.file + " is a folder, not a .cu file");
    if (!fs::is_regular_file(opt.file, ec))
      return fail(kExitUsage, "cannot read " + opt.file + ": no such file");
    std::ifstream in(opt.file, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in) return fail(kExitFailure, "cannot read " + opt.file);
    source = ss.str();
  }
  auto params = parse_params(opt.params);
  if (!params.ok()) return fail(kExitUsage, params.status().message());
  if (auto suite = load_suite(opt.suite); !suite.ok()) {
    return fail(kExitUsage, "--suite " + opt.suite + ": " + suite.status().message());
  }
  Candidate c{fs::path(opt.file).stem().string(), source, *params};

  CompileOptions copt;
  copt.timeout_s = opt.compile_timeout_s;
  if (!opt.no_cache) copt.cache_dir = default_cache_dir();
  if (opt.compile_only) return run_compile_only(opt, c, copt);

  // The GPU runner first: without a GPU, say so before compiling anything.
  EvaluatorConfig config;
  config.suite = opt.suite;
  if (opt.counters == "off") {
    config.counters = "off";
  } else {
    config.counters_workloads = opt.counters;
  }
  kevo::EvalOptions eval_options;
  eval_options.counters = opt.counters != "off";
  auto no_gpu_or_failure = [](const Status& st) {
    bool no_gpu = st.code() == StatusCode::kUnavailable;
    return fail(no_gpu ? kExitNoGpu : kExitFailure,
                st.message() + (no_gpu ? " (--compile-only works without a GPU)" : ""));
  };
  // Under a CUDA tool the evaluation runs here: every GPU runner crashed at start under ncu 2025.3
  // (SIGSEGV; that kevo did not recognise ncu 2025 was found later, and whether a runner survives
  // now is unverified), while the tool profiles this process. The compile stays in its worker.
  const bool in_process = opt.in_process || running_under_cuda_tool();
  std::unique_ptr<GpuRunner> runner;
  std::unique_ptr<GpuSession> session;
  std::string arch;
  if (in_process) {
    auto opened = open_gpu_session(0, config);
    if (!opened.ok()) return no_gpu_or_failure(opened.status());
    session = std::move(*opened);
    arch = session->arch();
  } else {
    auto started = GpuRunner::start(0, SandboxConfig{}, config);
    if (!started.ok()) return no_gpu_or_failure(started.status());
    runner = std::move(*started);
    arch = runner->info().arch;
  }
  copt.arch = opt.arch == "auto" ? arch : opt.arch;
  auto compiled = compile_in_worker(c, copt);
  if (!compiled.ok()) return fail(kExitFailure, compiled.status().message());
  EvalResult r;
  if (compiled->status == EvalStatus::kOk) {
    r = session ? session->evaluate(c, *compiled, opt.suite, eval_options)
                : runner->evaluate(c, *compiled, opt.suite, eval_options);
  } else {
    r = EvalResult::failure(compiled->status, compiled->message);
    r.compile_log = compiled->log;
    r.metrics["compile_ms"] = compiled->compile_ms;
    r.feedback = std::string(eval_status_name(r.status)) + ": " + r.message;
  }
  relabel_program(r.compile_log, opt.file);
  relabel_program(r.message, opt.file);
  relabel_program(r.feedback, opt.file);
  std::cout << (opt.json ? to_json(r).dump(2) + "\n" : render_text(r, opt.file, opt.suite));
  if (!r.ok()) return fail(kExitFailure, std::string(eval_status_name(r.status)) + ": " + r.message);
  return kExitOk;
}

}  // namespace

void add_eval_command(CLI::App& app, Cli& cli) {
  auto opt = std::make_shared<EvalOptions>();
  auto* cmd = app.add_subcommand(
      "eval",
      "Compile and evaluate one candidate kernel file through the same sandbox as a run "
      "(compiled in a confined process under its deadline, then run by a GPU runner): accuracy "
      "against "
      "dense attention, speedup with its timing noise, per-kernel times and resources. "
      "Exit 0 when the candidate is ok, 1 when it fails (the status and message are "
      "printed), 2 for a missing file or a bad option, 3 without a GPU.");
  cmd->add_option("file", opt->file, "candidate .cu file with its kevo: directives")->required();
  cmd->add_option("--suite", opt->suite, "workload suite: a name under configs/suites or a YAML path")
      ->capture_default_str();
  cmd->add_flag("--json", opt->json,
                "print the evaluation result as JSON (with --compile-only: status, kernels and "
                "the plan per workload)");
  cmd->add_flag("--compile-only", opt->compile_only,
                "check and compile only (no GPU needed): status, compile time, registers, shared "
                "and local memory per kernel, and the launch plan for each workload");
  cmd->add_option("--param", opt->params, "override a kevo:param, NAME=VALUE (repeatable)");
  cmd->add_option("--arch", opt->arch, "compile target, e.g. sm_90a; auto = the GPU's (sm_90a "
                                       "with --compile-only)")
      ->capture_default_str();
  cmd->add_option("--compile-timeout", opt->compile_timeout_s, "seconds before a compile is cancelled")
      ->capture_default_str();
  cmd->add_flag("--no-cache", opt->no_cache, "always compile (skip the CUBIN cache in ~/.cache/kevo)");
  cmd->add_option("--counters", opt->counters,
                  "hardware counters per decode kernel (DRAM bytes and bandwidth, L2 hits, warps "
                  "per SM, stalls), measured after the timed calls on: largest (the workload with "
                  "the most K/V bytes), all, a workload name, or off")
      ->capture_default_str();
  cmd->add_flag("--in-process", opt->in_process,
                "evaluate in this process instead of a GPU runner, for profilers and debuggers "
                "(the default under ncu, nsys or compute-sanitizer, whose injection library "
                "crashes a runner); no runner stands between kevo and the candidate then: one that "
                "faults ends kevo, one that hangs holds it until Ctrl-C");
  cmd->callback([&cli, opt] { cli.exit_code = run_eval(*opt); });
}

}  // namespace kevo::cli
