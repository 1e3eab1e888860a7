#include "sandbox/config.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>

namespace kevo {

void bind(YamlSection& s, SandboxConfig& c) {
  // "auto" or a number: read as text, so that both are accepted.
  std::string workers = c.compile_workers == 0 ? "auto" : std::to_string(c.compile_workers);
  s.field("compile_workers", workers);
  if (workers == "auto") {
    c.compile_workers = 0;
  } else {
    char* end = nullptr;
    long n = std::strtol(workers.c_str(), &end, 10);
    if (end == workers.c_str() || *end != '\0' || n < 1 || n > 1024) {
      s.error("compile_workers", "must be 'auto' or a number >= 1");
    } else {
      c.compile_workers = static_cast<int>(n);
    }
  }
  s.field("compile_timeout_s", c.compile_timeout_s);
  s.field("compile_memory_mb", c.compile_memory_mb);
  s.field("kernel_timeout_s", c.kernel_timeout_s);
  s.field("evaluation_timeout_s", c.evaluation_timeout_s);
  if (c.compile_timeout_s <= 0) s.error("compile_timeout_s", "must be positive");
  if (c.compile_memory_mb < 256) s.error("compile_memory_mb", "must be at least 256");
}

int resolved_compile_workers(const SandboxConfig& c) {
  if (c.compile_workers > 0) return c.compile_workers;
  unsigned cores = std::thread::hardware_concurrency();
  return std::max(1, static_cast<int>(cores) - 1);
}

}  // namespace kevo
