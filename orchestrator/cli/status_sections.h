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

namespace kevo::cli {

// The work queue of a shared (PostgreSQL) archive: the workers that registered (host, pid, GPU
// model, evaluations, heartbeat age) and the tasks by state. Empty `lines` and a null `json` for
// an archive no worker ever used.
struct WorkersStatus {
  std::vector<std::string> lines;
  nlohmann::json json;
};
WorkersStatus workers_status(const std::string& location);

}  // namespace kevo::cli
