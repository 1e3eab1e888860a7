// kevo report on a run the test writes, through the real binary: the figures are valid, non-blank
// PNG and well-formed SVG, report.md and report.json hold the run's numbers, the Pareto front is
// what it says, and a missing matplotlib is one line (the data is written anyway).
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "orchestrator/report/report.h"
#include "tests/headless_chromium.h"
#include "tests/test_support.h"
#include "tests/web_fixtures.h"

namespace kevo {
namespace {

using nlohmann::json;
using testing::TempDir;

bool have_matplotlib() {
  for (const char* py : {"/usr/bin/python3", "python3"}) {
    std::string cmd = std::string(py) + " -c 'import matplotlib' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return true;
  }
  return false;
}

#define KEVO_REQUIRE_MATPLOTLIB()                                                 \
  do {                                                                            \
    if (!have_matplotlib()) {                                                     \
      const char* req = std::getenv("KEVO_REQUIRE_VIEW_TOOLS");                   \
      if (req && std::string(req) == "1") FAIL() << "no python3 with matplotlib"; \
      GTEST_SKIP() << "needs python3-matplotlib (scripts/setup.sh installs it)";  \
    }                                                                             \
  } while (0)

// Share of pixels that are neither white nor grey.
double colourful(const testing::Image& img) {
  size_t n = 0;
  for (size_t p = 0; p < img.rgba.size(); p += 4) {
    int r = img.rgba[p], g = img.rgba[p + 1], b = img.rgba[p + 2];
    n += img.rgba[p + 3] > 0 && std::max({r, g, b}) - std::min({r, g, b}) > 60;
  }
  return static_cast<double>(n) / (static_cast<double>(img.rgba.size()) / 4);
}

TEST(ParetoFront, KeepsThePointsNothingBeatsOnBothAxes) {
  // (error, fitness): lower error and higher fitness are better.
  std::vector<std::pair<double, double>> pts = {{0.01, 1.0},  {0.02, 3.0}, {0.02, 2.0}, {0.05, 2.5},
                                                {0.005, 0.5}, {0.1, 4.0},  {0.1, 3.5}};
  EXPECT_EQ(pareto_front(pts), (std::vector<size_t>{4, 0, 1, 5}));
  EXPECT_TRUE(pareto_front({}).empty());
}

class Report : public ::testing::Test {
 protected:
  void SetUp() override { run_ = testing::make_demo_run(dir_.file("kevo.db")); }
  TempDir dir_;
  testing::DemoRun run_;
};

TEST_F(Report, WritesValidFiguresAndASummary) {
  KEVO_REQUIRE_MATPLOTLIB();
  const std::string out = dir_.file("report");
  auto r = testing::run_kevo("report --db " + run_.db + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* name : {"fitness", "pareto", "methods", "llm_accept"}) {
    auto img = testing::png_decode(testing::read_file(out + "/" + name + ".png"));
    ASSERT_TRUE(img.ok()) << name << ": " << img.status().to_string();
    EXPECT_GT(img->width, 400) << name;
    EXPECT_GT(img->height, 200) << name;
    EXPECT_GT(colourful(*img), 0.002) << name << ": nothing drawn";
    const std::string svg = testing::read_file(out + "/" + name + ".svg");
    EXPECT_EQ(svg.rfind("<?xml", 0), 0u) << name;
    EXPECT_NE(svg.find("<svg"), std::string::npos) << name;
    EXPECT_NE(svg.find("</svg>"), std::string::npos) << name;
    EXPECT_GT(svg.size(), 5000u) << name;
  }
  json d = json::parse(testing::read_file(out + "/report.json"));
  EXPECT_EQ(static_cast<int64_t>(d["points"]["id"].size()), run_.evaluated);
  EXPECT_EQ(d["summary"]["best"]["program"], run_.best);
  ASSERT_EQ(d["methods"].size(), 3u);
  EXPECT_EQ(d["methods"][0]["name"], "hash_topk");
  EXPECT_FALSE(d["workloads"].empty());
  EXPECT_GT(d["llm"]["calls"].get<int>(), 100);
  EXPECT_GT(d["llm"]["by_outcome"]["rejected"].get<int>(), 0);
  // The front: error rises and fitness rises along it, and no ok program beats a front point.
  const json& front = d["pareto"]["front"];
  ASSERT_FALSE(front.empty());
  for (size_t i = 1; i < front.size(); ++i) {
    EXPECT_GT(front[i]["error"].get<double>(), front[i - 1]["error"].get<double>());
    EXPECT_GT(front[i]["fitness"].get<double>(), front[i - 1]["fitness"].get<double>());
  }
  const json& all = d["pareto"];
  for (const auto& f : front) {
    for (size_t i = 0; i < all["id"].size(); ++i) {
      bool dominates = all["error"][i].get<double>() <= f["error"].get<double>() &&
                       all["fitness"][i].get<double>() > f["fitness"].get<double>();
      EXPECT_FALSE(dominates) << "#" << all["id"][i] << " beats front point #" << f["id"];
    }
  }
  const std::string md = testing::read_file(out + "/report.md");
  for (const char* want :
       {"# kevo run report: test-run", "![fitness over evaluations](fitness.png)", "(pareto.png)",
        "(methods.png)", "(llm_accept.png)", "| hash\\_topk |", "| quest\\_pages |",
        "stopped (max\\_evaluations)"}) {
    EXPECT_NE(md.find(want), std::string::npos) << want << "\n" << md;
  }
  EXPECT_NE(md.find("#" + std::to_string(run_.best)), std::string::npos);
  // figures.py redraws from the folder alone.
  std::filesystem::remove(out + "/pareto.png");
  ASSERT_EQ(std::system(("cd " + out +
                         " && /usr/bin/python3 figures.py >/dev/null 2>&1 || "
                         "python3 figures.py")
                            .c_str()),
            0);
  EXPECT_TRUE(testing::png_decode(testing::read_file(out + "/pareto.png")).ok());
}

TEST_F(Report, WithoutMatplotlibItSaysWhatToInstall) {
  const std::string out = dir_.file("report");
  auto r = testing::run_kevo("report --db " + run_.db + " --out " + out +
                             " --python /nonexistent/python3");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("python3-matplotlib"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(std::filesystem::exists(out + "/report.json"));
  EXPECT_TRUE(std::filesystem::exists(out + "/report.md"));
}

TEST(ReportErrors, MissingArchiveIsOneLine) {
  TempDir dir;
  auto r = testing::run_kevo("report --db " + dir.file("none.db") + " --out " + dir.file("out"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "kevo: error: archive: no run database at " + dir.file("none.db") + "\n");
  auto usage = testing::run_kevo("report --db " + dir.file("none.db"));
  EXPECT_EQ(usage.exit_code, 2);  // --out is required
}

TEST(ReportEmpty, ARunWithoutResultsStillGetsFigures) {
  KEVO_REQUIRE_MATPLOTLIB();
  TempDir dir;
  {
    auto ar = std::move(Archive::create(dir.file("kevo.db"), testing::test_run(),
                                        testing::test_config(1)))
                  .value();
    ASSERT_TRUE(ar->begin_evaluation({testing::kernel_source(1), {}, {}, 0, "seed", {}}).ok());
  }
  auto r = testing::run_kevo("report --db " + dir.file("kevo.db") + " --out " + dir.file("out"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* name : {"fitness", "pareto", "methods", "llm_accept"}) {
    EXPECT_TRUE(testing::png_decode(testing::read_file(dir.file("out/") + name + ".png")).ok())
        << name;
  }
}

}  // namespace
}  // namespace kevo
