// `kevo prompt` and `kevo calls` through the real binary: what the LLM sees for a shipped seed
// (no GPU, no run), for an archived program, and the calls of a run.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "archive/archive.h"
#include "evaluator/device_api.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

using testing::run_kevo;

TEST(CliPrompt, ASeedFileShowsTheDeviceApiAndNoContradiction) {
  auto r = run_kevo("prompt " + testing::source_dir() + "/seeds/dsa_indexer.cu");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string& out = r.out;
  // The API the seed calls is in the system message, generated from the headers.
  EXPECT_NE(out.find("## The device API"), std::string::npos);
  EXPECT_NE(out.find("### kevo/topk_attend.cuh"), std::string::npos);
  EXPECT_NE(out.find(device_api_reference().substr(0, 200)), std::string::npos);
  for (const char* helper : {"attend_topk", "struct Partials", "struct RowLanes", "struct Carve"}) {
    EXPECT_NE(out.find(helper), std::string::npos) << helper;
  }
  // What the prompt says is what the code enforces: the plan is inside the block and may change.
  EXPECT_NE(out.find("the kevo: directives, params, buffer sizes, grids and kernels are inside"),
            std::string::npos);
  EXPECT_NE(out.find("Change kevo: directives (grid sizes, params, index and workspace sizes) "
                     "together with the code"),
            std::string::npos);
  EXPECT_EQ(out.find("Params: (none)"), std::string::npos);
  EXPECT_NE(out.find("The kevo:param lines hold the values this program runs with."),
            std::string::npos);
  EXPECT_NE(out.find("#include \"kevo/attention.cuh\""), std::string::npos);
  EXPECT_NE(out.find("(not evaluated"), std::string::npos) << "a file has no results";
  EXPECT_NE(out.find("## This attempt's direction"), std::string::npos);

  auto j = run_kevo("prompt --json --template rewrite --direction 2 " + testing::source_dir() +
                    "/seeds/dense_flashdecode.cu");
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto parsed = nlohmann::json::parse(j.out);
  EXPECT_EQ(parsed["template"], "rewrite");
  EXPECT_EQ(parsed["messages"][0]["role"], "system");
  EXPECT_NE(parsed["messages"][1]["content"].get<std::string>().find("Fusing kernels"),
            std::string::npos);
}

TEST(CliPrompt, BadTargetsAreUsageErrors) {
  EXPECT_EQ(run_kevo("prompt /no/such/file.cu").exit_code, 2);
  EXPECT_EQ(run_kevo("prompt xyz --db /nonexistent.db").exit_code, 2);
}

TEST(CliPrompt, AnArchivedProgramShowsItsParamsWrittenInAndItsResults) {
  testing::TempDir tmp;
  std::string src = R"(#include "kevo/sparse_decode.cuh"
// EVOLVE-BLOCK-START
// kevo:param CTAS = 1536 in {1024, 1536}
// kevo:decode k grid(CTAS) block(128)
extern "C" __global__ void k(const kevo::Args a) {}
// EVOLVE-BLOCK-END
)";
  {
    auto ar = Archive::create(tmp.file("kevo.db"), RunInfo{"t"}, ArchiveConfig{});
    ASSERT_TRUE(ar.ok());
    NewProgram p;
    p.source = src;
    p.params = {{"CTAS", 1024}};
    p.origin = "seed";
    auto b = (*ar)->begin_evaluation(p);
    ASSERT_TRUE(b.ok());
    nlohmann::json result = {{"status", "ok"},
                             {"fitness", 1.5},
                             {"message", ""},
                             {"metrics", {{"speedup", 1.5}, {"mean_rel_err", 0.01},
                                          {"index_bytes_per_token", 0}}},
                             {"workloads", nlohmann::json::array()}};
    ASSERT_TRUE((*ar)->record_result(b->id, result).ok());
    LlmCall call;
    call.model = "gpt-test";
    call.provider = "openai";
    call.tag = "ask=1 parent=1 template=diff";
    call.parent = 1;
    call.prompt = R"({"system":"S","messages":[{"role":"user","content":"U <script>"}]})";
    call.response = "no edit";
    call.tokens_in = 1200;
    call.cost_usd = 0.01;
    auto id = (*ar)->record_llm_call(call);
    ASSERT_TRUE(id.ok());
    ASSERT_TRUE((*ar)->set_llm_outcome(*id, "no_edit").ok());
  }
  auto r = run_kevo("prompt 1 --db " + tmp.file("kevo.db"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("// kevo:param CTAS = 1024 in {1024, 1536}"), std::string::npos)
      << "the params the program runs with, written into the file";
  EXPECT_NE(r.out.find("fitness (speedup over dense): 1.5"), std::string::npos);

  auto calls = run_kevo("calls --db " + tmp.file("kevo.db"));
  ASSERT_EQ(calls.exit_code, 0) << calls.err;
  EXPECT_NE(calls.out.find("gpt-test"), std::string::npos);
  EXPECT_NE(calls.out.find("no_edit"), std::string::npos);
  EXPECT_NE(calls.out.find("#1"), std::string::npos);
  auto show = run_kevo("calls show 1 --db " + tmp.file("kevo.db"));
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("=== user ===\nU <script>"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("=== reply ===\nno edit"), std::string::npos);
  auto filtered = run_kevo("calls --outcome child --db " + tmp.file("kevo.db"));
  EXPECT_NE(filtered.out.find("no LLM calls match"), std::string::npos) << filtered.out;
  EXPECT_EQ(run_kevo("calls show 99 --db " + tmp.file("kevo.db")).exit_code, 1);
}

}  // namespace
}  // namespace kevo
