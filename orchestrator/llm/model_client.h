// The part of an HTTP LLM client that does not depend on the provider (private to orchestrator/):
// key from the environment, retries with backoff and jitter honouring Retry-After, cost
// accounting, redaction of the key from every message, and recording of every call.
// openai_client.cc and anthropic_client.cc supply the wire format.
#pragma once

#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/llm/http_client.h"
#include "orchestrator/llm/llm_client.h"

namespace kevo {

// The reply fields a provider's JSON yields.
struct WireReply {
  std::string text;
  std::string finish_reason;
  int64_t tokens_in = 0;
  int64_t tokens_out = 0;
};

// One provider's request and reply format. Implementations are stateless (thread-safe).
class WireFormat {
 public:
  virtual ~WireFormat() = default;
  virtual std::string provider() const = 0;
  virtual std::string url(const LlmModelConfig& model) const = 0;
  // Headers for one call; `key` may be empty (local servers need none).
  virtual std::vector<std::string> headers(const std::string& key) const = 0;
  virtual std::string body(const LlmModelConfig& model, const LlmRequest& request) const = 0;
  // InvalidArgument with what is wrong for anything but a well-formed reply with text.
  virtual Result<WireReply> parse(const std::string& body) const = 0;
};

std::unique_ptr<WireFormat> make_openai_wire();
std::unique_ptr<WireFormat> make_anthropic_wire();

// The provider's own error text from an error body ({"error": {"message": ...}} in both APIs),
// else the body's start; at most ~300 characters.
std::string error_detail(const std::string& body);

// The body as a JSON object, or InvalidArgument saying it is garbage or truncated (with its size
// and first characters), so the LLM loop can record something a person can act on.
Result<nlohmann::json> parse_json_object(const std::string& body);

// base_url without trailing slashes + suffix.
std::string join_url(const std::string& base_url, const std::string& suffix);

// `a` with every occurrence of `secret` replaced by "[redacted]" (no-op for an empty secret).
std::string redact(std::string a, const std::string& secret);

class HttpModelClient : public LlmClient {
 public:
  HttpModelClient(LlmModelConfig model, LlmClientOptions options, std::unique_ptr<WireFormat> wire);
  Result<LlmReply> complete(const LlmRequest& request) override;

 private:
  struct Attempt;
  Attempt attempt(const LlmRequest& request, const std::string& key) const;
  double backoff_s(int retry);  // the wait before retry number `retry` (1-based), jittered
  bool sleep_unless_cancelled(double seconds) const;
  void record(const LlmRequest& request, const Result<LlmReply>& outcome, int http_status,
              int attempts, double latency_s) const;

  LlmModelConfig model_;
  LlmClientOptions options_;
  std::unique_ptr<WireFormat> wire_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
};

}  // namespace kevo
