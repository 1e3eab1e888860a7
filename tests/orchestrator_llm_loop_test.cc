// The evolution loop with a real LLM client against a real HTTP server on loopback (scripted
// replies), a real archive and the honest fake backend: what a bad model costs (the request
// bound, the breaker, the parent rest), the retry conversation, diversity of requests in flight,
// bad replies, and what `kevo status --json` then says.
#include <gtest/gtest.h>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <condition_variable>

#include <nlohmann/json.hpp>

#include "orchestrator/evolution/backend.h"
#include "orchestrator/evolution/evolution.h"
#include "tests/fake_backend.h"
#include "tests/loopback_http_server.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

using nlohmann::json;
using testing::FakeBackend;
using testing::LoopbackHttpServer;
using testing::ScriptedReply;

constexpr const char* kSeed = R"(#include "kevo/sparse_decode.cuh"
// EVOLVE-BLOCK-START
// kevo:param  TILE = 64 in {16, 32, 64, 128, 256}
// kevo:param  UNROLL = 1 in {1, 2, 4, 8}
// kevo:decode attend grid(Hq, B) block(TILE)
extern "C" __global__ void attend(const kevo::Args a) {
  // body
}
// EVOLVE-BLOCK-END
)";

std::string openai_reply(const std::string& text) {
  return json{{"choices", {{{"index", 0},
                            {"message", {{"role", "assistant"}, {"content", text}}},
                            {"finish_reason", "stop"}}}},
              {"usage", {{"prompt_tokens", 1000}, {"completion_tokens", 200}}}}
      .dump();
}

// The user message of a chat request body, and whether it carries an assistant turn.
struct SeenRequest {
  json messages;
  std::string last_user() const {
    for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
      if ((*it)["role"] == "user") return (*it)["content"];
    }
    return "";
  }
  bool has_assistant() const {
    for (const auto& m : messages) {
      if (m["role"] == "assistant") return true;
    }
    return false;
  }
};

class LlmLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    ::setenv("no_proxy", "127.0.0.1,localhost", 1);
    testing::write_file(tmp_.file("seed.cu"), kSeed);
    config_.run.seeds = {tmp_.file("seed.cu")};
    config_.run.seed = 5;
    config_.run.max_evaluations = 30;
    config_.run.tuner_share = 0;  // only the LLM makes children: what it does is what we see
    config_.archive.islands = 1;
    config_.sandbox.compile_workers = 1;
    config_.llm.max_in_flight = 4;
    config_.llm.max_retries = 0;
    LlmModelConfig m;
    m.provider = "openai";
    m.model = "scripted";
    m.base_url = server_.url() + "/v1";
    m.api_key_env = "";
    m.usd_per_mtok_in = 1;
    m.usd_per_mtok_out = 2;
    m.prices_known = true;
    config_.llm.models = {m};
    sink_ = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(4096);
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  void TearDown() override {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }

  // Runs the loop to its end; the archive stays open for inspection.
  Result<RunSummary> run() {
    auto archive = Archive::create(db(), RunInfo{"t"}, config_.archive);
    if (!archive.ok()) return archive.status();
    archive_ = std::move(*archive);
    recorder_ = std::make_unique<ArchiveCallRecorder>(*archive_);
    auto clients = make_model_clients(config_.llm, recorder_.get(), 1, &stop_);
    if (!clients.ok()) return clients.status();
    clients_ = std::move(*clients);
    std::vector<LlmModelHandle> models;
    for (size_t i = 0; i < clients_.size(); ++i) {
      models.push_back({config_.llm.models[i].model, clients_[i].get(), 1, 0, true});
    }
    Evolution evo(config_, *archive_, backend_, std::move(models), {});
    evo.set_call_ids([this](const std::string& tag) { return recorder_->take_id(tag); });
    KEVO_RETURN_IF_ERROR(evo.add_seeds());
    return evo.run(stop_, [](const Progress&) {});
  }

  std::vector<SeenRequest> seen() {
    std::vector<SeenRequest> out;
    for (const auto& r : server_.requests()) out.push_back({json::parse(r.body)["messages"]});
    return out;
  }
  std::string log_text() {
    std::string all;
    for (const auto& l : sink_->last_formatted()) all += l;
    return all;
  }
  std::string db() const { return tmp_.file("kevo.db"); }

  testing::TempDir tmp_;
  LoopbackHttpServer server_;
  KevoConfig config_;
  FakeBackend backend_;
  std::atomic<bool> stop_{false};
  std::unique_ptr<Archive> archive_;
  std::unique_ptr<ArchiveCallRecorder> recorder_;
  std::vector<std::unique_ptr<LlmClient>> clients_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

// A model that only ever answers prose: each reply is rejected and retried once, the breaker
// trips after 12 replies, and with tuner_share 0 the run stops and says why, far below the bound.
TEST_F(LlmLoopTest, ProseOnlyModelTripsTheBreakerAndStopsUnderTheBound) {
  server_.set_handler([](const testing::ReceivedRequest&) {
    return ScriptedReply{200, {}, openai_reply("I would make the kernel faster by thinking harder.")};
  });
  auto s = run();
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(s->stop_reason, StopReason::kLlmPaused);
  EXPECT_NE(s->stop_detail.find("paused"), std::string::npos);
  ASSERT_TRUE(s->progress.llm.has_value());
  const LlmProgress& l = *s->progress.llm;
  int64_t sent = static_cast<int64_t>(server_.requests().size());
  EXPECT_EQ(l.requests, sent);
  EXPECT_LE(sent, 12 + config_.llm.max_in_flight) << "the breaker must stop the flow";
  EXPECT_GE(sent, 12);
  EXPECT_EQ(l.children, 0);
  EXPECT_EQ(l.rejections.at("no SEARCH/REPLACE blocks"), l.rejected);
  EXPECT_LE(l.requests, effective_max_requests(config_.llm, config_.run.max_evaluations));
  EXPECT_NE(log_text().find("paused for 60 s: its last 12 replies gave no child (mostly: no "
                            "SEARCH/REPLACE blocks)"),
            std::string::npos)
      << log_text();
  // Every call is recorded with its outcome.
  auto outcomes = archive_->llm_outcomes();
  ASSERT_TRUE(outcomes.ok());
  int64_t no_edit = 0;
  for (const auto& o : *outcomes) no_edit += o.outcome == "no_edit" ? o.calls : 0;
  EXPECT_EQ(no_edit, sent);
  archive_.reset();  // the writer's lock: kevo status reads like any other process

  auto status = testing::run_kevo("status --json --db " + db());
  ASSERT_EQ(status.exit_code, 0) << status.err;
  json j = json::parse(status.out);
  EXPECT_EQ(j["llm"]["requests"], sent);
  EXPECT_EQ(j["llm"]["children"], 0);
  const json& m = j["llm"]["models"][0];
  EXPECT_EQ(m["model"], "scripted");
  EXPECT_EQ(m["outcomes"]["no_edit"], sent);
  ASSERT_TRUE(m["paused"].is_string()) << j["llm"].dump();
  EXPECT_NE(m["paused"].get<std::string>().find("no SEARCH/REPLACE blocks"), std::string::npos);
}

// With the breaker out of the way, llm.max_requests is a hard bound on every request, retries
// included, and the run says so.
TEST_F(LlmLoopTest, RequestBoundHoldsWithRetries) {
  config_.llm.breaker_window = 1000;
  config_.llm.max_requests = 9;
  config_.llm.parent_max_failures = 1000;
  server_.set_handler([](const testing::ReceivedRequest&) {
    return ScriptedReply{200, {}, openai_reply("<<<<<<< SEARCH\nnot in the program\n=======\nx\n>>>>>>> REPLACE\n")};
  });
  auto s = run();
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(server_.requests().size(), 9u);
  EXPECT_EQ(s->stop_reason, StopReason::kLlmMaxRequests);
  EXPECT_NE(s->stop_detail.find("9 LLM requests (llm.max_requests)"), std::string::npos);
}

// A failed reply is retried as a conversation: the model sees its own reply as an assistant turn
// and then what failed, with the program's nearest lines for a SEARCH that did not match.
TEST_F(LlmLoopTest, RetryShowsTheModelItsReplyAndTheFailure) {
  std::mutex mu;
  int calls = 0;
  const std::string bad = "<<<<<<< SEARCH\n  // bdoy\n=======\n  // FAST body\n>>>>>>> REPLACE\n";
  const std::string good = "<<<<<<< SEARCH\n  // body\n=======\n  // FAST body\n>>>>>>> REPLACE\n";
  server_.set_handler([&](const testing::ReceivedRequest& req) {
    std::lock_guard lock(mu);
    ++calls;
    json body = json::parse(req.body);
    bool retry = body["messages"].size() > 2;
    return ScriptedReply{200, {}, openai_reply(retry ? good : bad)};
  });
  config_.llm.max_in_flight = 1;
  config_.run.max_evaluations = 3;  // the seed and two children
  auto s = run();
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  std::vector<SeenRequest> reqs = seen();
  auto retry = std::find_if(reqs.begin(), reqs.end(), [](auto& r) { return r.has_assistant(); });
  ASSERT_NE(retry, reqs.end());
  ASSERT_EQ(retry->messages.size(), 4u);  // system, user, assistant, user
  EXPECT_EQ(retry->messages[0]["role"], "system");
  EXPECT_EQ(retry->messages[2]["content"], bad) << "the reply goes back as it was sent";
  std::string feedback = retry->last_user();
  EXPECT_NE(feedback.find("does not match the program"), std::string::npos) << feedback;
  EXPECT_NE(feedback.find("nearest lines"), std::string::npos) << feedback;
  EXPECT_NE(feedback.find("7:   // body"), std::string::npos) << feedback;
  EXPECT_GE(s->progress.llm->children, 1);
}

// A child that does not compile is retried with the compile error and the lines it names.
TEST_F(LlmLoopTest, CompileErrorIsRetriedWithItsLine) {
  std::mutex mu;
  server_.set_handler([&](const testing::ReceivedRequest& req) {
    json body = json::parse(req.body);
    bool retry = body["messages"].size() > 2;
    std::string text =
        retry ? "<<<<<<< SEARCH\n  NOCOMPILE;\n=======\n  // FAST fixed\n>>>>>>> REPLACE\n"
              : "<<<<<<< SEARCH\n  // body\n=======\n  NOCOMPILE;\n>>>>>>> REPLACE\n";
    return ScriptedReply{200, {}, openai_reply(text)};
  });
  config_.llm.max_in_flight = 1;
  config_.run.max_evaluations = 4;
  auto s = run();
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  std::vector<SeenRequest> reqs = seen();
  auto retry = std::find_if(reqs.begin(), reqs.end(), [](auto& r) { return r.has_assistant(); });
  ASSERT_NE(retry, reqs.end());
  std::string feedback = retry->last_user();
  EXPECT_NE(feedback.find("compile_error"), std::string::npos) << feedback;
  EXPECT_NE(feedback.find("around line 3"), std::string::npos) << feedback;
  EXPECT_NE(feedback.find("does not compile"), std::string::npos) << feedback;
  auto calls = archive_->llm_outcomes();
  ASSERT_TRUE(calls.ok());
  std::map<std::string, int64_t> by;
  for (const auto& o : *calls) by[o.outcome] += o.calls;
  EXPECT_GE(by["compile_error"], 1);
  EXPECT_GE(by["child"], 1);
  // The fixed program descends from the one that failed to compile.
  auto best = archive_->program(*s->progress.best_program);
  ASSERT_TRUE(best.ok());
  EXPECT_NE(best->source.find("FAST fixed"), std::string::npos);
}

// A client that holds each request until four are in flight (or a short while has passed) and
// checks that the ones held at once never share parent, inspirations and template (read from
// the request's tag, which the loop writes as "ask=N parent=P template=T insp=I ...").
class HoldingLlm : public LlmClient {
 public:
  Result<LlmReply> complete(const LlmRequest& req) override {
    static const std::regex kKey(R"(parent=(\d+) (?:retry )?template=(\w+) insp=([\d,]*))");
    std::smatch m;
    std::string key = std::regex_search(req.tag, m, kKey) ? m[1].str() + "|" + m[2].str() + "|" + m[3].str()
                                                          : "unparsed " + req.tag;
    std::unique_lock lock(mu);
    ++calls;
    // While its parent is the only elite (the first seed in, the others still on the GPU), a
    // request has no inspirations and may share that parent with others: the loop allows it.
    if (held.count(key) && !m[3].str().empty()) {
      ++clashes;
      clash_keys += key + " ";
    }
    held.insert(key);
    max_held = std::max(max_held, static_cast<int>(held.size()));
    cv.notify_all();
    cv.wait_for(lock, std::chrono::milliseconds(1000), [&] { return held.size() >= 4; });
    held.erase(held.find(key));
    LlmReply r;
    r.model = "holding";
    r.text = "no edit in this reply";
    return r;
  }
  std::mutex mu;
  std::condition_variable cv;
  std::multiset<std::string> held;
  int clashes = 0, max_held = 0, calls = 0;
  std::string clash_keys;
};

TEST_F(LlmLoopTest, RequestsInFlightAreDiverse) {
  testing::write_file(tmp_.file("seed2.cu"), std::string(kSeed) + "// second seed\n");
  testing::write_file(tmp_.file("seed3.cu"), std::string(kSeed) + "// third seed\n");
  config_.run.seeds = {tmp_.file("seed.cu"), tmp_.file("seed2.cu"), tmp_.file("seed3.cu")};
  config_.archive.islands = 3;  // one elite per island: three parents to spread requests over
  config_.llm.max_in_flight = 4;
  config_.llm.max_requests = 40;
  config_.llm.breaker_window = 1000;
  auto archive = Archive::create(db(), RunInfo{"t"}, config_.archive);
  ASSERT_TRUE(archive.ok());
  HoldingLlm llm;
  Evolution evo(config_, **archive, backend_, {{"holding", &llm}}, {});
  ASSERT_TRUE(evo.add_seeds().ok());
  auto s = evo.run(stop_, [](const Progress&) {});
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(s->progress.llm->requests, 40)
      << stop_reason_name(s->stop_reason) << ": " << s->stop_detail << " counter "
      << *(*archive)->counter("llm_requests") << " held " << llm.calls;
  EXPECT_EQ(llm.clashes, 0) << "two requests in flight shared parent, inspirations and template: "
                            << llm.clash_keys;
  EXPECT_GE(llm.max_held, 2) << "requests were not concurrent: the check saw nothing";
}

// A 1 MB reply, a reply of 100 blocks, and garbage bytes: each is recorded with its reason, the
// run goes on, and a retry echoes at most 64 KB of the reply.
TEST_F(LlmLoopTest, HugeAndManyBlockRepliesAreRejectedWithReasons) {
  std::string many;
  for (int i = 0; i < 100; ++i) {
    many += "<<<<<<< SEARCH\nline " + std::to_string(i) + " not here\n=======\nx\n>>>>>>> REPLACE\n";
  }
  std::string huge(1 << 20, 'z');
  std::mutex mu;
  int n = 0;
  server_.set_handler([&](const testing::ReceivedRequest&) {
    std::lock_guard lock(mu);
    ++n;
    if (n % 3 == 1) return ScriptedReply{200, {}, openai_reply(huge)};
    if (n % 3 == 2) return ScriptedReply{200, {}, openai_reply(many)};
    return ScriptedReply{200, {}, "\x89PNG\r\n\x1a\n garbage \xff\xfe"};
  });
  config_.llm.max_requests = 12;
  config_.llm.breaker_window = 1000;
  auto s = run();
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  size_t biggest = 0;
  for (const auto& r : server_.requests()) biggest = std::max(biggest, r.body.size());
  EXPECT_LT(biggest, 400u * 1024) << "a retry must not send the 1 MB reply back";
  auto calls = archive_->llm_outcomes();
  ASSERT_TRUE(calls.ok());
  std::map<std::string, int64_t> by;
  for (const auto& o : *calls) by[o.outcome] += o.calls;
  EXPECT_GE(by["no_edit"], 1);
  EXPECT_GE(by["no_match"], 1);
  EXPECT_GE(by["request_failed"], 1);
  auto events = archive_->program(1);  // the seed is still there and ok
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->status, "ok");
}

}  // namespace
}  // namespace kevo
