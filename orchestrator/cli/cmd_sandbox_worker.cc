// `kevo sandbox-worker compile|gpu`: the sandbox's worker processes (sandbox/sandbox.h). The orchestrator
// starts these itself, with pipes on stdin/stdout; they are hidden from --help because a person
// never runs them.
#include "orchestrator/cli/commands.h"
#include "sandbox/sandbox.h"

namespace kevo::cli {

void add_sandbox_worker_command(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand("sandbox-worker", "Internal: a sandboxed compile worker or GPU runner "
                                           "(started by kevo itself, speaks JSON lines on stdin/stdout)");
  cmd->group("");  // hidden
  cmd->require_subcommand(1);

  auto compile = std::make_shared<CompileWorkerArgs>();
  auto* c = cmd->add_subcommand("compile", "Confined NVRTC compile worker");
  c->add_option("--cuda-include", compile->cuda_include_dir, "CUDA include folder (read-only)")
      ->capture_default_str();
  c->add_option("--arch", compile->arch, "warm-up target")->capture_default_str();
  c->add_option("--memory-mb", compile->memory_mb, "address-space limit")->capture_default_str();
  c->add_option("--timeout", compile->timeout_s, "compile timeout in seconds")->capture_default_str();
  c->callback([&cli, compile] { cli.exit_code = run_compile_worker(*compile); });

  auto gpu = std::make_shared<GpuWorkerArgs>();
  auto* g = cmd->add_subcommand("gpu", "GPU runner for one device");
  g->add_option("--device", gpu->device, "CUDA device index")->capture_default_str();
  g->callback([&cli, gpu] { cli.exit_code = run_gpu_worker(*gpu); });
}

}  // namespace kevo::cli
