// Sections of `kevo status` that grow with the parts they report on, each in its own file so
// those parts can extend them without touching the layout in cmd_status.cc.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "archive/archive.h"
#include "common/status.h"

namespace kevo::cli {

// The LLM loop: requests, failures, tokens and cost, replies rejected before evaluation.
// `lines` are printed as they are (first line starts "LLM" in the status's label column);
// `json` is the status JSON's "llm" object.
struct LlmStatus {
  std::vector<std::string> lines;
  nlohmann::json json = nlohmann::json::object();
};
Result<LlmStatus> llm_status(ArchiveReader& reader, const StatusReport& report);

}  // namespace kevo::cli
