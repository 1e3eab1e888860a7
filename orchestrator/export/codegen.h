// Private to orchestrator/export: the pieces of a package, each a function of the parsed task
// and the baked params. Templates (orchestrator/export/templates/*.in) are compiled into the
// binary and filled with @KEY@ placeholders.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "evaluator/task.h"
#include "orchestrator/export/export.h"

namespace kevo::export_detail {

// Everything the generators need, computed once by export_package.
struct Package {
  std::string name;   // identifier prefix, e.g. "hash_topk"
  std::string upper;  // "HASH_TOPK"
  TaskSpec spec;
  std::map<std::string, int64_t> params;  // resolved: defaults + overrides
  std::string source;
  std::string source_sha256;
  std::string arch;   // "sm_90a"
  double tolerance = 0.2;
  std::string kevo_version;
};

// `@NAME@`-style placeholders replaced by vars[NAME]; a placeholder without a value is a bug in
// the template (InvalidArgument naming it, so tests catch it).
Result<std::string> render(std::string_view tmpl, const std::map<std::string, std::string>& vars);

// The embedded template at `path` (e.g. "cuda/check.cu.in"); NotFound otherwise.
Result<std::string> template_text(const std::string& path);

// The common placeholder values (NAME, UPPER, ARCH, ARCH_NUM, TOLERANCE, KEVO_VERSION, ...).
std::map<std::string, std::string> common_vars(const Package& p);

// <name>_plan.h: pure C++17 functions of the shape giving the index and workspace sizes and every
// launch's grid, block and dynamic shared memory, from the plan's expression text with the params
// as constants. No CUDA: tests compile it with the host compiler and compare with resolve_plan.
std::string plan_header(const Package& p);

// <name>_kernels.cuh: the candidate source with its params #defined before and #undef'd after,
// and every plan kernel renamed to kernel_symbol(p, kernel): extern "C" names are global, so two
// packages with a kernel called "attend" could not be linked into one program otherwise.
std::string kernels_header(const Package& p);

// "<package>_<kernel>": the symbol of a plan kernel in the package.
std::string kernel_symbol(const Package& p, const std::string& kernel);

// `source` with the definitions and declarations of the __global__ functions named in `renames`
// renamed (comments, strings and every other use of the names are left alone).
std::string rename_kernels(const std::string& source,
                           const std::map<std::string, std::string>& renames);

// The device headers (kevo/*.cuh) `source` includes, transitively, from the headers compiled
// into kevo, as {path relative to the include root ("kevo/x.cuh"), contents}.
Result<std::map<std::string, std::string>> device_headers_for(const std::string& source);

// metadata.json and README.md.
nlohmann::json metadata(const Package& p, const ExportInput& in, ExportFormat format);
std::string readme(const Package& p, const ExportInput& in, ExportFormat format,
                   const nlohmann::json& meta);

// Shell-safe formatting of a double for generated code ("0.05").
std::string number_text(double v);

}  // namespace kevo::export_detail
