// The pipe protocol between the orchestrator and its workers (private to sandbox/). One JSON
// object per line, each way:
//
//   compile worker                         gpu runner
//   <- {"ready":true, "landlock":..}       -> {"op":"init","evaluator":{..}}
//   -> {"id":7,"candidate":{..},           <- {"ready":true,"arch":"sm_90a","free_bytes":..}
//       "arch":"sm_90a","timeout_s":30}    ->
//       {"id":7,"candidate":{..},"compiled":{..},"suite":".."}
//   <- {"id":7,"outcome":{..}}             <-
//   {"id":7,"result":{..},"poisoned":false,"free_bytes":..}
//
// An evaluation request may add "counters":true or "counters_only":true (EvalOptions).
//
// A worker that cannot start answers {"ready":false,"error":"..."} and exits. Replies always
// carry the request's id, so a late reply to an abandoned request is never taken for another.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "common/status.h"
#include "evaluator/config.h"

namespace kevo::sandbox {

// Requests and replies are small except CUBIN (base64) and sources; 64 MiB is far above any
// real kernel and still bounds what a confused peer can make us buffer.
constexpr size_t kMaxLineBytes = 64 << 20;

nlohmann::json evaluator_config_to_json(const EvaluatorConfig& c);
Result<EvaluatorConfig> evaluator_config_from_json(const nlohmann::json& j);

// Parses one line; InvalidArgument (with the parser's message) when it is not a JSON object.
Result<nlohmann::json> parse_message(const std::string& line);

}  // namespace kevo::sandbox
