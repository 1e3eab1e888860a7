// What `kevo show --source` saves is the kernel that was measured: the program's params are
// written into its kevo:param lines (real NVRTC compiles of the saved file and of the seed with
// the params given), `kevo diff` shows resolved values, `kevo lineage` says what changed.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "archive/archive.h"
#include "evaluator/task.h"
#include "tests/archive_fixtures.h"
#include "tests/test_support.h"

namespace kevo {
namespace {
using nlohmann::json;
using testing::eval_json;
using testing::run_kevo;
using testing::TempDir;

TEST(SourceWithParams, WritesValuesIntoTheParamLines) {
  const std::string src =
      "#include \"kevo/sparse_decode.cuh\"\n"
      "// kevo:param CTAS = 1536 in {1024, 1536, 2048}\n"
      "//   kevo:param  UNROLL=2   in {1, 2, 4, 8}  \n"
      "// kevo:param FIXED = 7\n"
      "// kevo:decode k grid(CTAS) block(32*UNROLL)\n"
      "extern \"C\" __global__ void k(const kevo::Args a) {}  // CTAS = 1536 stays here\n";
  auto out = source_with_params(src, {{"CTAS", 1024}, {"UNROLL", 8}, {"FIXED", 9}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_NE(out->find("// kevo:param CTAS = 1024 in {1024, 1536, 2048}\n"), std::string::npos)
      << *out;
  EXPECT_NE(out->find("//   kevo:param  UNROLL=8   in {1, 2, 4, 8}  \n"), std::string::npos)
      << *out;
  EXPECT_NE(out->find("// kevo:param FIXED = 9\n"), std::string::npos) << *out;
  EXPECT_NE(out->find("// CTAS = 1536 stays here"), std::string::npos) << *out;
  auto spec = parse_task_spec(*out);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(*spec->resolve_params({}),
            (std::map<std::string, int64_t>{{"CTAS", 1024}, {"FIXED", 9}, {"UNROLL", 8}}));
  // A value the line's choices lack is added to them, so the file still parses.
  auto odd = source_with_params(src, {{"CTAS", 3000}});
  ASSERT_TRUE(odd.ok());
  EXPECT_NE(odd->find("CTAS = 3000 in {1024, 1536, 2048, 3000}"), std::string::npos) << *odd;
  EXPECT_EQ(*source_with_params(src, {}), src);
  EXPECT_FALSE(source_with_params(src, {{"WIDTH", 4}}).ok());
}

// The dense seed as a run holds it, with a tuner child at CTAS=264 STAGES=3 (the case the
// issue saw: the saved file compiled with the defaults, 146 registers instead of 250).
class ShowParams : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("XDG_CACHE_HOME", dir_.file("cache").c_str(), 1);
    seed_src_ = testing::read_file(testing::source_dir() + "/seeds/dense_flashdecode.cu");
    ASSERT_FALSE(seed_src_.empty());
    db_ = dir_.file("kevo-runs/r/kevo.db");
    auto ar = std::move(Archive::create(db_, testing::test_run(), testing::test_config(1))).value();
    auto seed = ar->begin_evaluation({seed_src_, {}, std::nullopt, 0, "seed", std::nullopt});
    ASSERT_TRUE(ar->record_result(seed->id, eval_json("ok", 1.0, 0.001, 0)).ok());
    auto child = ar->begin_evaluation(
        {seed_src_, {{"CTAS", 264}, {"STAGES", 3}}, seed->id, 0, "tuner", std::nullopt});
    ASSERT_TRUE(ar->record_result(child->id, eval_json("ok", 1.02, 0.001, 0)).ok());
    std::string edited = seed_src_ + "// an edit by the LLM\n";
    auto grandchild = ar->begin_evaluation(
        {edited, {{"CTAS", 264}, {"STAGES", 3}, {"WARPS", 4}}, child->id, 0, "llm", std::nullopt});
    ASSERT_TRUE(ar->record_result(grandchild->id, eval_json("ok", 1.05, 0.001, 0)).ok());
  }
  void TearDown() override { unsetenv("XDG_CACHE_HOME"); }
  TempDir dir_;
  std::string db_, seed_src_;
};

TEST_F(ShowParams, SavedSourceCompilesToTheMeasuredKernel) {
  auto shown = run_kevo("show 2 --source --db " + db_);
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("// kevo:param CTAS = 264 in"), std::string::npos);
  EXPECT_NE(shown.out.find("// kevo:param STAGES = 3 in"), std::string::npos);
  testing::write_file(dir_.file("saved.cu"), shown.out);
  testing::write_file(dir_.file("seed.cu"), seed_src_);
  auto saved = run_kevo("eval " + dir_.file("saved.cu") + " --compile-only --json");
  auto given = run_kevo("eval " + dir_.file("seed.cu") +
                        " --compile-only --json --param CTAS=264 --param STAGES=3");
  ASSERT_EQ(saved.exit_code, 0) << saved.out << saved.err;
  ASSERT_EQ(given.exit_code, 0) << given.out << given.err;
  json a = json::parse(saved.out), b = json::parse(given.out);
  EXPECT_EQ(a["params"], b["params"]);
  EXPECT_EQ(a["params"]["CTAS"], 264);
  EXPECT_EQ(a["params"]["STAGES"], 3);
  ASSERT_EQ(a["kernels"].size(), b["kernels"].size());
  for (size_t i = 0; i < a["kernels"].size(); ++i) {
    EXPECT_EQ(a["kernels"][i]["name"], b["kernels"][i]["name"]);
    EXPECT_EQ(a["kernels"][i]["registers"], b["kernels"][i]["registers"])
        << a["kernels"][i]["name"];
  }
  EXPECT_EQ(a["workloads"], b["workloads"]);  // the same grids for every shape
  // The full view says which values are the program's and prints the same text.
  auto full = run_kevo("show 2 --db " + db_);
  EXPECT_NE(full.out.find("CTAS=264"), std::string::npos) << full.out;
  EXPECT_NE(full.out.find("set by the program: CTAS, STAGES"), std::string::npos) << full.out;
  EXPECT_NE(full.out.find("// kevo:param STAGES = 3 in"), std::string::npos);
  auto j = json::parse(run_kevo("show 2 --json --db " + db_).out);
  EXPECT_EQ(j["params"]["WARPS"], 8);  // a default, resolved
  EXPECT_EQ(j["param_overrides"], json({{"CTAS", 264}, {"STAGES", 3}}));
  EXPECT_EQ(j["source"], shown.out);
}

TEST_F(ShowParams, DiffAndLineageShowResolvedValues) {
  auto d = run_kevo("diff 1 2 --db " + db_);
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_NE(d.out.find("param CTAS: 132 -> 264"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("param STAGES: 2 -> 3"), std::string::npos) << d.out;
  EXPECT_EQ(d.out.find("param WARPS"), std::string::npos) << d.out;  // unchanged
  auto dj = json::parse(run_kevo("diff 1 3 --json --db " + db_).out);
  EXPECT_EQ(dj["params"]["WARPS"], json({8, 4}));
  EXPECT_EQ(dj["added"], 1);

  auto l = run_kevo("lineage 3 --db " + db_);
  ASSERT_EQ(l.exit_code, 0) << l.err;
  EXPECT_NE(l.out.find("what changed"), std::string::npos) << l.out;
  EXPECT_NE(l.out.find("CTAS 132 -> 264, STAGES 2 -> 3"), std::string::npos) << l.out;
  EXPECT_NE(l.out.find("WARPS 8 -> 4; +1 -0 lines"), std::string::npos) << l.out;
  auto lj = json::parse(run_kevo("lineage 3 --json --db " + db_).out);
  EXPECT_TRUE(lj["lineage"][0]["changed"].is_null());
  EXPECT_EQ(lj["lineage"][1]["changed"]["params"], json({"CTAS 132 -> 264", "STAGES 2 -> 3"}));
  EXPECT_EQ(lj["lineage"][2]["changed"]["added"], 1);
}

}  // namespace
}  // namespace kevo
