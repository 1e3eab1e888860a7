// The binary itself: help lists commands, usage errors are one line with exit 2, and doctor
// behaves on machines with and without a GPU.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/test_support.h"

namespace kevo {
namespace {
using testing::run_kevo;

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += (c == '\n');
  return n;
}

TEST(Cli, HelpListsDoctor) {
  auto r = run_kevo("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("doctor"), std::string::npos) << r.out;
}

TEST(Cli, UnknownFlagIsOneLineAndExit2) {
  auto r = run_kevo("doctor --frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("frobnicate"), std::string::npos) << r.err;
}

TEST(Cli, UnknownCommandIsOneLineAndExit2) {
  auto r = run_kevo("frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
}

TEST(Cli, BadLogLevelIsRejected) {
  auto r = run_kevo("--log-level loud doctor --no-bandwidth");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("loud"), std::string::npos) << r.err;
}

TEST(Cli, ConfigCheckNamesTheBadKey) {
  testing::TempDir tmp;
  testing::write_file(tmp.file("bad.yaml"), "run:\n  nmae: x\n");
  auto r = run_kevo("config-check " + tmp.file("bad.yaml"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.yaml:2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("run.nmae"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
}

TEST(Cli, DoctorReportsToolkitAndGpuState) {
  auto r = run_kevo("doctor --json");
  auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j["toolkit"]["nvrtc_version"].get<std::string>().empty());
  EXPECT_FALSE(j["toolkit"]["nvrtc_archs"].empty());
  EXPECT_TRUE(j.contains("landlock"));
  EXPECT_TRUE(j.contains("sqlite_version"));
  if (testing::gpu_unavailable_reason().empty()) {
    EXPECT_EQ(r.exit_code, 0) << r.err;
    ASSERT_FALSE(j["gpus"].empty());
    EXPECT_GT(j["gpus"][0]["copy_gbps"].get<double>(), 100);
  } else {
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_TRUE(j["gpus"].empty());
  }
}

}  // namespace
}  // namespace kevo

namespace kevo {
namespace {

// The binary must start where there is no driver: libcuda.so.1 is opened at run time, never linked.
TEST(Cli, BinaryDoesNotLinkTheDriver) {
  testing::TempDir tmp;
  std::string cmd = "readelf -d " + testing::kevo_binary() + " > " + tmp.file("dyn") + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "readelf is needed for this test";
  std::string dyn = testing::read_file(tmp.file("dyn"));
  EXPECT_NE(dyn.find("NEEDED"), std::string::npos) << dyn;
  EXPECT_EQ(dyn.find("libcuda.so"), std::string::npos) << dyn;
}

}  // namespace
}  // namespace kevo
