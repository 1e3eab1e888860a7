// Headless Chromium for the web view's browser tests, driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe: JSON messages ended by NUL on fds 3 and 4), so no npm, no WebSocket
// library and no port. It loads pages, reports every console error, uncaught exception and failed
// load, evaluates JavaScript and takes screenshots (PNG, decoded by png_decode()).
// Not thread-safe; one test drives one browser.
#pragma once

#include <sys/types.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace kevo::testing {

// Path of a Chromium executable (chromium, chromium-browser, google-chrome), or "".
std::string find_chromium();

// Skips the test (visibly) without a browser, unless KEVO_REQUIRE_VIEW_TOOLS=1 (CI: setup.sh
// installs Chromium there, so a missing one is a failure).
#define KEVO_REQUIRE_CHROMIUM()                                                      \
  do {                                                                               \
    if (::kevo::testing::find_chromium().empty()) {                                  \
      const char* kevo_req_ = std::getenv("KEVO_REQUIRE_VIEW_TOOLS");                \
      if (kevo_req_ && std::string(kevo_req_) == "1") {                              \
        FAIL() << "KEVO_REQUIRE_VIEW_TOOLS=1 but no chromium: run scripts/setup.sh"; \
      }                                                                              \
      GTEST_SKIP() << "needs Chromium (apt-get install chromium; scripts/setup.sh)"; \
    }                                                                                \
  } while (0)

class HeadlessChromium {
 public:
  static Result<std::unique_ptr<HeadlessChromium>> start(int width = 1280, int height = 900);
  ~HeadlessChromium();  // closes the browser, kills what is left, removes its profile
  HeadlessChromium(const HeadlessChromium&) = delete;
  HeadlessChromium& operator=(const HeadlessChromium&) = delete;

  // Opens `url`, waits for its load event, then until `ready_js` evaluates truthy (or timeout).
  // Clears the problems seen so far first.
  Status load(const std::string& url, const std::string& ready_js = "true", double timeout_s = 30);
  // Polls `js` until truthy.
  Status wait_for(const std::string& js, double timeout_s);
  // Console errors and warnings, uncaught exceptions, failed loads, CSP violations since load().
  std::vector<std::string> problems();
  // The value of a JavaScript expression (returnByValue).
  Result<nlohmann::json> eval(const std::string& js);
  // PNG bytes of the page region (CSS pixels); the whole page when w or h is 0.
  Result<std::string> screenshot(double x = 0, double y = 0, double w = 0, double h = 0);

 private:
  HeadlessChromium() = default;
  Result<nlohmann::json> call(const std::string& method, nlohmann::json params = {},
                              double timeout_s = 30);
  Status send(const nlohmann::json& message);
  // Reads one message; false on timeout or a closed pipe.
  bool read_message(nlohmann::json& out, double timeout_s);
  void note_event(const nlohmann::json& event);

  pid_t pid_ = -1;
  int to_browser_ = -1;
  int from_browser_ = -1;
  std::string buffer_;
  std::string profile_dir_;
  std::string session_;
  int next_id_ = 1;
  std::deque<nlohmann::json> events_;
  std::vector<std::string> problems_;
};

// An 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes) as RGBA pixels.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<unsigned char> rgba;  // width * height * 4
};
Result<Image> png_decode(const std::string& png);

}  // namespace kevo::testing
