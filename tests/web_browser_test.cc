// The web view in a real browser (headless Chromium over the DevTools protocol): the overview and a
// program page load with no console error, exception or failed load; the heat map and the chart
// are drawn (their screenshots hold the colours they should); hostile archive text stays text;
// and the overview follows a run that writes. The overview's screenshot is saved as
// <build>/web-screenshots/overview.png (the README's picture comes from there).
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "orchestrator/web/web.h"
#include "tests/headless_chromium.h"
#include "tests/test_support.h"
#include "tests/web_fixtures.h"

namespace kevo {
namespace {

using nlohmann::json;
using testing::HeadlessChromium;
using testing::Image;
using testing::TempDir;

struct Served {
  explicit Served(const std::string& db, int refresh_s = 5) {
    ServeOptions o;
    o.db = db;
    o.port = 0;
    o.refresh_s = refresh_s;
    server = std::move(WebServer::start(o)).value();
    thread = std::thread([this] { server->serve(); });
  }
  ~Served() {
    server->stop();
    thread.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server->port()) + path;
  }
  std::unique_ptr<WebServer> server;
  std::thread thread;
};

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += "\n  " + s;
  return out;
}

// Share of pixels that are saturated colour (not white, grey or black text).
double colourful_share(const Image& img) {
  size_t n = 0;
  for (size_t p = 0; p < img.rgba.size(); p += 4) {
    int r = img.rgba[p], g = img.rgba[p + 1], b = img.rgba[p + 2];
    n += std::max({r, g, b}) - std::min({r, g, b}) > 60;
  }
  return static_cast<double>(n) / (static_cast<double>(img.rgba.size()) / 4);
}

Result<Image> shot_of(HeadlessChromium& b, const std::string& selector) {
  KEVO_ASSIGN_OR_RETURN(json r, b.eval("(() => { const r = document.querySelector('" + selector +
                                       "').getBoundingClientRect(); return [r.x + scrollX, "
                                       "r.y + scrollY, r.width, r.height]; })()"));
  KEVO_ASSIGN_OR_RETURN(std::string png, b.screenshot(r[0], r[1], r[2], r[3]));
  return testing::png_decode(png);
}

class Browser : public ::testing::Test {
 protected:
  void SetUp() override {
    KEVO_REQUIRE_CHROMIUM();
    run_ = testing::make_demo_run(dir_.file("kevo.db"));
    auto b = HeadlessChromium::start(1280, 900);
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    browser_ = std::move(b).value();
  }
  TempDir dir_;
  testing::DemoRun run_;
  std::unique_ptr<HeadlessChromium> browser_;
};

TEST_F(Browser, OverviewLoadsCleanlyAndDrawsItsHeatMapAndChart) {
  Served s(run_.db);
  Status st = browser_->load(s.url("/"), "document.getElementById('fitness').dataset.drawn");
  ASSERT_TRUE(st.ok()) << st.to_string() << joined(browser_->problems());
  EXPECT_TRUE(browser_->problems().empty()) << joined(browser_->problems());
  // Every evaluation became a point of the chart.
  auto drawn = browser_->eval("document.getElementById('fitness').dataset.drawn");
  ASSERT_TRUE(drawn.ok());
  EXPECT_EQ(*drawn, std::to_string(run_.evaluated));
  auto map = shot_of(*browser_, "svg.heatmap");
  ASSERT_TRUE(map.ok()) << map.status().to_string();
  EXPECT_GT(map->width, 100);
  EXPECT_GT(colourful_share(*map), 0.08) << "the heat map's cells are not coloured";
  auto chart = shot_of(*browser_, "canvas#fitness");
  ASSERT_TRUE(chart.ok()) << chart.status().to_string();
  EXPECT_GT(colourful_share(*chart), 0.005) << "no dots or lines on the chart";
  // A heat map cell links to its elite.
  auto href = browser_->eval("document.querySelector('svg.heatmap a').getAttribute('href')");
  ASSERT_TRUE(href.ok());
  EXPECT_EQ(href->get<std::string>().rfind("/program/", 0), 0u);

  auto page = browser_->screenshot(0, 0, 1280, 900);
  ASSERT_TRUE(page.ok());
  ASSERT_TRUE(testing::png_decode(*page).ok());
  std::filesystem::create_directories(std::string(KEVO_BINARY_DIR) + "/web-screenshots");
  testing::write_file(std::string(KEVO_BINARY_DIR) + "/web-screenshots/overview.png", *page);
}

TEST_F(Browser, ProgramPageShowsHostileTextAsText) {
  Served s(run_.db);
  Status st = browser_->load(s.url("/program/" + std::to_string(run_.hostile)),
                             "document.querySelector('pre.src')");
  ASSERT_TRUE(st.ok()) << st.to_string();
  EXPECT_TRUE(browser_->problems().empty()) << joined(browser_->problems());
  auto scripts = browser_->eval("document.scripts.length");
  ASSERT_TRUE(scripts.ok());
  EXPECT_EQ(*scripts, 1);  // kevo.js only: nothing from the archive became a script
  auto text = browser_->eval("document.body.innerText");
  ASSERT_TRUE(text.ok());
  const std::string body = *text;
  EXPECT_NE(body.find("</textarea><script>alert('source')</script>"), std::string::npos);
  EXPECT_NE(body.find("</textarea><script>alert('reply')</script>"), std::string::npos);
  auto lines = browser_->eval("document.querySelectorAll('pre.src .ln').length");
  ASSERT_TRUE(lines.ok());
  EXPECT_EQ(*lines, 3);
  auto keyword = browser_->eval("document.querySelector('pre.src .k').textContent");
  ASSERT_TRUE(keyword.ok());
  EXPECT_EQ(*keyword, "extern");
}

TEST_F(Browser, CallsPageLoadsCleanly) {
  Served s(run_.db);
  Status st = browser_->load(s.url("/llm?outcome=child"), "document.querySelector('table.calls')");
  ASSERT_TRUE(st.ok()) << st.to_string();
  EXPECT_TRUE(browser_->problems().empty()) << joined(browser_->problems());
  auto rows = browser_->eval("document.querySelectorAll('table.calls tbody tr').length");
  ASSERT_TRUE(rows.ok());
  EXPECT_GT(rows->get<int>(), 10);
}

TEST(BrowserLive, TheOverviewFollowsARunThatWrites) {
  KEVO_REQUIRE_CHROMIUM();
  TempDir dir;
  std::unique_ptr<Archive> writer;
  auto run = testing::make_demo_run(dir.file("kevo.db"), 40, &writer);
  Served s(run.db, /*refresh_s=*/1);
  auto b = HeadlessChromium::start(1280, 900);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  Status st = (*b)->load(s.url("/"), "document.getElementById('fitness').dataset.drawn");
  ASSERT_TRUE(st.ok()) << st.to_string();
  auto bp = writer->begin_evaluation({testing::kernel_source(7777), {}, 1, 0, "tuner", {}});
  ASSERT_TRUE(bp.ok());
  ASSERT_TRUE(writer->record_result(bp->id, testing::eval_json("ok", 12.5, 0.004, 4)).ok());
  // The new best shows in the cards and the chart gains its point, without a reload by the test.
  const std::string want = std::to_string(run.evaluated + 1);
  st = (*b)->wait_for("document.getElementById('fitness').dataset.drawn === '" + want +
                          "' && document.body.innerText.includes('12.5')",
                      20);
  EXPECT_TRUE(st.ok()) << st.to_string();
  EXPECT_TRUE((*b)->problems().empty()) << joined((*b)->problems());
}

}  // namespace
}  // namespace kevo
