// LLM clients: the one interface the evolution loop talks to, whatever the provider.
//
//   auto client = make_llm_client(config.llm, &recorder, seed);   // ensemble of configured models
//   LlmPool pool(**client, config.llm.max_in_flight);             // many requests in flight
//   std::future<Result<LlmReply>> f = pool.submit({system, user, "parent=41 diff"});
//
// Providers: OpenAI-compatible chat completions (OpenAI, vLLM, SGLang, Ollama, llama.cpp server,
// OpenRouter) and Anthropic messages, over libcurl. The API key is read from the environment
// variable the config names, at call time; it is never logged, recorded or kept in memory after
// the call. Failures are values: Timeout, Unavailable (429, 5xx, connection), InvalidArgument
// (4xx, a reply that is not the JSON we expect, a reply over the size cap), Cancelled.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "orchestrator/config/config.h"

namespace kevo {

// One turn of a conversation. The loop sends system + user; a retry sends system + user +
// assistant (the failed reply, as the model wrote it) + user (what failed).
struct ChatMessage {
  std::string role;  // "user" or "assistant"
  std::string content;
};

struct LlmRequest {
  std::string system;
  std::vector<ChatMessage> messages;  // alternating, starting and ending with "user"
  std::string tag;  // opaque label copied into the call record (e.g. "ask=7 parent=41 diff")
  int64_t parent = 0;  // the program the request is about (0: none), for the call record
  int attempt = 1;     // 2 for the retry that shows the model its failed reply

  // A single-turn request.
  static LlmRequest single(std::string system, std::string user, std::string tag = "");
  // The last user message ("" when there is none).
  const std::string& last_user() const;
};

struct LlmReply {
  std::string text;
  std::string model;          // the model that answered (an ensemble picks one per request)
  std::string finish_reason;  // provider's word: "stop", "length", "end_turn", "max_tokens"...
  int64_t tokens_in = 0;
  int64_t tokens_out = 0;
  double cost_usd = 0;    // from the config's price table
  double latency_s = 0;   // whole call, retries and waits included
  int http_status = 0;    // of the last attempt
  int attempts = 0;       // 1 + retries
};

// What a CallRecorder receives for every call, successful or not.
struct LlmCallRecord {
  std::string provider;  // "openai", "anthropic", "replay"
  std::string model;
  std::string tag;
  std::string system;
  std::vector<ChatMessage> messages;  // the whole conversation sent
  int64_t parent = 0;                 // LlmRequest::parent
  int attempt = 1;                    // LlmRequest::attempt
  std::string response;  // reply text (valid UTF-8: invalid bytes replaced); empty on failure
  int64_t tokens_in = 0, tokens_out = 0;
  double cost_usd = 0;
  double latency_s = 0;
  int http_status = 0;  // 0 when no HTTP reply came (timeout, connection refused)
  int attempts = 0;
  StatusCode code = StatusCode::kOk;
  std::string error;  // the failure's message; empty when ok
  std::string finish_reason;
};

// The record of one call: the request's conversation and tags, and the reply's text, tokens, cost
// and HTTP figures or the failure. The caller adds what only it knows (provider, model, latency,
// or HTTP figures of a failed call).
LlmCallRecord call_record(const LlmRequest& request, const Result<LlmReply>& outcome);

// Receives every call (the archive implements it). Called from the calling thread, possibly from
// many threads at once: implementations must be thread-safe. Must not throw.
class CallRecorder {
 public:
  virtual ~CallRecorder() = default;
  virtual void record(const LlmCallRecord& call) = 0;
};

// Thread-safe: complete() may be called from many threads at once (each HTTP call has its own
// curl handle). Blocks until the reply, the final failure, or cancellation.
class LlmClient {
 public:
  virtual ~LlmClient() = default;
  virtual Result<LlmReply> complete(const LlmRequest& request) = 0;
};

// Transport and retry settings shared by every model of a run (from LlmConfig, plus limits that
// are not worth a config key).
struct LlmClientOptions {
  double connect_timeout_s = 10;
  double timeout_s = 300;  // per attempt
  int max_retries = 4;     // after the first attempt, on 429, 5xx, timeouts, connection errors
  double backoff_initial_s = 2;
  double backoff_max_s = 60;
  // A server's Retry-After is honoured up to this; a longer one ends the call (the loop can ask
  // again later) rather than parking a worker for an hour.
  double max_retry_after_s = 600;
  // A whole kernel file plus reasoning is well under 1 MB; 8 MB admits anything sane while a
  // runaway stream cannot exhaust memory.
  size_t max_response_bytes = 8u << 20;
  uint64_t jitter_seed = 0;  // backoff jitter; seeded so a run's waits are reproducible
  // Set to true (e.g. on Ctrl-C) to abort transfers and waits: calls end with Cancelled.
  // Not owned; must outlive the client.
  const std::atomic<bool>* cancel = nullptr;
  CallRecorder* recorder = nullptr;  // not owned; may be null
};

LlmClientOptions client_options_from_config(const LlmConfig& config);

// One model. InvalidArgument for an unknown provider. The key variable is read on each call.
Result<std::unique_ptr<LlmClient>> make_model_client(const LlmModelConfig& model,
                                                     const LlmClientOptions& options);

// Picks one client per request, with probability proportional to its weight, from a seeded RNG
// (same seed and call order, same picks). Weights must be positive.
std::unique_ptr<LlmClient> make_ensemble_client(
    std::vector<std::pair<std::unique_ptr<LlmClient>, double>> members, uint64_t seed);

// The run's client: an ensemble of config.models (one model: that model). InvalidArgument when
// no model is configured. `recorder` may be null.
Result<std::unique_ptr<LlmClient>> make_llm_client(const LlmConfig& config, CallRecorder* recorder,
                                                   uint64_t seed,
                                                   const std::atomic<bool>* cancel = nullptr);

// One client per configured model, in config order (the evolution loop picks among them itself,
// so that it can pause a model that stops paying off). InvalidArgument as make_llm_client.
Result<std::vector<std::unique_ptr<LlmClient>>> make_model_clients(
    const LlmConfig& config, CallRecorder* recorder, uint64_t seed,
    const std::atomic<bool>* cancel = nullptr);

// Replays recorded calls in order, one per complete(): an ok record gives its reply (text, model,
// tokens, cost), a failed one gives the same error code and message. After the last record,
// complete() returns NotFound. Calls are recorded to `recorder` (may be null) as provider
// "replay". Thread-safe; with many threads the order of replies follows the order of calls.
std::unique_ptr<LlmClient> make_replay_client(std::vector<LlmCallRecord> records,
                                              CallRecorder* recorder = nullptr);

// Keeps up to max_in_flight requests running on worker threads; the rest wait in a queue.
// Thread-safe. The destructor stops: queued requests end with Cancelled, running ones are waited
// for (set the clients' cancel flag first to cut them short).
class LlmPool {
 public:
  explicit LlmPool(int max_in_flight);
  ~LlmPool();
  LlmPool(const LlmPool&) = delete;
  LlmPool& operator=(const LlmPool&) = delete;

  // `client` is not owned and must outlive the pool.
  std::future<Result<LlmReply>> submit(LlmClient& client, LlmRequest request);
  // `done` runs on a worker thread when the request ends (also with Cancelled at shutdown).
  void submit(LlmClient& client, LlmRequest request, std::function<void(Result<LlmReply>)> done);

  int in_flight() const;  // running now
  int queued() const;     // waiting for a worker

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kevo
