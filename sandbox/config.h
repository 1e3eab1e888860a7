// Sandbox limits (the `sandbox:` section of a run config).
#pragma once

#include "common/yaml_config.h"

namespace kevo {

struct SandboxConfig {
  // Parallel compile workers. NVRTC is single-threaded per program; one per core keeps the GPU fed.
  int compile_workers = 2;
  // A kernel of a few hundred lines compiles in 0.1-2 s; 30 s only stops pathological sources.
  double compile_timeout_s = 30;
  // NVRTC on large templates peaks near 1 GiB; 4 GiB stops compile bombs before they hurt the host.
  int compile_memory_mb = 4096;
  // One evaluation on the default suite takes a few seconds; a kernel alone never needs more.
  double kernel_timeout_s = 10;
  double evaluation_timeout_s = 120;
};

void bind(YamlSection& s, SandboxConfig& c);

}  // namespace kevo
