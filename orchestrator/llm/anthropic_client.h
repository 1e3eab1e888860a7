// Anthropic messages API (POST {base_url}/messages when base_url ends in /v1, else
// {base_url}/v1/messages; x-api-key and anthropic-version headers). Private to orchestrator/; use
// make_model_client().
#pragma once

#include <memory>

#include "orchestrator/llm/llm_client.h"

namespace kevo {

std::unique_ptr<LlmClient> make_anthropic_client(const LlmModelConfig& model,
                                                 const LlmClientOptions& options);

}  // namespace kevo
