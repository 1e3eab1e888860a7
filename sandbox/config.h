// Sandbox limits (the `sandbox:` section of a run config).
#pragma once

#include "common/yaml_config.h"

namespace kevo {

struct SandboxConfig {
  // Parallel compile workers; 0 (written `auto`): one per core, less one for the orchestrator,
  // at least 1. NVRTC is single-threaded per program and a sparse seed takes 2-2.5 s to compile,
  // so two workers cannot keep an H200 fed with LLM candidates (about 1 s each to evaluate).
  int compile_workers = 0;
  // A kernel of a few hundred lines compiles in 0.1-2 s; 30 s only stops pathological sources.
  double compile_timeout_s = 30;
  // NVRTC on large templates peaks near 1 GiB; 4 GiB stops compile bombs before they hurt the host.
  int compile_memory_mb = 4096;
  // One evaluation on the default suite takes a few seconds; a kernel alone never needs more.
  double kernel_timeout_s = 10;
  double evaluation_timeout_s = 120;
};

void bind(YamlSection& s, SandboxConfig& c);

// compile_workers with `auto` (0) resolved for this machine.
int resolved_compile_workers(const SandboxConfig& c);

}  // namespace kevo
