// The inspection commands (status, top, show, diff, lineage) on a run database the test fills,
// through the real `kevo` binary: text and --json output, run resolution and error lines.
#include <gtest/gtest.h>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "archive/archive.h"
#include "tests/archive_fixtures.h"
#include "tests/test_support.h"

namespace kevo {
namespace {
using nlohmann::json;
using testing::CommandResult;
using testing::eval_json;
using testing::kernel_source;
using testing::TempDir;

// `kevo ARGS` run from `dir` (so the default ./kevo-runs is the test's).
CommandResult kevo_in(const std::string& dir, const std::string& args) {
  TempDir out;
  std::string cmd = "cd '" + dir + "' && " + testing::kevo_binary() + " " + args + " >" +
                    out.file("out") + " 2>" + out.file("err");
  int rc = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = testing::read_file(out.file("out"));
  r.err = testing::read_file(out.file("err"));
  return r;
}

json parse(const CommandResult& r) {
  json j = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
  return j;
}

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// seed #1 (1.0) -> #2 (1.5, llm) -> #4 (2.5, tuner, BITS=64); #3 a compile error from #1;
// #5 on island 1 (0.8) still pending.
class ArchiveCli : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.file("kevo-runs/demo/kevo.db");
    auto ar = std::move(Archive::create(db_, testing::test_run(), testing::test_config(2))).value();
    auto add = [&](const std::string& src, std::map<std::string, int64_t> params,
                   std::optional<ProgramId> parent, int island, const char* origin,
                   std::optional<LlmCallId> call) {
      auto b = ar->begin_evaluation({src, std::move(params), parent, island, origin, call});
      EXPECT_TRUE(b.ok() && !b->duplicate);
      return b->id;
    };
    ProgramId seed = add(kernel_source(1), {{"BITS", 32}}, std::nullopt, 0, "seed", std::nullopt);
    ASSERT_TRUE(ar->record_result(seed, eval_json("ok", 1.0, 0.004, 4)).ok());
    LlmCall call;
    call.model = "gpt-test";
    call.provider = "openai";
    call.tokens_in = 12345;
    call.tokens_out = 678;
    call.cost_usd = 0.25;
    call.latency_s = 12.5;
    LlmCallId cid = *ar->record_llm_call(call);
    std::string child_src = kernel_source(1) + "// unrolled by 4\n";
    ProgramId child = add(child_src, {{"BITS", 32}}, seed, 0, "llm", cid);
    ASSERT_TRUE(ar->record_result(child, eval_json("ok", 1.5, 0.015, 8)).ok());
    ProgramId broken = add(kernel_source(3), {{"BITS", 32}}, seed, 0, "llm", std::nullopt);
    ASSERT_TRUE(ar->record_result(broken, eval_json("compile_error", 0, 0, 0)).ok());
    ProgramId grandchild = add(child_src, {{"BITS", 64}}, child, 0, "tuner", std::nullopt);
    ASSERT_TRUE(ar->record_result(grandchild, eval_json("ok", 2.5, 0.015, 16)).ok());
    ASSERT_TRUE(ar->record_holdout(grandchild, eval_json("ok", 2.4, 0.016, 16)).ok());
    add(kernel_source(5), {}, std::nullopt, 1, "seed", std::nullopt);  // left in flight
  }
  TempDir dir_;
  std::string db_;
};

TEST_F(ArchiveCli, StatusSummarizesTheRun) {
  auto r = kevo_in(dir_.path(), "status");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("evaluations  4 done, 1 in flight"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  ok         3 (75.0%)\n  failed     1 (25.0%): compile_error 1"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("speedup 2.5: program #4 (seed #1; mean_rel_err<=0.02 "
                       "index_bytes_per_token<=16; elite on island 0)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("LLM          1 requests: 0 gave a child, 0 rejected"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("gpt-test"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("12,345"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("$0.25"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("island 1:"), std::string::npos) << r.out;
  // Heat map row "<=0.02" holds the grandchild (index 16 bytes: column "<=16") marked best.
  size_t row = r.out.find("\n    <=0.02 ");
  ASSERT_NE(row, std::string::npos) << r.out;
  std::string line = r.out.substr(row + 1, r.out.find('\n', row + 1) - row - 1);
  EXPECT_NE(line.find("2.5*"), std::string::npos) << line;

  auto j = parse(kevo_in(dir_.path(), "status --json"));
  EXPECT_EQ(j["evaluations"], 4);
  EXPECT_EQ(j["pending"], 1);
  EXPECT_EQ(j["by_status"]["ok"], 3);
  EXPECT_EQ(j["by_status"]["compile_error"], 1);
  EXPECT_EQ(j["best"]["program"], 4);
  EXPECT_EQ(j["llm"]["requests"], 1);
  EXPECT_EQ(j["llm"]["models"][0]["model"], "gpt-test");
  EXPECT_EQ(j["llm"]["models"][0]["tokens_in"], 12345);
  EXPECT_DOUBLE_EQ(j["llm"]["models"][0]["cost_usd"].get<double>(), 0.25);
  ASSERT_EQ(j["islands"].size(), 2u);
  EXPECT_EQ(j["islands"][0]["elites"], 3);
  EXPECT_EQ(j["features"][0]["metric"], "mean_rel_err");
}

TEST_F(ArchiveCli, RunIsChosenByNameOrWhenItIsTheOnlyOne) {
  EXPECT_EQ(kevo_in(dir_.path(), "status --run demo").exit_code, 0);
  EXPECT_EQ(testing::run_kevo("status --db '" + db_ + "' --json").exit_code, 0);
  // A second run makes the default ambiguous: one line naming both.
  { auto other = Archive::create(dir_.file("kevo-runs/other/kevo.db"), testing::test_run(), testing::test_config()); }
  auto r = kevo_in(dir_.path(), "top");
  EXPECT_EQ(r.exit_code, 2);  // which run is meant is a usage question
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("kevo: error: 2 runs under kevo-runs/ (demo, other)"), std::string::npos) << r.err;
  EXPECT_EQ(kevo_in(dir_.path(), "top --run other").exit_code, 0);
  auto missing = kevo_in(dir_.path(), "status --run nope");
  EXPECT_EQ(missing.exit_code, 2);  // a run named that is not there
  EXPECT_EQ(lines(missing.err), 1) << missing.err;
  TempDir empty;
  auto none = kevo_in(empty.path(), "status");
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("no run under kevo-runs/"), std::string::npos) << none.err;
}

TEST_F(ArchiveCli, StatusWorksWhileTheRunIsOpenForWriting) {
  auto writer = Archive::open(db_);
  ASSERT_TRUE(writer.ok()) << writer.status().to_string();
  auto r = kevo_in(dir_.path(), "status --json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(parse(r)["evaluations"], 4);
}

TEST_F(ArchiveCli, TopListsBestFirst) {
  auto r = kevo_in(dir_.path(), "top");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  size_t a = r.out.find("\n1  "), b = r.out.find("\n2  "), c = r.out.find("\n3  ");
  ASSERT_TRUE(a != std::string::npos && b != std::string::npos && c != std::string::npos) << r.out;
  EXPECT_EQ(lines(r.out), 5) << r.out;  // header + 3 ok programs + the note on noise
  EXPECT_NE(r.out.find("speedup"), std::string::npos);
  EXPECT_NE(r.out.find("index_bytes_per_token"), std::string::npos);
  auto j = parse(kevo_in(dir_.path(), "top -n 2 --json"));
  ASSERT_EQ(j["programs"].size(), 2u);
  EXPECT_EQ(j["programs"][0]["id"], 4);
  EXPECT_EQ(j["programs"][1]["id"], 2);
  EXPECT_EQ(j["programs"][0]["metrics"]["index_bytes_per_token"], 16);
  EXPECT_TRUE(parse(kevo_in(dir_.path(), "top --island 1 --json"))["programs"].empty());
  auto cells = parse(kevo_in(dir_.path(), "top --per-cell --json"));
  EXPECT_EQ(cells["programs"].size(), 3u);  // three distinct cells on island 0
  auto bad = kevo_in(dir_.path(), "top --island 7");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(lines(bad.err), 1);
}

TEST_F(ArchiveCli, ShowPrintsEverythingAboutAProgram) {
  auto r = kevo_in(dir_.path(), "show 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* want : {"program #2  ok  speedup 1.5", "#1 (ok, speedup 1)", "gpt-test (openai)",
                           "12,345 tokens in", "$0.25", "BITS=32", "B1-N32768", "decode_us",
                           "attend", "registers", "49152", "// unrolled by 4", "feedback"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  }
  auto broken = kevo_in(dir_.path(), "show '#3'");
  EXPECT_NE(broken.out.find("kernel.cu(3): error"), std::string::npos) << broken.out;
  EXPECT_NE(kevo_in(dir_.path(), "show 4").out.find("holdout  ok  speedup 2.4"), std::string::npos);
  auto j = parse(kevo_in(dir_.path(), "show 2 --json"));
  EXPECT_EQ(j["llm_call"]["model"], "gpt-test");
  EXPECT_EQ(j["parent"], 1);
  EXPECT_EQ(j["result"]["workloads"][0]["kernels"][0]["name"], "score");
  EXPECT_EQ(kevo_in(dir_.path(), "show 2 --source").out, normalize_source(kernel_source(1) + "// unrolled by 4\n"));
  auto missing = kevo_in(dir_.path(), "show 999");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "kevo: error: no program #999 in the archive\n");
  EXPECT_EQ(kevo_in(dir_.path(), "show abc").exit_code, 2);
}

TEST_F(ArchiveCli, DiffShowsParamsAndAUnifiedDiff) {
  auto r = kevo_in(dir_.path(), "diff 1 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("param BITS: 32 -> 64"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--- #1 (ok, speedup 1)\n+++ #4 (ok, speedup 2.5)\n@@ "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n+// unrolled by 4\n"), std::string::npos) << r.out;
  auto j = parse(kevo_in(dir_.path(), "diff 2 4 --json"));
  EXPECT_EQ(j["added"], 0);
  EXPECT_EQ(j["diff"], "");
  EXPECT_EQ(j["params"]["BITS"], json({32, 64}));
  EXPECT_NE(kevo_in(dir_.path(), "diff 2 4").out.find("sources are identical"), std::string::npos);
  EXPECT_EQ(kevo_in(dir_.path(), "diff 1 99").exit_code, 1);
}

TEST_F(ArchiveCli, LineageWalksBackToTheSeed) {
  auto r = kevo_in(dir_.path(), "lineage 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("lineage of #4 (3 steps, seed first;"), std::string::npos) << r.out;
  size_t seed = r.out.find(" seed "), tuner = r.out.find(" tuner ");
  EXPECT_LT(seed, tuner) << r.out;
  EXPECT_NE(r.out.find("+50%"), std::string::npos) << r.out;    // 1.0 -> 1.5
  EXPECT_NE(r.out.find("+66.7%"), std::string::npos) << r.out;  // 1.5 -> 2.5
  auto j = parse(kevo_in(dir_.path(), "lineage 4 --json"));
  ASSERT_EQ(j["lineage"].size(), 3u);
  EXPECT_EQ(j["lineage"][0]["id"], 1);
  EXPECT_EQ(j["lineage"][2]["id"], 4);
  EXPECT_EQ(j["lineage"][2]["generation"], 2);
  EXPECT_EQ(kevo_in(dir_.path(), "lineage 77").exit_code, 1);
}

}  // namespace
}  // namespace kevo
