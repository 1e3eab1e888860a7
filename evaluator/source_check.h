// Checks a candidate's text before NVRTC sees it. NVRTC is not a sandbox: it opens any path an
// #include names and echoes the file into its log. So a candidate may include only the task
// headers (supplied from memory) and an allow-list of CUDA device headers, found through the
// include path and resolving inside it; every preprocessor feature that could reach another
// file, or make our reading of the file differ from the compiler's, is refused. Pure, no GPU.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace kevo {

struct SourceCheckOptions {
  // Folders NVRTC searches for <...> includes, in its order (-I). Each allow-listed CUDA header
  // must exist in one and resolve (after symlinks) inside it. Empty: the check is skipped.
  std::vector<std::string> include_dirs;
  // Names of the headers supplied from memory ("kevo/sparse_decode.cuh", ...).
  std::vector<std::string> task_headers;
};

// Ok, or InvalidArgument "line N: what is refused and what to write instead" (the evaluator
// reports it as rejected_source). The message quotes the candidate's own text only, never any
// other file's.
Status check_source(const std::string& source, const SourceCheckOptions& opt);

// True when `name` (as written between <>) is on the CUDA header allow-list.
bool is_allowed_cuda_header(const std::string& name);

}  // namespace kevo
