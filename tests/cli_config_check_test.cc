// `kevo config-check` and `kevo run` check a config before anything runs: every problem at
// once with file:line (missing seed, unknown suite, empty seed list, unset API key variable,
// malformed URL, negative budget, out-of-range temperature and max_tokens, a key given twice),
// a folder or a missing file as the config, the resolved config as text and JSON, and flag
// errors that read "must be >= N".
#include <gtest/gtest.h>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "common/yaml_config.h"
#include "orchestrator/config/config_check.h"
#include "tests/test_support.h"

namespace kevo {
namespace {
using nlohmann::json;
using testing::run_kevo;
using testing::TempDir;

int count_lines(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

// Line numbers matter below: each problem is on its own line.
const char* kBad =
    "run:\n"                                           // 1
    "  name: bad\n"                                    // 2
    "  seeds: [hash_topk, no_such_seed]\n"             // 3
    "  max_cost_usd: -5\n"                             // 4
    "  max_evaluations: 10\n"                          // 5
    "  max_evaluations: 20\n"                          // 6
    "evaluator:\n"                                     // 7
    "  suite: no-such-suite\n"                         // 8
    "llm:\n"                                           // 9
    "  models:\n"                                      // 10
    "    - model: m1\n"                                // 11
    "      base_url: htp:/broken url\n"                // 12
    "      api_key_env: KEVO_TEST_SURELY_UNSET_KEY\n"  // 13
    "      temperature: -3\n"                          // 14
    "      max_tokens: -1\n";                          // 15

TEST(ConfigCheck, ReportsEveryProblemAtOnceWithItsLine) {
  unsetenv("KEVO_TEST_SURELY_UNSET_KEY");
  TempDir dir;
  testing::write_file(dir.file("bad.yaml"), kBad);
  auto r = run_kevo("config-check " + dir.file("bad.yaml"));
  EXPECT_EQ(r.exit_code, 1);
  const std::string f = dir.file("bad.yaml");
  for (const std::string& want :
       {f + ": 8 problems:", f + ":6: key 'run.max_evaluations': given twice (first at line 5)",
        f + ":3: key 'run.seeds[1]': no seed 'no_such_seed'",
        f + ":4: key 'run.max_cost_usd': must be >= 0",
        f + ":8: key 'evaluator.suite': unknown suite 'no-such-suite'",
        f + ":12: key 'llm.models[0].base_url': 'htp:/broken url' is not a URL",
        f + ":13: key 'llm.models[0].api_key_env': the environment variable "
            "KEVO_TEST_SURELY_UNSET_KEY",
        f + ":14: key 'llm.models[0].temperature': must be between 0 and 2",
        f + ":15: key 'llm.models[0].max_tokens': must be >= 1"}) {
    EXPECT_NE(r.err.find(want), std::string::npos) << want << "\n" << r.err;
  }
  EXPECT_EQ(r.err.find("hash_topk'"), std::string::npos) << r.err;  // the good seed is fine
  EXPECT_EQ(count_lines(r.err), 9) << r.err;  // the summary and one line per problem
  auto j = json::parse(run_kevo("config-check --json " + f).out);
  EXPECT_FALSE(j["ok"].get<bool>());
  EXPECT_EQ(j["errors"].size(), 8u);
}

TEST(ConfigCheck, RunChecksBeforeLookingForAGpu) {
  unsetenv("KEVO_TEST_SURELY_UNSET_KEY");
  TempDir dir;
  testing::write_file(dir.file("bad.yaml"), kBad);
  auto r = run_kevo("run " + dir.file("bad.yaml") + " --runs-dir " + dir.file("runs"));
  EXPECT_EQ(r.exit_code, 1) << r.err;  // not 3 (no GPU): the config is wrong first
  EXPECT_NE(r.err.find("8 problems"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no_such_seed"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("runs")));  // nothing created
}

TEST(ConfigCheck, EmptySeedListAndSeedWithBadDirectives) {
  TempDir dir;
  testing::write_file(dir.file("empty.yaml"), "run:\n  seeds: []\n");
  auto e = run_kevo("config-check " + dir.file("empty.yaml"));
  EXPECT_EQ(e.exit_code, 1);
  EXPECT_NE(e.err.find("empty.yaml:2: key 'run.seeds': is empty"), std::string::npos) << e.err;
  EXPECT_EQ(count_lines(e.err), 1) << e.err;
  testing::write_file(dir.file("broken.cu"),
                      "#include \"kevo/sparse_decode.cuh\"\n"
                      "// kevo:param X = 3 in {1, 2}\n"
                      "// kevo:decode k grid(1) block(32)\n"
                      "extern \"C\" __global__ void k(const kevo::Args a) {}\n");
  testing::write_file(dir.file("seed.yaml"),
                      "run:\n  seeds:\n    - hash_topk\n    - " + dir.file("broken.cu") + "\n");
  auto b = run_kevo("config-check " + dir.file("seed.yaml"));
  EXPECT_EQ(b.exit_code, 1);
  EXPECT_NE(b.err.find("seed.yaml:4: key 'run.seeds[1]': seed '"), std::string::npos) << b.err;
  EXPECT_NE(b.err.find("line 2: kevo:param X: the value 3 is not one of its choices"),
            std::string::npos)
      << b.err;
}

TEST(ConfigCheck, FolderOrMissingFileIsAUsageError) {
  TempDir dir;
  auto folder = run_kevo("config-check " + dir.path());
  EXPECT_EQ(folder.exit_code, 2);
  EXPECT_NE(folder.err.find("is a folder, not a file"), std::string::npos) << folder.err;
  auto missing = run_kevo("config-check " + dir.file("nope.yaml"));
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("no such file"), std::string::npos) << missing.err;
  EXPECT_EQ(run_kevo("run " + dir.path()).exit_code, 2);
  EXPECT_EQ(run_kevo("run " + dir.file("nope.yaml")).exit_code, 2);
}

TEST(ConfigCheck, PrintsTheResolvedConfigWhichReadsBackTheSame) {
  setenv("KEVO_TEST_KEY", "sk-test", 1);
  TempDir dir;
  testing::write_file(dir.file("ok.yaml"),
                      "run:\n  name: fine\n  seeds: [hash_topk, dense_flashdecode]\n"
                      "llm:\n  models:\n    - model: m1\n      base_url: http://127.0.0.1:8000/v1\n"
                      "      api_key_env: KEVO_TEST_KEY\n      temperature: 0.5\n"
                      "      usd_per_mtok_in: 0.5\n      usd_per_mtok_out: 2\n");
  auto r = run_kevo("config-check " + dir.file("ok.yaml"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* want : {": ok\n", "# resolved config", "  name: fine\n",
                           "  seeds: [hash_topk, dense_flashdecode]\n", "  islands: 4\n",
                           "  max_in_flight: 16\n", "      temperature: 0.5\n",
                           "    - provider: openai\n      base_url: http://127.0.0.1:8000/v1\n"
                           "      model: m1\n",
                           "  suite: llama3-8b\n", "  compile_workers: auto\n",
                           "      usd_per_mtok_in: 0.5\n",
                           "bins: [0.005, 0.01, 0.02, 0.05, 0.1, 0.2]"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  }
  auto j = json::parse(run_kevo("config-check --json " + dir.file("ok.yaml")).out);
  ASSERT_TRUE(j["ok"].get<bool>()) << j.dump(2);
  EXPECT_EQ(j["config"]["run"]["max_evaluations"], 200);
  EXPECT_EQ(j["config"]["llm"]["models"][0]["base_url"], "http://127.0.0.1:8000/v1");
  EXPECT_EQ(j["config"]["archive"]["features"][1]["metric"], "index_bytes_per_token");
  // The printed config is itself a config that means the same.
  std::string text = r.out.substr(r.out.find("# resolved config"));
  testing::write_file(dir.file("resolved.yaml"), text);
  auto again = json::parse(run_kevo("config-check --json " + dir.file("resolved.yaml")).out);
  ASSERT_TRUE(again["ok"].get<bool>()) << again.dump(2);
  EXPECT_EQ(again["config"], j["config"]);
  unsetenv("KEVO_TEST_KEY");
}

TEST(ConfigCheck, ShippedConfigsAreClean) {
  setenv("OPENAI_API_KEY", "sk-test", 1);  // full.yaml names both
  setenv("ANTHROPIC_API_KEY", "sk-test", 1);
  for (const char* name : {"quickstart.yaml", "full.yaml"}) {
    auto r = run_kevo("config-check " + testing::source_dir() + "/configs/" + name);
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
  }
}

TEST(ConfigCheck, FlagErrorsSayTheBound) {
  for (const char* args :
       {"run --wall-minutes -1", "run --evaluations 0", "top -n 0", "run --islands 0"}) {
    auto r = run_kevo(args);
    EXPECT_EQ(r.exit_code, 2) << args;
    EXPECT_NE(r.err.find("must be >= "), std::string::npos) << args << ": " << r.err;
    EXPECT_LT(r.err.size(), 160u) << args << ": " << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
  }
}

// The binders report every problem too, and yaml_location finds list items.
TEST(ConfigCheck, LocationOfNestedKeys) {
  YAML::Node root = YAML::Load("a:\n  list:\n    - x: 1\n    - x: 2\n      y: 3\n");
  EXPECT_EQ(yaml_location(root, "f.yaml", "a.list[1].y"), "f.yaml:5: key 'a.list[1].y'");
  EXPECT_EQ(yaml_location(root, "f.yaml", "a.list[1].z"), "f.yaml:4: key 'a.list[1].z'");
  EXPECT_EQ(yaml_location(root, "f.yaml", "a.list[0]"), "f.yaml:3: key 'a.list[0]'");
  KevoConfig c;
  Status st =
      load_yaml_config("run:\n  nmae: x\n  tuner_share: 3\narchive:\n  islands: 0\n", "m.yaml", c);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(count_lines(st.message()), 2) << st.message();  // three problems, three lines
}

}  // namespace
}  // namespace kevo
