// The LLM part of `kevo doctor`: the models a run would use, whether each one's API key is set,
// and (--probe) one tiny request per model with its latency or its error.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kevo::cli {

// {"configured": bool, "models": [{provider, model, base_url, api_key_env, key_set, key_needed,
// probe?: {ok, latency_s, reply | error}}], "error"?: the config's problem}. The models are the
// config's (`config_path`), else the one `kevo run` picks from OPENAI_API_KEY, else none.
nlohmann::json llm_report(const std::string& config_path, bool probe);

// One text row per model ("LLM model 1", "  probe"), as {label, value}.
std::vector<std::pair<std::string, std::string>> llm_rows(const nlohmann::json& report);

}  // namespace kevo::cli
