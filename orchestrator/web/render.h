// HTML renderings of the models in model.h, private to orchestrator/web. Each returns the body
// of a page (html.h's page() wraps it); every archive text is escaped.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "orchestrator/web/html.h"

namespace kevo::web {

std::string render_overview(const nlohmann::json& overview);
std::string render_heatmaps(const nlohmann::json& map);
std::string render_program(const nlohmann::json& program);
std::string render_calls(const nlohmann::json& calls);
std::string render_call(const nlohmann::json& call);
// The LLM exchange of a call (prompt messages, reply, outcome), shared by program and call pages.
std::string render_exchange(const nlohmann::json& call);

}  // namespace kevo::web
