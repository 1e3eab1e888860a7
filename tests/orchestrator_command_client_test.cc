// provider: command — real processes (shell scripts written by the test): one that answers, one
// that hangs, one that exits 1, one that prints nothing, one that prints bytes that are not
// UTF-8; what each sends to the recorder; and what the program reads on stdin.
#include "orchestrator/llm/command_client.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <mutex>

#include <nlohmann/json.hpp>

#include "tests/test_support.h"

namespace kevo {
namespace {

class Recorder : public CallRecorder {
 public:
  void record(const LlmCallRecord& c) override {
    std::lock_guard<std::mutex> lock(mu);
    calls.push_back(c);
  }
  std::mutex mu;
  std::vector<LlmCallRecord> calls;
};

class CommandClientTest : public ::testing::Test {
 protected:
  std::string script(const std::string& name, const std::string& body) {
    std::string path = tmp_.file(name);
    testing::write_file(path, "#!/bin/sh\n" + body);
    ::chmod(path.c_str(), 0755);
    return path;
  }
  std::unique_ptr<LlmClient> client(const std::string& path, double timeout_s = 10) {
    LlmModelConfig m;
    m.provider = "command";
    m.model = "agent";
    m.command = {path, "--flag"};
    LlmClientOptions o;
    o.timeout_s = timeout_s;
    o.recorder = &recorder_;
    return make_command_client(m, o);
  }
  LlmRequest request() { return LlmRequest::single("SYSTEM TEXT", "USER TEXT", "ask=1"); }

  testing::TempDir tmp_;
  Recorder recorder_;
};

TEST_F(CommandClientTest, AnswersFromStdoutWithThePromptOnStdin) {
  // The script echoes its argument and what it read, in a folder of its own.
  auto c = client(script("answer.sh", "echo \"arg=$1 cwd=$(pwd)\"\ncat\n"));
  auto r = c->complete(request());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_NE(r->text.find("arg=--flag"), std::string::npos);
  EXPECT_NE(r->text.find("SYSTEM TEXT\n\nUSER TEXT"), std::string::npos) << r->text;
  EXPECT_EQ(r->text.find("cwd=" + tmp_.path()), std::string::npos) << "runs in a folder of its own";
  EXPECT_NE(r->text.find("kevo-command-"), std::string::npos);
  ASSERT_EQ(recorder_.calls.size(), 1u);
  EXPECT_EQ(recorder_.calls[0].provider, "command");
  EXPECT_EQ(recorder_.calls[0].model, "agent");
  EXPECT_EQ(recorder_.calls[0].code, StatusCode::kOk);
  EXPECT_EQ(recorder_.calls[0].response, r->text);
}

TEST_F(CommandClientTest, ARetryReadsTheConversationWithHeadings) {
  auto c = client(script("cat.sh", "cat\n"));
  LlmRequest r = request();
  r.messages.push_back({"assistant", "MY EDIT"});
  r.messages.push_back({"user", "IT FAILED"});
  auto out = c->complete(r);
  ASSERT_TRUE(out.ok());
  EXPECT_NE(out->text.find("## user\n\nUSER TEXT\n\n## assistant (your previous reply)\n\nMY EDIT"
                           "\n\n## user\n\nIT FAILED"),
            std::string::npos)
      << out->text;
  LlmModelConfig json_model;
  json_model.command_input = "json";
  auto j = nlohmann::json::parse(command_stdin(json_model, r));
  EXPECT_EQ(j["system"], "SYSTEM TEXT");
  EXPECT_EQ(j["messages"][1]["role"], "assistant");
}

TEST_F(CommandClientTest, AHangingCommandIsKilledAtTheTimeout) {
  auto c = client(script("hang.sh", "sleep 300\n"), /*timeout_s=*/0.5);
  auto t0 = std::chrono::steady_clock::now();
  auto r = c->complete(request());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTimeout);
  EXPECT_NE(r.status().message().find("it was killed"), std::string::npos);
  // Killed, not waited for: the whole call ends long before the sleep would.
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 60);
  ASSERT_EQ(recorder_.calls.size(), 1u);
  EXPECT_EQ(recorder_.calls[0].code, StatusCode::kTimeout);
}

TEST_F(CommandClientTest, ExitStatusAndStderrAreTheError) {
  auto c = client(script("fail.sh", "echo 'rate limit hit' >&2\nexit 1\n"));
  auto r = c->complete(request());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("exited with code 1: rate limit hit"), std::string::npos)
      << r.status().message();
  auto none = client(script("quiet.sh", "cat >/dev/null\nexit 0\n"))->complete(request());
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("printed nothing"), std::string::npos);
  auto missing = client(tmp_.file("no-such-program"))->complete(request());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("exited with code 127"), std::string::npos)
      << missing.status().message();
}

TEST_F(CommandClientTest, BytesThatAreNotUtf8AreReplaced) {
  auto c = client(script("bytes.sh", "printf 'ok \\377\\376 end'\n"));
  auto r = c->complete(request());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->text, "ok \xEF\xBF\xBD\xEF\xBF\xBD end");
}

TEST_F(CommandClientTest, TheCancelFlagStopsACall) {
  std::atomic<bool> cancel{true};
  LlmModelConfig m;
  m.provider = "command";
  m.model = "agent";
  m.command = {script("slow.sh", "sleep 300\n")};
  LlmClientOptions o;
  o.timeout_s = 100;
  o.cancel = &cancel;
  auto r = make_command_client(m, o)->complete(request());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
}

}  // namespace
}  // namespace kevo
