#include "orchestrator/llm/openai_client.h"

#include "orchestrator/llm/model_client.h"

namespace kevo {
namespace {

using nlohmann::json;

class OpenAiWire : public WireFormat {
 public:
  std::string provider() const override { return "openai"; }

  std::string url(const LlmModelConfig& model) const override {
    return join_url(model.base_url, "/chat/completions");
  }

  std::vector<std::string> headers(const std::string& key) const override {
    std::vector<std::string> h = {"Content-Type: application/json", "Accept: application/json"};
    if (!key.empty()) h.push_back("Authorization: Bearer " + key);
    return h;
  }

  std::string body(const LlmModelConfig& model, const LlmRequest& request) const override {
    json messages = json::array();
    if (!request.system.empty()) messages.push_back({{"role", "system"}, {"content", request.system}});
    for (const ChatMessage& m : request.messages) {
      messages.push_back({{"role", m.role}, {"content", m.content}});
    }
    json b = {{"model", model.model}, {"messages", messages}};
    if (model.reasoning_model) {
      // o-series / gpt-5 reject max_tokens and any temperature but the default.
      b["max_completion_tokens"] = model.max_tokens;
    } else {
      b["max_tokens"] = model.max_tokens;
      b["temperature"] = model.temperature;
    }
    if (!model.reasoning_effort.empty()) b["reasoning_effort"] = model.reasoning_effort;
    // Invalid UTF-8 in a prompt (a byte from a compile log) is replaced, never a throw.
    return b.dump(-1, ' ', false, json::error_handler_t::replace);
  }

  Result<WireReply> parse(const std::string& body) const override {
    KEVO_ASSIGN_OR_RETURN(json j, parse_json_object(body));
    try {
      if (j.contains("error") && !j["error"].is_null()) {
        return Status::InvalidArgument("the server sent an error: " + error_detail(body));
      }
      if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) {
        return Status::InvalidArgument("the reply has no 'choices'");
      }
      const json& choice = j["choices"][0];
      WireReply r;
      if (choice.contains("finish_reason") && choice["finish_reason"].is_string()) {
        r.finish_reason = choice["finish_reason"].get<std::string>();
      }
      const json& msg = choice.at("message");
      const json& content = msg.contains("content") ? msg["content"] : json();
      if (content.is_string()) {
        r.text = content.get<std::string>();
      } else if (content.is_array()) {  // some servers send content parts
        for (const auto& part : content) {
          if (part.is_object() && part.value("type", "") == "text") {
            r.text += part.value("text", "");
          }
        }
      }
      if (r.text.empty()) {
        if (msg.contains("refusal") && msg["refusal"].is_string()) {
          return Status::InvalidArgument("the model refused: " +
                                         msg["refusal"].get<std::string>().substr(0, 300));
        }
        return Status::InvalidArgument("the reply has no text (finish_reason '" +
                                       r.finish_reason + "')");
      }
      if (j.contains("usage") && j["usage"].is_object()) {
        const json& u = j["usage"];
        r.tokens_in = u.value("prompt_tokens", int64_t{0});
        r.tokens_out = u.value("completion_tokens", int64_t{0});
      }
      return r;
    } catch (const json::exception& e) {
      return Status::InvalidArgument(std::string("unexpected reply shape: ") + e.what());
    }
  }
};

}  // namespace

std::unique_ptr<WireFormat> make_openai_wire() { return std::make_unique<OpenAiWire>(); }

std::unique_ptr<LlmClient> make_openai_client(const LlmModelConfig& model,
                                              const LlmClientOptions& options) {
  return std::make_unique<HttpModelClient>(model, options, make_openai_wire());
}

}  // namespace kevo
