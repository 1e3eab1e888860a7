// Export (docs/design.md, Export): turns one candidate (a .cu file or an archived program) into a
// self-contained package that builds and checks itself without kevo:
//   cuda:  include/<name>.h (API), src/<name>.cu (launcher), src/<name>_plan.h (sizes and grids,
//          pure C++), src/<name>_kernels.cuh (the candidate, params baked in), src/kevo/*.cuh,
//          example/check.cu (dense fp32 reference, error and time), CMakeLists.txt, build.sh
//   torch: <name>/__init__.py (loader: prebuilt or torch.utils.cpp_extension.load), setup.py,
//          csrc/ (the same launcher plus the binding), test_<name>.py (against torch SDPA)
// and in both README.md and metadata.json. Pure file generation: no GPU, no archive access (the
// CLI reads the archive and fills ExportInput).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace kevo {

enum class ExportFormat { kCuda, kTorch };

Result<ExportFormat> parse_export_format(const std::string& text);  // "cuda" or "torch"
const char* export_format_name(ExportFormat f);

// One step of a program's ancestry, newest first in ExportInput::lineage (the seed is last).
struct ExportAncestor {
  int64_t id = 0;
  double fitness = 0;
  std::string status;  // eval status name ("ok", "inaccurate", ...); "" when unknown
  std::string origin;  // how it was made ("seed", "llm", "tuner"...); "" when unknown
};

struct ExportInput {
  std::string name;    // C identifier; prefixes every public symbol and names the files
  std::string source;  // the candidate .cu as evaluated
  std::map<std::string, int64_t> params;  // overrides of the file's defaults (checked)
  std::string origin;  // where it came from, in words ("seeds/x.cu", "run r1, program 41")
  // Provenance, all optional (empty/null when exported from a plain file):
  nlohmann::json result;  // the EvalResult JSON (docs/design.md, "Evaluation result") the numbers
                          // in README come from
  std::string run;        // run name
  int64_t program_id = -1;
  std::vector<ExportAncestor> lineage;
  nlohmann::json gpu;     // the GPU the result was measured on (GpuInfo JSON or a name)
  std::string evaluated_at;  // when the result was measured
};

struct ExportOptions {
  ExportFormat format = ExportFormat::kCuda;
  std::string out_dir;
  bool force = false;              // write into a non-empty out_dir (files of ours are replaced)
  std::string arch = "sm_90a";     // default build target of the package; overridable there
  std::string kevo_version;        // recorded in metadata and README
  // Mean relative error above which the package's own check fails. 0 = automatic: twice the
  // archived mean error plus 0.01 when a result is known (the package's data differs from the
  // suite's), capped at the evaluator's gate of 0.2; 0.2 without a result.
  double tolerance = 0;
  // The suite whose data generator the cuda package's check uses (kevo_gen_math.h with this
  // suite's settings and seeds), so the check's timing is comparable to kevo's on that suite.
  std::string suite = "llama3-8b";
};

struct ExportSummary {
  std::string out_dir;
  std::vector<std::string> files;  // relative to out_dir, in writing order
  std::string source_sha256;
  double tolerance = 0;
  nlohmann::json metadata;  // what metadata.json holds
};

// A valid C identifier made from `text` (a file stem, "program 41"): other characters become
// '_', a leading digit gets a prefix. Never empty.
std::string export_name_from(const std::string& text);

// Writes the package. InvalidArgument when the source's directives or the params do not parse,
// when the name is not an identifier, or when out_dir is not empty and !force; IoError when a
// file cannot be written. Files already in out_dir that are not ours are left alone.
Result<ExportSummary> export_package(const ExportInput& in, const ExportOptions& opt);

}  // namespace kevo
