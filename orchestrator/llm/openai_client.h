// OpenAI-compatible chat completions (POST {base_url}/chat/completions): OpenAI, vLLM, SGLang,
// Ollama, llama.cpp server, OpenRouter. Private to orchestrator/; use make_model_client().
#pragma once

#include <memory>

#include "orchestrator/llm/llm_client.h"

namespace kevo {

std::unique_ptr<LlmClient> make_openai_client(const LlmModelConfig& model,
                                              const LlmClientOptions& options);

}  // namespace kevo
