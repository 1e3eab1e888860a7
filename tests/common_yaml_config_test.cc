#include "common/yaml_config.h"

#include <gtest/gtest.h>

#include "orchestrator/config/config.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

TEST(YamlConfig, DefaultsSurviveAnEmptyFile) {
  KevoConfig c;
  ASSERT_TRUE(load_yaml_config("", "empty.yaml", c).ok());
  EXPECT_EQ(c.archive.islands, 4);
  EXPECT_EQ(c.archive.features.size(), 2u);
  EXPECT_EQ(c.archive.features[0].metric, "mean_rel_err");
}

TEST(YamlConfig, ReadsNestedValues) {
  KevoConfig c;
  Status st = load_yaml_config(
      "run:\n  name: demo\n  max_evaluations: 7\n  seeds: [hash_topk]\n"
      "llm:\n  models:\n    - model: gpt-x\n      weight: 2\n      usd_per_mtok_in: 1\n"
      "archive:\n  features:\n    - metric: speedup\n      bins: [1, 2, 4]\n",
      "x.yaml", c);
  ASSERT_TRUE(st.ok()) << st.to_string();
  EXPECT_EQ(c.run.name, "demo");
  EXPECT_EQ(c.run.max_evaluations, 7);
  ASSERT_EQ(c.run.seeds.size(), 1u);
  ASSERT_EQ(c.llm.models.size(), 1u);
  EXPECT_EQ(c.llm.models[0].model, "gpt-x");
  EXPECT_DOUBLE_EQ(c.llm.models[0].weight, 2);
  ASSERT_EQ(c.archive.features.size(), 1u);
  EXPECT_EQ(c.archive.features[0].bins.size(), 3u);
}

TEST(YamlConfig, UnknownKeyNamesKeyAndLine) {
  KevoConfig c;
  Status st = load_yaml_config("run:\n  name: demo\n  max_evals: 7\n", "cfg.yaml", c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cfg.yaml:3"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("run.max_evals"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("unknown key"), std::string::npos) << st.message();
}

TEST(YamlConfig, WrongTypeNamesKeyAndLine) {
  KevoConfig c;
  Status st = load_yaml_config("archive:\n  islands: four\n", "cfg.yaml", c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cfg.yaml:2"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("archive.islands"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("integer"), std::string::npos) << st.message();
}

TEST(YamlConfig, RangeChecksReportTheKey) {
  KevoConfig c;
  Status st = load_yaml_config("run:\n  tuner_share: 1.5\n", "cfg.yaml", c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("run.tuner_share"), std::string::npos) << st.message();
}

TEST(YamlConfig, SyntaxErrorGivesLine) {
  KevoConfig c;
  Status st = load_yaml_config("run:\n  name: [unclosed\n", "bad.yaml", c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("bad.yaml:"), std::string::npos) << st.message();
}

TEST(YamlConfig, ShippedConfigsLoad) {
  for (const char* name : {"quickstart.yaml", "full.yaml"}) {
    std::string path = testing::source_dir() + "/configs/" + name;
    auto c = load_config(path);
    EXPECT_TRUE(c.ok()) << path << ": " << c.status().to_string();
  }
}

}  // namespace
}  // namespace kevo
