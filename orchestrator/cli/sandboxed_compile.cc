#include "orchestrator/cli/sandboxed_compile.h"

#include "sandbox/sandbox.h"

namespace kevo::cli {

Result<CompileOutcome> compile_in_worker(const Candidate& c, const CompileOptions& options) {
  if (auto hit = cached_compile(c, options)) return *hit;
  SandboxConfig sb;
  sb.compile_workers = 1;
  sb.compile_timeout_s = options.timeout_s;
  auto pool = CompilePool::start(sb, options);
  if (!pool.ok()) {
    return Status::Unavailable("cannot start a confined compile worker: " +
                               pool.status().message());
  }
  CompileOutcome out = (*pool)->compile(c);
  store_compile(c, options, out);
  return out;
}

void relabel_program(std::string& text, const std::string& file) {
  const std::string from = "candidate.cu";
  for (size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + file.size())) {
    text.replace(at, from.size(), file);
  }
}

}  // namespace kevo::cli
