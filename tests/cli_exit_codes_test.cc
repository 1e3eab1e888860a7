// Exit codes, one rule for every command (README.md, "Exit codes"): 0 ok, 1 failed (a candidate
// that failed its evaluation, a bad config, a program not in the archive), 2 usage (unknown flag,
// bad value, a missing file or run), 3 no GPU. Each case runs the real binary.
#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>
#include <string>

#include "archive/archive.h"
#include "tests/archive_fixtures.h"
#include "tests/test_support.h"

namespace kevo {
namespace {
using testing::run_kevo;
using testing::TempDir;

const char* kKernel = R"(#include "kevo/sparse_decode.cuh"
// kevo:decode attend grid(Hq, B) block(128)
extern "C" __global__ void attend(const kevo::Args a) {}
)";

TEST(ExitCodes, TheReadmeDocumentsThem) {
  std::string readme = testing::read_file(testing::source_dir() + "/README.md");
  ASSERT_NE(readme.find("### Exit codes"), std::string::npos);
  for (const char* row : {"| 0 | success", "| 1 | the command ran and failed", "| 2 | usage",
                          "| 3 | no usable GPU"}) {
    EXPECT_NE(readme.find(row), std::string::npos) << row;
  }
}

TEST(ExitCodes, UsageAndMissingFilesAreTwo) {
  TempDir dir;
  const std::string nope = dir.file("nope");
  for (const std::string& args : std::vector<std::string>{
           std::string("frobnicate"), std::string("status --frobnicate"), std::string("eval"),
           "eval " + nope + ".cu --compile-only", "eval " + nope + ".cu",
           "config-check " + nope + ".yaml", "run " + nope + ".yaml",
           "export " + nope + ".cu --format cuda --out " + dir.file("o"),
           "status --db " + nope + ".db", "top --db " + nope + ".db", "show 1 --db " + nope + ".db",
           "lineage 1 --db " + nope + ".db", "diff 1 2 --db " + nope + ".db",
           "show abc --db " + nope + ".db", std::string("top -n 0"),
           std::string("run --islands 0")}) {
    auto r = run_kevo(args);
    EXPECT_EQ(r.exit_code, 2) << "kevo " << args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "kevo " << args << "\n" << r.err;
  }
}

TEST(ExitCodes, FailuresAreOne) {
  TempDir dir;
  testing::write_file(dir.file("broken.cu"), std::string(kKernel) + "int x = ;\n");
  EXPECT_EQ(run_kevo("eval " + dir.file("broken.cu") + " --compile-only").exit_code, 1);
  testing::write_file(dir.file("bad.yaml"), "run:\n  max_evaluations: 0\n");
  EXPECT_EQ(run_kevo("config-check " + dir.file("bad.yaml")).exit_code, 1);
  EXPECT_EQ(run_kevo("run " + dir.file("bad.yaml")).exit_code, 1);
  const std::string db = dir.file("r/kevo.db");
  { auto ar = Archive::create(db, testing::test_run(), testing::test_config()); }
  EXPECT_EQ(run_kevo("show 5 --db " + db).exit_code, 1);
  EXPECT_EQ(run_kevo("export 5 --format cuda --db " + db + " --out " + dir.file("o")).exit_code, 1);
}

// README's local-server line: --llm-key-env "" means the server needs no key, so a run is not
// refused for an unset OPENAI_API_KEY. The config is broken elsewhere on purpose (max_evaluations
// 0), so the run stops at the config check on any machine and lists every problem it found.
TEST(ExitCodes, AnEmptyKeyVariableMeansNoKeyIsNeeded) {
  TempDir dir;
  testing::write_file(dir.file("bad.yaml"), "run:\n  max_evaluations: 0\n");
  const char* saved = std::getenv("OPENAI_API_KEY");
  std::string saved_key = saved ? saved : "";
  unsetenv("OPENAI_API_KEY");
  const std::string local = "run " + dir.file("bad.yaml") +
                            " --llm-url http://127.0.0.1:9/v1 --llm-model local --llm-price 0,0";
  auto with_key = run_kevo(local);
  auto no_key = run_kevo(local + " --llm-key-env \"\"");
  if (saved) setenv("OPENAI_API_KEY", saved_key.c_str(), 1);
  EXPECT_EQ(with_key.exit_code, 1);
  EXPECT_NE(with_key.err.find("OPENAI_API_KEY (the API key of local) is not set"),
            std::string::npos)
      << with_key.err;
  EXPECT_EQ(no_key.exit_code, 1);
  EXPECT_NE(no_key.err.find("max_evaluations"), std::string::npos) << no_key.err;
  EXPECT_EQ(no_key.err.find("api_key_env"), std::string::npos) << no_key.err;
}

TEST(ExitCodes, SuccessIsZeroAndNoGpuIsThree) {
  TempDir dir;
  testing::write_file(dir.file("k.cu"), kKernel);
  setenv("XDG_CACHE_HOME", dir.file("cache").c_str(), 1);
  EXPECT_EQ(run_kevo("eval " + dir.file("k.cu") + " --compile-only").exit_code, 0);
  EXPECT_EQ(
      run_kevo("config-check " + testing::source_dir() + "/configs/quickstart.yaml").exit_code, 0);
  EXPECT_EQ(run_kevo("--help").exit_code, 0);
  EXPECT_EQ(run_kevo("export --help").exit_code, 0);
  if (!testing::gpu_unavailable_reason().empty()) {
    EXPECT_EQ(run_kevo("eval " + dir.file("k.cu")).exit_code, 3);
    EXPECT_EQ(run_kevo("run --runs-dir " + dir.file("runs")).exit_code, 3);
    EXPECT_EQ(run_kevo("doctor --no-bandwidth").exit_code, 3);
  }
  unsetenv("XDG_CACHE_HOME");
}

}  // namespace
}  // namespace kevo
