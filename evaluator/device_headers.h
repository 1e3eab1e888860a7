// The files under evaluator/device/, compiled into the binary (cmake/EmbedFiles.cmake): the task
// header and device helpers that candidates include as "kevo/...". NVRTC gets them from memory;
// export copies them into packages.
#pragma once

#include <string>
#include <vector>

#include "common/embedded.h"

namespace kevo {

// Paths relative to evaluator/device, e.g. "kevo/sparse_decode.cuh". Defined in generated code.
const std::vector<EmbeddedFile>& embedded_device_headers();

// SHA-256 over every header's path and contents: part of the compile cache key, so editing a
// device helper invalidates cached CUBINs.
const std::string& device_headers_hash();

}  // namespace kevo
