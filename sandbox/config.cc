#include "sandbox/config.h"

namespace kevo {

void bind(YamlSection& s, SandboxConfig& c) {
  s.field("compile_workers", c.compile_workers);
  s.field("compile_timeout_s", c.compile_timeout_s);
  s.field("compile_memory_mb", c.compile_memory_mb);
  s.field("kernel_timeout_s", c.kernel_timeout_s);
  s.field("evaluation_timeout_s", c.evaluation_timeout_s);
  if (c.compile_workers < 1) s.error("compile_workers", "must be at least 1");
  if (c.compile_timeout_s <= 0) s.error("compile_timeout_s", "must be positive");
  if (c.compile_memory_mb < 256) s.error("compile_memory_mb", "must be at least 256");
}

}  // namespace kevo
