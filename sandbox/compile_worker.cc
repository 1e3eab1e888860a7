// `kevo sandbox-worker compile`: the confined compile worker. Confines itself, warms NVRTC up inside the
// walls, limits its memory, and only then reads candidate text.
#include <malloc.h>
#include <nvrtc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <new>

#include "common/log.h"
#include "sandbox/confine.h"
#include "sandbox/protocol.h"
#include "sandbox/sandbox.h"
#include "sandbox/worker_io.h"

namespace kevo {
namespace {

// What a compile may cost beyond its own timeout before RLIMIT_CPU ends the worker: NVRTC's
// flow callback is only polled between phases, and a long optimizer pass overshoots.
double cpu_margin_s(double timeout_s) { return 10 + 0.5 * timeout_s; }

// The first compile of a process costs a few hundred ms (NVRTC loads its builtins library and
// sets itself up): pay it before the first candidate, and fail at start, with the reason, when
// NVRTC cannot work inside the walls. The task header goes through compile_candidate so that its
// own lazy initialisation happens here too.
Status warm_up(const CompileWorkerArgs& args) {
  const char* src = "#include <cuda_bf16.h>\nextern \"C\" __global__ void k(float* p) { *p = 1; }\n";
  nvrtcProgram prog;
  if (nvrtcCreateProgram(&prog, src, "warmup.cu", 0, nullptr, nullptr) != NVRTC_SUCCESS) {
    return Status::Internal("nvrtcCreateProgram failed");
  }
  std::string arch = "-arch=" + args.arch, inc = "-I" + args.cuda_include_dir;
  const char* opts[] = {arch.c_str(), inc.c_str()};
  nvrtcResult rc = nvrtcCompileProgram(prog, 2, opts);
  size_t size = 0;
  if (rc == NVRTC_SUCCESS) nvrtcGetCUBINSize(prog, &size);
  nvrtcDestroyProgram(&prog);
  if (rc != NVRTC_SUCCESS) {
    return Status::Unavailable(std::string("NVRTC cannot compile a trivial kernel for ") +
                               args.arch + ": " + nvrtcGetErrorString(rc));
  }
  Candidate c;
  c.name = "warm-up";
  c.source =
      "#include \"kevo/sparse_decode.cuh\"\n"
      "// kevo:decode warmup grid(1) block(32)\n"
      "extern \"C\" __global__ void warmup(const kevo::Args a) {}\n";
  CompileOptions opt;
  opt.arch = args.arch;
  opt.cuda_include_dir = args.cuda_include_dir;
  opt.timeout_s = 60;
  CompileOutcome out = compile_candidate(c, opt);
  if (out.status != EvalStatus::kOk) {
    spdlog::warn("compile worker: warm-up candidate: {}: {}", eval_status_name(out.status), out.message);
  }
  return Status::Ok();
}

CompileOutcome failed(EvalStatus s, std::string message) {
  CompileOutcome o;
  o.status = s;
  o.message = std::move(message);
  return o;
}

nlohmann::json handle(const nlohmann::json& req, const CompileWorkerArgs& args) {
  nlohmann::json reply = {{"id", req.value("id", uint64_t{0})}};
  CompileOutcome out;
  try {
    auto cand = candidate_from_json(req.at("candidate"));
    if (!cand.ok()) {
      out = failed(EvalStatus::kRejectedSource, cand.status().message());
    } else {
      CompileOptions opt;
      opt.arch = req.value("arch", args.arch);
      opt.cuda_include_dir = args.cuda_include_dir;
      opt.cache_dir = "";  // the worker cannot write; caching is the parent's business
      opt.timeout_s = req.value("timeout_s", args.timeout_s);
      (void)sandbox::set_cpu_soft_limit(opt.timeout_s + cpu_margin_s(opt.timeout_s));
      out = compile_candidate(*cand, opt);
    }
  } catch (const std::bad_alloc&) {
    out = failed(EvalStatus::kCompileError,
                 "compiler ran out of memory (limit " + std::to_string(args.memory_mb) +
                     " MiB): reduce template instantiation, unrolling or source size");
  } catch (const std::exception& e) {
    out = failed(EvalStatus::kCompileError, std::string("compile worker: ") + e.what());
  }
  reply["outcome"] = to_json(out);
  return reply;
}

}  // namespace

int run_compile_worker(const CompileWorkerArgs& args) {
  // One malloc arena per thread reserves 64 MiB of address space each; a compiler needs two.
  mallopt(M_ARENA_MAX, 2);
  auto channel = sandbox::WorkerChannel::open();
  // NVRTC resolves "quoted" includes against the current folder first: make that the folder the
  // worker may read anyway, never the user's project (or a planted symlink in it).
  if (chdir(args.cuda_include_dir.c_str()) != 0) {
    channel.write({{"ready", false}, {"error", "cannot enter " + args.cuda_include_dir}});
    return 1;
  }
  // Walls first, so that every thread NVRTC ever starts is inside them (Landlock covers the
  // calling thread and its later children only); the builtins library NVRTC loads on its first
  // compile is allowed by name.
  sandbox::ConfineSpec spec;
  spec.read_only_dirs = {args.cuda_include_dir};
  spec.read_exec_files = sandbox::nvrtc_lazy_libraries();
  double per_job = args.timeout_s + cpu_margin_s(args.timeout_s);
  spec.cpu_hard_s = static_cast<long>(std::max(600.0, 20 * per_job));
  double cpu_budget_end = sandbox::cpu_seconds_used() + spec.cpu_hard_s;
  auto confined = sandbox::confine_this_process(spec);
  if (!confined.ok()) {
    channel.write({{"ready", false}, {"error", "confinement failed: " + confined.status().message()}});
    sandbox::quick_exit_worker(1);
  }
  auto start = std::chrono::steady_clock::now();
  Status warm = warm_up(args);
  if (!warm.ok()) {
    channel.write({{"ready", false}, {"error", warm.message()}});
    sandbox::quick_exit_worker(1);
  }
  double warm_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  // The memory limit last: the warm-up may reserve a lot of address space it never touches.
  auto limited = sandbox::limit_address_space(args.memory_mb);
  if (!limited.ok()) {
    channel.write({{"ready", false}, {"error", "confinement failed: " + limited.status().message()}});
    sandbox::quick_exit_worker(1);
  }
  sandbox::start_parent_watchdog();  // inside the walls like every thread started from here
  channel.write({{"ready", true},
                 {"landlock_abi", confined->landlock_abi},
                 {"landlock", confined->landlock_applied},
                 {"seccomp", confined->seccomp_applied},
                 {"memory_limited", *limited},
                 {"threads_at_confinement", confined->threads},
                 {"threads_after_warmup", sandbox::thread_count()},
                 {"address_space_mb", *limited ? sandbox::address_space_limit_mb() : -1},
                 {"warmup_ms", warm_ms}});

  std::string error;
  while (auto line = channel.read_line(sandbox::kMaxLineBytes, &error)) {
    auto req = sandbox::parse_message(*line);
    nlohmann::json reply;
    if (!req.ok()) {
      reply = {{"id", 0}, {"outcome", to_json(failed(EvalStatus::kCompileError, req.status().message()))}};
    } else {
      reply = handle(*req, args);
    }
    // A worker near its lifetime CPU budget retires after this reply; the pool starts another.
    bool retire = sandbox::cpu_seconds_used() + per_job > cpu_budget_end;
    if (retire) reply["retire"] = true;
    if (!channel.write(reply) || retire) break;
  }
  if (!error.empty()) spdlog::error("compile worker: {}", error);
  sandbox::quick_exit_worker(error.empty() ? 0 : 1);
}

}  // namespace kevo
