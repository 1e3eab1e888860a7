// The LLM clients against a real HTTP server on loopback with scripted replies.
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "orchestrator/config/config.h"
#include "orchestrator/config/config_check.h"
#include "orchestrator/evolution/backend.h"
#include "orchestrator/llm/http_client.h"
#include "orchestrator/llm/llm_client.h"
#include "tests/loopback_http_server.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

using nlohmann::json;
using testing::LoopbackHttpServer;
using testing::ScriptedReply;

constexpr char kKey[] = "sk-test-SECRET-4f9a2c";

class MemoryRecorder : public CallRecorder {
 public:
  void record(const LlmCallRecord& c) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(c);
  }
  std::vector<LlmCallRecord> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::vector<LlmCallRecord> calls_;
};

std::string openai_reply(const std::string& text, int in = 1000, int out = 500) {
  return json{{"id", "chatcmpl-1"},
              {"model", "test-model-2024"},
              {"choices", {{{"index", 0},
                            {"message", {{"role", "assistant"}, {"content", text}}},
                            {"finish_reason", "stop"}}}},
              {"usage", {{"prompt_tokens", in}, {"completion_tokens", out}}}}
      .dump();
}

ScriptedReply ok_reply(const std::string& text) { return {200, {}, openai_reply(text)}; }

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

class LlmClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("KEVO_TEST_LLM_KEY", kKey, 1);
    // A proxy from the environment must not intercept loopback traffic.
    ::setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    ::setenv("no_proxy", "127.0.0.1,localhost", 1);
    model_.provider = "openai";
    model_.base_url = server_.url() + "/v1";
    model_.model = "test-model";
    model_.api_key_env = "KEVO_TEST_LLM_KEY";
    model_.temperature = 0.7;
    model_.max_tokens = 4096;
    model_.usd_per_mtok_in = 2.0;
    model_.usd_per_mtok_out = 8.0;
    options_.timeout_s = 10;
    options_.connect_timeout_s = 5;
    options_.max_retries = 2;
    options_.backoff_initial_s = 0.01;  // retries in tests should not wait
    options_.backoff_max_s = 0.05;
    options_.recorder = &recorder_;
  }

  std::unique_ptr<LlmClient> client() {
    auto c = make_model_client(model_, options_);
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    return std::move(c).value();
  }

  LlmRequest request() {
    return LlmRequest::single("You write CUDA.", "Make it faster.", "parent=41 kind=diff");
  }

  LoopbackHttpServer server_;
  LlmModelConfig model_;
  LlmClientOptions options_;
  MemoryRecorder recorder_;
};

TEST_F(LlmClientTest, GoodReplyGivesTextTokensCostAndRecord) {
  server_.push(ok_reply("<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE"));
  auto r = client()->complete(request());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->text, "<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE");
  EXPECT_EQ(r->model, "test-model");
  EXPECT_EQ(r->finish_reason, "stop");
  EXPECT_EQ(r->tokens_in, 1000);
  EXPECT_EQ(r->tokens_out, 500);
  EXPECT_NEAR(r->cost_usd, 1000 * 2.0 / 1e6 + 500 * 8.0 / 1e6, 1e-12);
  EXPECT_EQ(r->http_status, 200);
  EXPECT_EQ(r->attempts, 1);
  EXPECT_GE(r->latency_s, 0);

  auto reqs = server_.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].path, "/v1/chat/completions");
  EXPECT_EQ(reqs[0].headers["authorization"], std::string("Bearer ") + kKey);
  json body = json::parse(reqs[0].body);
  EXPECT_EQ(body["model"], "test-model");
  EXPECT_EQ(body["max_tokens"], 4096);
  EXPECT_DOUBLE_EQ(body["temperature"].get<double>(), 0.7);
  EXPECT_FALSE(body.contains("max_completion_tokens"));
  ASSERT_EQ(body["messages"].size(), 2u);
  EXPECT_EQ(body["messages"][0]["role"], "system");
  EXPECT_EQ(body["messages"][0]["content"], "You write CUDA.");
  EXPECT_EQ(body["messages"][1]["role"], "user");
  EXPECT_EQ(body["messages"][1]["content"], "Make it faster.");

  auto calls = recorder_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].provider, "openai");
  EXPECT_EQ(calls[0].model, "test-model");
  EXPECT_EQ(calls[0].tag, "parent=41 kind=diff");
  EXPECT_EQ(calls[0].system, "You write CUDA.");
  EXPECT_EQ(calls[0].messages.back().content, "Make it faster.");
  EXPECT_EQ(calls[0].response, r->text);
  EXPECT_EQ(calls[0].code, StatusCode::kOk);
  EXPECT_EQ(calls[0].tokens_in, 1000);
  EXPECT_NEAR(calls[0].cost_usd, r->cost_usd, 1e-12);
}

TEST_F(LlmClientTest, ReasoningModelSendsMaxCompletionTokensAndNoTemperature) {
  model_.reasoning_model = true;
  model_.reasoning_effort = "high";
  server_.push(ok_reply("ok"));
  ASSERT_TRUE(client()->complete(request()).ok());
  json body = json::parse(server_.requests().at(0).body);
  EXPECT_EQ(body["max_completion_tokens"], 4096);
  EXPECT_FALSE(body.contains("max_tokens"));
  EXPECT_FALSE(body.contains("temperature"));
  EXPECT_EQ(body["reasoning_effort"], "high");
}

TEST_F(LlmClientTest, RateLimitedWithRetryAfterSecondsThenSuccess) {
  server_.push({429, {{"Retry-After", "1"}}, R"({"error":{"message":"slow down"}})"});
  server_.push(ok_reply("second time lucky"));
  auto t0 = std::chrono::steady_clock::now();
  auto r = client()->complete(request());
  double elapsed = since(t0);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->text, "second time lucky");
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(server_.requests().size(), 2u);
  EXPECT_GE(elapsed, 0.9);  // the server's 1 s, not the test's 0.01 s backoff
  ASSERT_EQ(recorder_.calls().size(), 1u);  // one call, two attempts
  EXPECT_EQ(recorder_.calls()[0].attempts, 2);
}

TEST_F(LlmClientTest, RateLimitedWithRetryAfterHttpDate) {
  char date[64];
  std::time_t when = std::time(nullptr) + 2;
  std::tm tm{};
  gmtime_r(&when, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  server_.push({429, {{"Retry-After", date}}, "{}"});
  server_.push(ok_reply("ok"));
  auto t0 = std::chrono::steady_clock::now();
  auto r = client()->complete(request());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_GE(since(t0), 0.9);  // a date 2 s ahead at 1 s resolution: at least ~1 s of waiting
}

TEST(RetryAfter, ParsesSecondsAndHttpDates) {
  std::time_t t = 1445412480;  // Wed, 21 Oct 2015 07:28:00 GMT
  EXPECT_EQ(http::parse_retry_after("120", t), 120.0);
  EXPECT_EQ(http::parse_retry_after(" 7 ", t), 7.0);
  EXPECT_EQ(http::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", t - 30), 30.0);
  EXPECT_EQ(http::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", t + 30), 0.0);  // past
  EXPECT_FALSE(http::parse_retry_after("soon", t).has_value());
  EXPECT_FALSE(http::parse_retry_after("", t).has_value());
  EXPECT_FALSE(http::parse_retry_after("99999999999999999999", t).has_value());
}

TEST_F(LlmClientTest, RetryAfterBeyondTheLimitEndsTheCall) {
  options_.max_retry_after_s = 5;
  server_.push({429, {{"Retry-After", "3600"}}, "{}"});
  auto r = client()->complete(request());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("over the 5.0 s limit"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(server_.requests().size(), 1u);
}

TEST_F(LlmClientTest, ServerErrorThenSuccess) {
  server_.push({500, {}, R"({"error":{"message":"upstream exploded"}})"});
  server_.push(ok_reply("recovered"));
  auto r = client()->complete(request());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->text, "recovered");
  EXPECT_EQ(r->attempts, 2);
}

TEST_F(LlmClientTest, PersistentServerErrorsEndAfterMaxRetries) {
  for (int i = 0; i < 3; ++i) server_.push({503, {}, R"({"error":{"message":"overloaded"}})"});
  auto r = client()->complete(request());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("HTTP 503"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("overloaded"), std::string::npos);
  EXPECT_NE(r.status().message().find("after 3 attempts"), std::string::npos);
  EXPECT_EQ(server_.requests().size(), 3u);  // 1 + max_retries
  auto calls = recorder_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].code, StatusCode::kUnavailable);
  EXPECT_EQ(calls[0].http_status, 503);
  EXPECT_EQ(calls[0].attempts, 3);
  EXPECT_EQ(calls[0].response, "");
  EXPECT_EQ(calls[0].messages.back().content, "Make it faster.");  // failures keep the prompt for the audit
}

TEST_F(LlmClientTest, BadRequestIsNotRetried) {
  server_.push({400, {}, R"({"error":{"message":"max_tokens is too large"}})"});
  auto r = client()->complete(request());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("max_tokens is too large"), std::string::npos);
  EXPECT_EQ(server_.requests().size(), 1u);
}

TEST_F(LlmClientTest, GarbageBodyIsAClearError) {
  server_.push({200, {}, "<html><body>Bad Gateway</body></html>"});
  auto r = client()->complete(request());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("not valid JSON"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("<html>"), std::string::npos);  // shows what came
  EXPECT_EQ(recorder_.calls().at(0).code, StatusCode::kInvalidArgument);
}

TEST_F(LlmClientTest, TruncatedJsonIsAClearError) {
  std::string full = openai_reply("a complete kernel file");
  server_.push({200, {}, full.substr(0, full.size() / 2)});
  auto r = client()->complete(request());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos) << r.status().message();
}

TEST_F(LlmClientTest, JsonOfTheWrongShapeIsAClearError) {
  server_.push({200, {}, R"({"choices": [{"message": {"content": 42}}]})"});
  server_.push({200, {}, R"({"choices": []})"});
  server_.push({200, {}, R"([1, 2, 3])"});
  auto c = client();
  for (int i = 0; i < 3; ++i) {
    auto r = c->complete(request());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("malformed reply"), std::string::npos);
  }
}

TEST_F(LlmClientTest, ConnectionDroppedMidBodyIsRetried) {
  ScriptedReply dropped = ok_reply("never whole");
  dropped.drop_mid_body = true;
  server_.push(dropped);
  server_.push(ok_reply("whole"));
  auto r = client()->complete(request());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->text, "whole");
  EXPECT_EQ(r->attempts, 2);
}

TEST_F(LlmClientTest, ReplySlowerThanTheTimeoutIsATimeout) {
  options_.timeout_s = 0.3;
  options_.max_retries = 0;
  ScriptedReply slow = ok_reply("too late");
  slow.delay_s = 5;
  server_.push(slow);
  auto r = client()->complete(request());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTimeout);
  EXPECT_NE(r.status().message().find("no complete reply within"), std::string::npos);
  EXPECT_EQ(recorder_.calls().at(0).code, StatusCode::kTimeout);
  EXPECT_EQ(recorder_.calls().at(0).http_status, 0);
}

TEST_F(LlmClientTest, TimeoutIsRetried) {
  options_.timeout_s = 0.3;
  ScriptedReply slow = ok_reply("too late");
  slow.delay_s = 5;
  server_.push(slow);
  server_.push(ok_reply("in time"));
  auto r = client()->complete(request());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->text, "in time");
  EXPECT_EQ(r->attempts, 2);
}

TEST_F(LlmClientTest, FiveMegabyteReplyWorks) {
  std::string big(5u << 20, 'x');
  server_.push(ok_reply(big));
  auto r = client()->complete(request());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->text.size(), big.size());
}

TEST_F(LlmClientTest, ReplyOverTheCapIsAnError) {
  server_.push(ok_reply(std::string(9u << 20, 'x')));
  ScriptedReply unsized = ok_reply(std::string(9u << 20, 'y'));
  unsized.no_content_length = true;  // the cap must hold while streaming, too
  server_.push(unsized);
  auto c = client();
  for (int i = 0; i < 2; ++i) {
    auto r = c->complete(request());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("larger than 8388608 bytes"), std::string::npos)
        << r.status().message();
  }
  EXPECT_EQ(server_.requests().size(), 2u);  // not retried
}

TEST_F(LlmClientTest, ConnectionRefusedIsUnavailable) {
  int port;
  {
    LoopbackHttpServer gone;
    port = gone.port();
  }
  model_.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  options_.max_retries = 1;
  auto r = client()->complete(request());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(recorder_.calls().at(0).attempts, 2);
}

TEST_F(LlmClientTest, AnthropicMessagesFormat) {
  model_.provider = "anthropic";
  model_.base_url = server_.url() + "/v1";
  model_.model = "claude-test";
  json reply = {{"id", "msg_1"},
                {"type", "message"},
                {"role", "assistant"},
                {"content",
                 {{{"type", "thinking"}, {"thinking", "hmm"}},
                  {{"type", "text"}, {"text", "part one, "}},
                  {{"type", "text"}, {"text", "part two"}}}},
                {"stop_reason", "end_turn"},
                {"usage", {{"input_tokens", 100}, {"cache_read_input_tokens", 50},
                           {"output_tokens", 20}}}};
  server_.push({200, {}, reply.dump()});
  auto r = client()->complete(request());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->text, "part one, part two");
  EXPECT_EQ(r->finish_reason, "end_turn");
  EXPECT_EQ(r->tokens_in, 150);
  EXPECT_EQ(r->tokens_out, 20);
  EXPECT_NEAR(r->cost_usd, 150 * 2.0 / 1e6 + 20 * 8.0 / 1e6, 1e-12);

  auto req = server_.requests().at(0);
  EXPECT_EQ(req.path, "/v1/messages");
  EXPECT_EQ(req.headers["x-api-key"], kKey);
  EXPECT_EQ(req.headers["anthropic-version"], "2023-06-01");
  EXPECT_EQ(req.headers.count("authorization"), 0u);
  json body = json::parse(req.body);
  EXPECT_EQ(body["model"], "claude-test");
  EXPECT_EQ(body["system"][0]["text"], "You write CUDA.");
  EXPECT_EQ(body["max_tokens"], 4096);
  ASSERT_EQ(body["messages"].size(), 1u);
  EXPECT_EQ(body["messages"][0]["role"], "user");
  EXPECT_EQ(body["messages"][0]["content"], "Make it faster.");
  EXPECT_EQ(recorder_.calls().at(0).provider, "anthropic");
}

TEST_F(LlmClientTest, AnthropicBaseUrlWithoutVersionAndErrorBody) {
  model_.provider = "anthropic";
  model_.base_url = server_.url() + "/";
  server_.push({400, {},
                R"({"type":"error","error":{"type":"invalid_request_error","message":"bad model"}})"});
  auto r = client()->complete(request());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("bad model"), std::string::npos);
  EXPECT_EQ(server_.requests().at(0).path, "/v1/messages");
}

TEST_F(LlmClientTest, KeyIsSentButNeverRecordedOrLogged) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000);
  auto old_logger = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  spdlog::set_level(spdlog::level::trace);

  // A server that echoes the key back in its error bodies (some proxies do).
  std::string echo = std::string(R"({"error":{"message":"key )") + kKey + R"( is over quota"}})";
  server_.push({500, {}, echo});  // retried: logged at warn
  server_.push({401, {}, echo});  // final failure: in the error and the record
  auto r = client()->complete(request());
  server_.push(ok_reply("fine"));
  auto ok = client()->complete(request());
  spdlog::set_default_logger(old_logger);

  ASSERT_FALSE(r.ok());
  ASSERT_TRUE(ok.ok());
  for (const auto& req : server_.requests()) {
    EXPECT_EQ(req.headers.at("authorization"), std::string("Bearer ") + kKey);
  }
  EXPECT_EQ(r.status().message().find(kKey), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("[redacted]"), std::string::npos);
  EXPECT_NE(r.status().message().find("$KEVO_TEST_LLM_KEY"), std::string::npos);
  auto logged = sink->last_formatted();
  ASSERT_FALSE(logged.empty());  // the retry was logged
  for (const auto& line : logged) EXPECT_EQ(line.find(kKey), std::string::npos) << line;
  for (const auto& c : recorder_.calls()) {
    for (const std::string* field : {&c.provider, &c.model, &c.tag, &c.system,
                                     &c.messages.back().content, &c.response, &c.error,
                                     &c.finish_reason}) {
      EXPECT_EQ(field->find(kKey), std::string::npos) << *field;
    }
  }
}

TEST_F(LlmClientTest, MissingKeyVariableIsAnErrorBeforeAnyRequest) {
  model_.api_key_env = "KEVO_TEST_NO_SUCH_KEY_VAR";
  ::unsetenv("KEVO_TEST_NO_SUCH_KEY_VAR");
  auto r = client()->complete(request());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("KEVO_TEST_NO_SUCH_KEY_VAR"), std::string::npos);
  EXPECT_TRUE(server_.requests().empty());
  EXPECT_EQ(recorder_.calls().size(), 1u);
}

TEST_F(LlmClientTest, NoKeyVariableSendsNoAuthorization) {
  model_.api_key_env = "";  // a local vLLM or Ollama server
  server_.push(ok_reply("local"));
  ASSERT_TRUE(client()->complete(request()).ok());
  EXPECT_EQ(server_.requests().at(0).headers.count("authorization"), 0u);
}

TEST_F(LlmClientTest, CancelStopsARetryWait) {
  std::atomic<bool> cancel{false};
  options_.cancel = &cancel;
  server_.push({429, {{"Retry-After", "60"}}, "{}"});
  std::thread canceller([&] {
    while (server_.requests().empty()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    cancel = true;
  });
  auto r = client()->complete(request());
  canceller.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
}

TEST_F(LlmClientTest, CancelAbortsATransferInProgress) {
  std::atomic<bool> cancel{false};
  options_.cancel = &cancel;
  ScriptedReply slow = ok_reply("slow");
  slow.delay_s = 30;
  server_.push(slow);
  std::thread canceller([&] {
    while (server_.active() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    cancel = true;
  });
  auto r = client()->complete(request());
  canceller.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
}

TEST_F(LlmClientTest, PoolKeepsSixteenRequestsInFlight) {
  constexpr int kN = 16;
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  // Each handler waits until all 16 requests are being served at once (bounded), so the test
  // proves concurrency without timing anything.
  server_.set_handler([&](const testing::ReceivedRequest& req) {
    std::unique_lock<std::mutex> lock(mu);
    ++arrived;
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(20), [&] { return arrived >= kN; });
    return ScriptedReply{200, {}, openai_reply("reply to " + json::parse(req.body)["messages"][1]["content"].get<std::string>())};
  });
  auto c = client();
  LlmPool pool(kN);
  std::vector<std::future<Result<LlmReply>>> futures;
  for (int i = 0; i < kN; ++i) {
    LlmRequest req = request();
    req.messages.back().content = "request " + std::to_string(i);
    futures.push_back(pool.submit(*c, req));
  }
  for (int i = 0; i < kN; ++i) {
    auto r = futures[i].get();
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->text, "reply to request " + std::to_string(i));
  }
  EXPECT_EQ(server_.max_concurrent(), kN);
  EXPECT_EQ(recorder_.calls().size(), static_cast<size_t>(kN));
  EXPECT_EQ(pool.in_flight(), 0);
  EXPECT_EQ(pool.queued(), 0);
}

// A client that blocks until released, to see the pool's queue.
class GateClient : public LlmClient {
 public:
  Result<LlmReply> complete(const LlmRequest& request) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++started_;
    cv_.notify_all();
    cv_.wait_for(lock, std::chrono::seconds(20), [&] { return open_; });
    LlmReply r;
    r.text = request.last_user();
    return r;
  }
  void wait_started(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(20), [&] { return started_ >= n; });
  }
  void open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int started_ = 0;
  bool open_ = false;
};

TEST(LlmPool, BoundsInFlightAndCancelsQueuedOnShutdown) {
  GateClient gate;
  std::vector<std::future<Result<LlmReply>>> futures;
  {
    LlmPool pool(2);
    for (int i = 0; i < 5; ++i) {
      futures.push_back(pool.submit(gate, LlmRequest::single("", std::to_string(i))));
    }
    gate.wait_started(2);
    EXPECT_EQ(pool.in_flight(), 2);
    EXPECT_EQ(pool.queued(), 3);
    std::thread opener([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      gate.open();
    });
    opener.detach();
    // The destructor cancels the three queued requests and waits for the two running ones.
  }
  int ok = 0, cancelled = 0;
  for (auto& f : futures) {
    auto r = f.get();
    if (r.ok()) ++ok;
    if (!r.ok() && r.status().code() == StatusCode::kCancelled) ++cancelled;
  }
  EXPECT_EQ(ok + cancelled, 5);
  EXPECT_GE(ok, 2);
}

// A fake model that answers with its own name.
class NamedClient : public LlmClient {
 public:
  explicit NamedClient(std::string name) : name_(std::move(name)) {}
  Result<LlmReply> complete(const LlmRequest&) override {
    LlmReply r;
    r.model = name_;
    return r;
  }

 private:
  std::string name_;
};

std::vector<std::string> picks(uint64_t seed, int n) {
  std::vector<std::pair<std::unique_ptr<LlmClient>, double>> members;
  members.emplace_back(std::make_unique<NamedClient>("big"), 3.0);
  members.emplace_back(std::make_unique<NamedClient>("small"), 1.0);
  auto e = make_ensemble_client(std::move(members), seed);
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(e->complete(LlmRequest{})->model);
  return out;
}

TEST(LlmEnsemble, PicksByWeightAndIsReproducibleFromTheSeed) {
  auto a = picks(7, 2000);
  EXPECT_EQ(a, picks(7, 2000));
  EXPECT_NE(a, picks(8, 2000));
  int big = static_cast<int>(std::count(a.begin(), a.end(), "big"));
  EXPECT_GT(big, 1350);  // expected 1500 of 2000; deterministic for this seed
  EXPECT_LT(big, 1650);
}

TEST(LlmEnsemble, MakeLlmClientNeedsAModelAndBuildsOnePerEntry) {
  LlmConfig config;
  auto none = make_llm_client(config, nullptr, 1);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("llm.models is empty"), std::string::npos);

  LlmModelConfig bad;
  bad.provider = "gemini";
  bad.model = "x";
  config.models = {bad};
  auto unknown = make_llm_client(config, nullptr, 1);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown provider 'gemini'"), std::string::npos);
}

TEST(LlmReplay, ReturnsRecordedRepliesAndFailuresInOrder) {
  LlmCallRecord a;
  a.model = "m1";
  a.response = "first";
  a.tokens_in = 10;
  a.tokens_out = 5;
  a.cost_usd = 0.5;
  LlmCallRecord failed;
  failed.model = "m2";
  failed.code = StatusCode::kTimeout;
  failed.error = "m2: no complete reply within 300.0 s";
  LlmCallRecord b;
  b.model = "m1";
  b.response = "second";
  MemoryRecorder rec;
  auto replay = make_replay_client({a, failed, b}, &rec);

  auto r1 = replay->complete(LlmRequest::single("sys", "u1", "t1"));
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(r1->text, "first");
  EXPECT_EQ(r1->model, "m1");
  EXPECT_EQ(r1->tokens_in, 10);
  EXPECT_DOUBLE_EQ(r1->cost_usd, 0.5);
  auto r2 = replay->complete(LlmRequest::single("sys", "u2", "t2"));
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().code(), StatusCode::kTimeout);
  EXPECT_EQ(r2.status().message(), failed.error);
  auto r3 = replay->complete(LlmRequest::single("sys", "u3", "t3"));
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(r3->text, "second");
  auto r4 = replay->complete(LlmRequest::single("sys", "u4", "t4"));
  ASSERT_FALSE(r4.ok());
  EXPECT_EQ(r4.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r4.status().message().find("replay exhausted"), std::string::npos);

  auto calls = rec.calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[0].provider, "replay");
  EXPECT_EQ(calls[0].messages.back().content, "u1");
  EXPECT_EQ(calls[0].response, "first");
  EXPECT_EQ(calls[1].code, StatusCode::kTimeout);
  EXPECT_EQ(calls[3].code, StatusCode::kNotFound);
}

TEST(LlmConfig, ReasoningAndConnectTimeoutKeysLoad) {
  testing::TempDir dir;
  testing::write_file(dir.file("c.yaml"), R"(
llm:
  connect_timeout_s: 3
  models:
    - provider: openai
      model: o4-mini
      reasoning_model: true
      reasoning_effort: high
      usd_per_mtok_in: 1.1
      usd_per_mtok_out: 4.4
)");
  auto c = load_config(dir.file("c.yaml"));
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->llm.connect_timeout_s, 3);
  ASSERT_EQ(c->llm.models.size(), 1u);
  EXPECT_TRUE(c->llm.models[0].reasoning_model);
  auto o = client_options_from_config(c->llm);
  EXPECT_EQ(o.connect_timeout_s, 3);
  EXPECT_EQ(o.max_retries, c->llm.max_retries);
}

}  // namespace
}  // namespace kevo

namespace kevo {
namespace {

// The config as `kevo run` checks it (every check, every problem), as a Result.
Result<KevoConfig> config_from(const std::string& yaml) {
  CheckedConfig c = check_config_text(yaml, "c.yaml");
  if (!c.ok()) {
    std::string all;
    for (const auto& e : c.errors) all += e + "\n";
    return Status::InvalidArgument(all);
  }
  return c.config;
}

TEST(LlmConfig, AModelWithoutPricesUnderACostBudgetIsAConfigError) {
  auto c = config_from("run:\n  max_cost_usd: 5\nllm:\n  models:\n    - model: gpt-x\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("model 'gpt-x' has no prices"), std::string::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find("run.max_cost_usd is 5"), std::string::npos);
  // Prices written as 0 (a local server), or no budget: fine.
  EXPECT_TRUE(config_from("run:\n  max_cost_usd: 5\nllm:\n  models:\n    - model: q\n"
                          "      api_key_env: \"\"\n"
                          "      usd_per_mtok_in: 0\n      usd_per_mtok_out: 0\n")
                  .ok());
  auto no_budget = config_from(
      "run:\n  max_cost_usd: 0\nllm:\n  models:\n    - model: q\n      api_key_env: \"\"\n");
  ASSERT_TRUE(no_budget.ok()) << no_budget.status().message();
  EXPECT_FALSE(no_budget->llm.models[0].prices_known);
  auto negative = config_from("llm:\n  models:\n    - model: q\n      usd_per_mtok_in: -1\n");
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.status().message().find("must be >= 0"), std::string::npos);
}

TEST(LlmConfig, CommandProviderNeedsACommandAndKnowsNoPrices) {
  auto missing = config_from("llm:\n  models:\n    - provider: command\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("command"), std::string::npos);
  auto ok = config_from("llm:\n  models:\n    - provider: command\n      command: [my-agent, -p]\n");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->llm.models[0].model, "my-agent");  // labelled by its program
  EXPECT_EQ(ok->llm.models[0].command, (std::vector<std::string>{"my-agent", "-p"}));
  auto bad_input = config_from(
      "llm:\n  models:\n    - provider: command\n      command: [a]\n      command_input: xml\n");
  ASSERT_FALSE(bad_input.ok());
}

TEST(LlmConfig, SpendingKeysAndCompileWorkersAuto) {
  auto c = config_from(
      "run:\n  max_evaluations: 50\nllm:\n  max_requests: 0\n  breaker_window: 5\n"
      "sandbox:\n  compile_workers: auto\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(effective_max_requests(c->llm, c->run.max_evaluations), 150);
  EXPECT_EQ(c->llm.breaker_window, 5);
  EXPECT_EQ(c->sandbox.compile_workers, 0);
  EXPECT_GE(resolved_compile_workers(c->sandbox), 1);
  auto three = config_from("sandbox:\n  compile_workers: 3\n");
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(resolved_compile_workers(three->sandbox), 3);
  EXPECT_FALSE(config_from("sandbox:\n  compile_workers: many\n").ok());
  EXPECT_FALSE(config_from("llm:\n  max_requests: -3\n").ok());
}

TEST_F(LlmClientTest, BothProvidersSendARetryAsAConversation) {
  LlmRequest r = request();
  r.messages.push_back({"assistant", "<<<<<<< SEARCH\nmy earlier edit"});
  r.messages.push_back({"user", "It failed: the block is not closed."});
  server_.push(ok_reply("fixed"));
  ASSERT_TRUE(client()->complete(r).ok());
  json openai = json::parse(server_.requests().back().body);
  ASSERT_EQ(openai["messages"].size(), 4u);
  EXPECT_EQ(openai["messages"][0]["role"], "system");
  EXPECT_EQ(openai["messages"][2]["role"], "assistant");
  EXPECT_EQ(openai["messages"][2]["content"], "<<<<<<< SEARCH\nmy earlier edit");
  EXPECT_EQ(openai["messages"][3]["content"], "It failed: the block is not closed.");

  model_.provider = "anthropic";
  model_.base_url = server_.url();
  server_.push({200, {}, json{{"content", {{{"type", "text"}, {"text", "fixed"}}}},
                              {"stop_reason", "end_turn"},
                              {"usage", {{"input_tokens", 10}, {"output_tokens", 5}}}}
                             .dump()});
  ASSERT_TRUE(client()->complete(r).ok());
  json anthropic = json::parse(server_.requests().back().body);
  ASSERT_EQ(anthropic["messages"].size(), 3u);  // the system prompt is apart
  EXPECT_EQ(anthropic["messages"][1]["role"], "assistant");
  EXPECT_EQ(anthropic["messages"][1]["content"], "<<<<<<< SEARCH\nmy earlier edit");
  EXPECT_EQ(anthropic["system"][0]["text"], "You write CUDA.");
  // The system message is marked cacheable: it is the same for every request of a run.
  EXPECT_EQ(anthropic["system"][0]["cache_control"]["type"], "ephemeral");
}

TEST_F(LlmClientTest, AnthropicReplyWithOnlyThinkingIsAFailureWithItsReason) {
  model_.provider = "anthropic";
  model_.base_url = server_.url();
  server_.push({200, {}, json{{"content", {{{"type", "thinking"}, {"thinking", "hmm..."}}}},
                              {"stop_reason", "max_tokens"},
                              {"usage", {{"input_tokens", 10}, {"output_tokens", 5}}}}
                             .dump()});
  auto r = client()->complete(request());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no text block (stop_reason 'max_tokens')"),
            std::string::npos)
      << r.status().message();
  ASSERT_EQ(recorder_.calls().size(), 1u);
  EXPECT_NE(recorder_.calls()[0].error.find("no text block"), std::string::npos);
}

TEST_F(LlmClientTest, NonUtf8RepliesAreRecordedNotThrown) {
  // Raw bytes that are not UTF-8 inside the JSON string: a malformed reply, recorded.
  server_.push({200, {}, std::string("{\"choices\":[{\"message\":{\"content\":\"a\xff\xfe b\"}}]}")});
  auto r = client()->complete(request());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("malformed reply"), std::string::npos) << r.status().message();
  testing::TempDir dir;
  auto archive = Archive::create(dir.file("a.db"), RunInfo{"t"}, ArchiveConfig{});
  ASSERT_TRUE(archive.ok());
  ArchiveCallRecorder rec(**archive);
  LlmCallRecord call;
  call.model = "m";
  call.messages = {{"user", std::string("bad \xff bytes")}};
  call.response = "also \xfe bad";
  rec.record(call);  // must not throw on the JSON of the request
  auto stored = (*archive)->llm_call(1);
  ASSERT_TRUE(stored.ok());
  EXPECT_NE(stored->prompt.find("bad"), std::string::npos);
}

}  // namespace
}  // namespace kevo
