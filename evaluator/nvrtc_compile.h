// Details of compile_candidate (evaluator.h) that tools and tests may want to see: the NVRTC
// version and the exact options a candidate is compiled with.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "evaluator/evaluator.h"

namespace kevo {

// "13.0": part of the compile cache key.
std::string nvrtc_version();

// The program name NVRTC reports in diagnostics ("candidate.cu(12): error: ...").
inline constexpr const char* kCandidateProgramName = "candidate.cu";

// -arch, -std=c++17, -default-device, -lineinfo, ptxas -v (resource usage), the include folders
// of the allow-listed CUDA headers, and one -DNAME=VALUE per resolved param.
std::vector<std::string> nvrtc_options(const CompileOptions& opt,
                                       const std::map<std::string, int64_t>& params);

// The folders NVRTC searches for <...> includes: <cuda>/include and <cuda>/include/cccl.
std::vector<std::string> cuda_include_dirs(const CompileOptions& opt);

}  // namespace kevo
