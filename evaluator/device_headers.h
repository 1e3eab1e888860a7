// The device code compiled into the binary (cmake/EmbedFiles.cmake): the files under
// evaluator/device/, the task header and device helpers that candidates include as "kevo/...",
// and the evaluator's internal kernels. NVRTC gets them from memory; export copies them into
// packages.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/embedded.h"

namespace kevo {

// Paths relative to evaluator/device, e.g. "kevo/sparse_decode.cuh". Defined in generated code.
const std::vector<EmbeddedFile>& embedded_device_headers();

// SHA-256 over every header's path and contents: part of the compile cache key, so editing a
// device helper invalidates cached CUBINs.
const std::string& device_headers_hash();

// A file of evaluator/internal_kernels/ as embedded in this binary ("internal.cu", "gen_math.h";
// empty if absent): NVRTC compiles them, and exported packages ship gen_math.h so that their
// self-checks generate the suite's data without kevo.
std::string_view internal_kernel_file(std::string_view path);

}  // namespace kevo
