// bench_runner_throughput: what the sandbox costs per candidate on one GPU.
//   - start of a GPU runner process (context, session) and of a compile pool;
//   - candidates per second through a warm runner for a trivial kernel (one tiny launch, output
//     left wrong: the evaluation path without timing loops, i.e. the per-candidate overhead of
//     the process, pipe and JSON) and for the dense seed (a full evaluation with timing);
//   - the cost of a crash: an illegal-address kernel plus the fresh runner that follows;
//   - compiles per second through the pool (trivial kernel).
// Usage: bench_runner_throughput [--kevo PATH] [--suite NAME] [--n N] [--json FILE]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "common/paths.h"
#include "common/yaml_config.h"
#include "sandbox/sandbox.h"

using namespace kevo;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

const char* kTrivial =
    "#include \"kevo/sparse_decode.cuh\"\n"
    "// kevo:decode touch grid(1) block(32)\n"
    "extern \"C\" __global__ void touch(const kevo::Args a) {\n"
    "  if (threadIdx.x == 0) a.o[0] = a.q[0];\n"
    "}\n";

const char* kIllegal =
    "#include \"kevo/sparse_decode.cuh\"\n"
    "// kevo:decode boom grid(1) block(32)\n"
    "extern \"C\" __global__ void boom(const kevo::Args a) {\n"
    "  reinterpret_cast<float*>(a.o)[1LL << 40] = 1.0f;\n"
    "}\n";

}  // namespace

int main(int argc, char** argv) {
  std::string kevo_path, suite = "quick", json_path;
  int n = 30;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--kevo") && i + 1 < argc) kevo_path = argv[++i];
    else if (!std::strcmp(argv[i], "--suite") && i + 1 < argc) suite = argv[++i];
    else if (!std::strcmp(argv[i], "--n") && i + 1 < argc) n = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--json") && i + 1 < argc) json_path = argv[++i];
    else {
      std::fprintf(stderr, "usage: bench_runner_throughput [--kevo PATH] [--suite NAME] [--n N] [--json FILE]\n");
      return 2;
    }
  }
  (void)init_logging("warn");
  if (kevo_path.empty()) {  // the bundle and the build tree keep kevo next to (or above) bench_*
    std::string self = self_executable();
    std::string dir = self.substr(0, self.rfind('/'));
    std::ifstream probe(dir + "/kevo");
    kevo_path = probe ? dir + "/kevo" : dir + "/../kevo";
  }
  WorkerLaunch launch{kevo_path, "warn"};
  SandboxConfig sandbox;
  sandbox.compile_workers = 1;
  EvaluatorConfig evaluator;
  nlohmann::json out = {{"suite", suite}, {"n", n}};

  auto t0 = std::chrono::steady_clock::now();
  auto runner = GpuRunner::start(0, sandbox, evaluator, launch);
  if (!runner.ok()) {
    std::fprintf(stderr, "bench_runner_throughput: %s\n", runner.status().message().c_str());
    return 3;
  }
  out["runner_start_s"] = seconds_since(t0);
  CompileOptions opt;
  opt.arch = (*runner)->info().arch;
  t0 = std::chrono::steady_clock::now();
  auto pool = CompilePool::start(sandbox, opt, launch);
  if (!pool.ok()) {
    std::fprintf(stderr, "bench_runner_throughput: %s\n", pool.status().message().c_str());
    return 1;
  }
  out["compile_pool_start_s"] = seconds_since(t0);

  auto dense_src = data_path("seeds/dense_flashdecode.cu");
  std::string dense_text;
  if (dense_src.ok()) (void)read_text_file(*dense_src, dense_text);
  Candidate trivial{"trivial", kTrivial, {}}, dense{"dense_flashdecode", dense_text, {}},
      illegal{"illegal", kIllegal, {}};

  t0 = std::chrono::steady_clock::now();
  CompileOutcome trivial_bin;
  for (int i = 0; i < n; ++i) trivial_bin = (*pool)->compile(trivial);
  out["compiles_per_s_trivial"] = n / seconds_since(t0);
  CompileOutcome dense_bin = (*pool)->compile(dense);
  CompileOutcome illegal_bin = (*pool)->compile(illegal);

  auto rate = [&](const Candidate& c, const CompileOutcome& bin, const char* key) {
    EvalResult first = (*runner)->evaluate(c, bin, suite);  // warm: suite data, dense baseline
    auto t = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) (*runner)->evaluate(c, bin, suite);
    double per_s = n / seconds_since(t);
    out[key] = {{"status", eval_status_name(first.status)}, {"per_s", per_s}, {"ms_each", 1e3 / per_s}};
    std::printf("%-24s %-12s %8.1f candidates/s (%.1f ms each)\n", key, eval_status_name(first.status),
                per_s, 1e3 / per_s);
  };
  rate(trivial, trivial_bin, "trivial");
  if (!dense_text.empty()) rate(dense, dense_bin, "dense_seed");

  t0 = std::chrono::steady_clock::now();
  EvalResult crash = (*runner)->evaluate(illegal, illegal_bin, suite);
  EvalResult after = (*runner)->evaluate(trivial, trivial_bin, suite);
  out["crash_and_recovery_s"] = seconds_since(t0);
  out["crash_status"] = eval_status_name(crash.status);
  out["crash_message"] = crash.message;
  out["after_crash_status"] = eval_status_name(after.status);
  out["runner_starts"] = (*runner)->info().starts;
  std::printf("runner start %.2f s, crash + fresh runner %.2f s (%s), %.1f trivial compiles/s\n",
              out["runner_start_s"].get<double>(), out["crash_and_recovery_s"].get<double>(),
              out["crash_status"].get<std::string>().c_str(), out["compiles_per_s_trivial"].get<double>());
  if (!json_path.empty()) std::ofstream(json_path) << out.dump(2) << "\n";
  return 0;
}
