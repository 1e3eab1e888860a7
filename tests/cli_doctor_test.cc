// `kevo doctor`: a row per GPU or a "no GPU" row, a row per LLM model saying whether its key is
// set, and --probe: one tiny request per model against real HTTP servers on loopback (one that
// answers, one that refuses the key), with the latency or the error.
#include <gtest/gtest.h>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "tests/loopback_http_server.h"
#include "tests/test_support.h"

namespace kevo {
namespace {
using nlohmann::json;
using testing::LoopbackHttpServer;
using testing::run_kevo;
using testing::ScriptedReply;

std::string openai_reply(const std::string& text) {
  return json{{"id", "x"},
              {"model", "m"},
              {"choices",
               {{{"index", 0},
                 {"message", {{"role", "assistant"}, {"content", text}}},
                 {"finish_reason", "stop"}}}},
              {"usage", {{"prompt_tokens", 12}, {"completion_tokens", 1}}}}
      .dump();
}

TEST(Doctor, ARowPerModelAndOneProbeEach) {
  LoopbackHttpServer good, bad;
  good.set_handler([](const testing::ReceivedRequest&) {
    return ScriptedReply{200, {}, openai_reply("OK")};
  });
  bad.set_handler([](const testing::ReceivedRequest&) {
    return ScriptedReply{401, {}, R"({"error": {"message": "Incorrect API key provided"}})"};
  });
  setenv("KEVO_DOCTOR_TEST_KEY", "sk-doctor", 1);
  unsetenv("KEVO_DOCTOR_UNSET_KEY");
  testing::TempDir dir;
  auto url = [](const LoopbackHttpServer& s) {
    return "http://127.0.0.1:" + std::to_string(s.port()) + "/v1";
  };
  testing::write_file(dir.file("cfg.yaml"),
                      "llm:\n  models:\n"
                      "    - model: good-model\n      base_url: " +
                          url(good) +
                          "\n      api_key_env: KEVO_DOCTOR_TEST_KEY\n"
                          "    - model: bad-model\n      base_url: " +
                          url(bad) +
                          "\n      api_key_env: KEVO_DOCTOR_TEST_KEY\n"
                          "    - model: keyless\n      base_url: " +
                          url(good) + "\n      api_key_env: KEVO_DOCTOR_UNSET_KEY\n");
  auto r = run_kevo("doctor --no-bandwidth --probe --config " + dir.file("cfg.yaml"));
  EXPECT_EQ(r.exit_code, 1) << r.err;  // a probe failed
  for (const char* want :
       {"LLM model 1", "good-model (openai, http://127.0.0.1:", "key $KEVO_DOCTOR_TEST_KEY set",
        "ok in ", "replied \"OK\"", "LLM model 2", "FAILED: ", "401", "Incorrect API key",
        "LLM model 3", "key $KEVO_DOCTOR_UNSET_KEY NOT SET"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  }
  EXPECT_NE(r.err.find("an LLM probe failed"), std::string::npos) << r.err;
  // Model 1 probed; model 3's key is not set, so its probe fails before sending anything.
  EXPECT_EQ(good.requests().size(), 1u);
  EXPECT_EQ(good.requests()[0].headers.at("authorization"), "Bearer sk-doctor");
  auto j = json::parse(
      run_kevo("doctor --no-bandwidth --probe --json --config " + dir.file("cfg.yaml")).out);
  ASSERT_EQ(j["llm"]["models"].size(), 3u);
  EXPECT_TRUE(j["llm"]["models"][0]["probe"]["ok"].get<bool>());
  EXPECT_GE(j["llm"]["models"][0]["probe"]["latency_s"].get<double>(), 0.0);
  EXPECT_FALSE(j["llm"]["models"][1]["probe"]["ok"].get<bool>());
  EXPECT_FALSE(j["llm"]["models"][2]["key_set"].get<bool>());
  // Without --probe nothing is sent.
  const size_t before = good.requests().size() + bad.requests().size();
  auto quiet = run_kevo("doctor --no-bandwidth --config " + dir.file("cfg.yaml"));
  EXPECT_EQ(good.requests().size() + bad.requests().size(), before);
  EXPECT_NE(quiet.out.find("LLM model 2"), std::string::npos);
  unsetenv("KEVO_DOCTOR_TEST_KEY");
}

TEST(Doctor, NoGpuIsARow) {
  if (testing::gpu_unavailable_reason().empty()) GTEST_SKIP() << "a GPU is present";
  auto r = run_kevo("doctor --no-bandwidth");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.out.find("\n  " + std::string("GPU") + std::string(13, ' ') + "none: "),
            std::string::npos)
      << r.out;
}

}  // namespace
}  // namespace kevo
