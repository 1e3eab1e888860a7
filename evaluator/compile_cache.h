// On-disk cache of successful compiles: one JSON file per key (the CompileOutcome with its CUBIN
// as base64), written to a temporary name and renamed, so readers never see half a file and
// concurrent compile workers may share one folder. Private to the evaluator.
#pragma once

#include <optional>
#include <string>

#include "evaluator/evaluator.h"

namespace kevo {

// Hex SHA-256 over everything that changes the CUBIN: source, resolved params (sorted), arch,
// NVRTC version, the device headers and the compiler options.
std::string compile_cache_key(const std::string& source, const std::map<std::string, int64_t>& params,
                              const std::string& arch, const std::string& nvrtc_version,
                              const std::vector<std::string>& options);

// The stored outcome, or nullopt on a miss or an unreadable entry (treated as a miss).
std::optional<CompileOutcome> cache_load(const std::string& dir, const std::string& key);

// Creates `dir` if needed. An IoError is reported, not fatal: the compile result stands.
Status cache_store(const std::string& dir, const std::string& key, const CompileOutcome& outcome);

}  // namespace kevo
