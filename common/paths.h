// Where kevo finds its data folders (seeds/, prompts/, configs/) and its own executable.
#pragma once

#include <string>

#include "common/status.h"

namespace kevo {

// Absolute path of the running executable (/proc/self/exe).
std::string self_executable();

// The folder holding seeds/, prompts/ and configs/. Looked for, in order: $KEVO_HOME, the
// executable's folder and its parents up to three levels (a bundle or a build tree), and the
// source tree this binary was built from.
Result<std::string> data_root();

// data_root() + "/" + relative, or NotFound naming every place searched.
Result<std::string> data_path(const std::string& relative);

}  // namespace kevo
