#include "orchestrator/llm/anthropic_client.h"

#include "orchestrator/llm/model_client.h"

namespace kevo {
namespace {

using nlohmann::json;

// The API version this wire format was written against (docs.anthropic.com, "Versions").
constexpr const char* kAnthropicVersion = "2023-06-01";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

class AnthropicWire : public WireFormat {
 public:
  std::string provider() const override { return "anthropic"; }

  std::string url(const LlmModelConfig& model) const override {
    std::string base = join_url(model.base_url, "");
    return join_url(base, ends_with(base, "/v1") ? "/messages" : "/v1/messages");
  }

  std::vector<std::string> headers(const std::string& key) const override {
    std::vector<std::string> h = {"Content-Type: application/json", "Accept: application/json",
                                  std::string("anthropic-version: ") + kAnthropicVersion};
    if (!key.empty()) h.push_back("x-api-key: " + key);
    return h;
  }

  std::string body(const LlmModelConfig& model, const LlmRequest& request) const override {
    json messages = json::array();
    for (const ChatMessage& m : request.messages) {
      messages.push_back({{"role", m.role}, {"content", m.content}});
    }
    json b = {{"model", model.model}, {"max_tokens", model.max_tokens}, {"messages", messages}};
    // The system message (task, GPU, device API) is the same for every request of a run: marked
    // for Anthropic's prompt cache, it is billed at the cache rate after the first request.
    if (!request.system.empty()) {
      b["system"] = json::array({{{"type", "text"},
                                  {"text", request.system},
                                  {"cache_control", {{"type", "ephemeral"}}}}});
    }
    if (!model.reasoning_model) b["temperature"] = model.temperature;
    return b.dump(-1, ' ', false, json::error_handler_t::replace);
  }

  Result<WireReply> parse(const std::string& body) const override {
    KEVO_ASSIGN_OR_RETURN(json j, parse_json_object(body));
    try {
      if (j.value("type", "") == "error" || (j.contains("error") && !j["error"].is_null())) {
        return Status::InvalidArgument("the server sent an error: " + error_detail(body));
      }
      if (!j.contains("content") || !j["content"].is_array()) {
        return Status::InvalidArgument("the reply has no 'content' list");
      }
      WireReply r;
      if (j.contains("stop_reason") && j["stop_reason"].is_string()) {
        r.finish_reason = j["stop_reason"].get<std::string>();
      }
      for (const auto& block : j["content"]) {  // thinking blocks are skipped
        if (block.is_object() && block.value("type", "") == "text") {
          r.text += block.at("text").get<std::string>();
        }
      }
      if (r.text.empty()) {
        return Status::InvalidArgument("the reply has no text block (stop_reason '" +
                                       r.finish_reason + "')");
      }
      if (j.contains("usage") && j["usage"].is_object()) {
        const json& u = j["usage"];
        // Cached prompt tokens are reported apart; all of them were sent, all count as input.
        r.tokens_in = u.value("input_tokens", int64_t{0}) +
                      u.value("cache_creation_input_tokens", int64_t{0}) +
                      u.value("cache_read_input_tokens", int64_t{0});
        r.tokens_out = u.value("output_tokens", int64_t{0});
      }
      return r;
    } catch (const json::exception& e) {
      return Status::InvalidArgument(std::string("unexpected reply shape: ") + e.what());
    }
  }
};

}  // namespace

std::unique_ptr<WireFormat> make_anthropic_wire() { return std::make_unique<AnthropicWire>(); }

std::unique_ptr<LlmClient> make_anthropic_client(const LlmModelConfig& model,
                                                 const LlmClientOptions& options) {
  return std::make_unique<HttpModelClient>(model, options, make_anthropic_wire());
}

}  // namespace kevo
