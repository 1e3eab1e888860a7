#include "tests/headless_chromium.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "common/base64.h"

namespace kevo::testing {

using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string find_chromium() {
  for (const char* p :
       {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

namespace {

// A copy of `fd` numbered 10 or more, so dup2 onto 3 and 4 never meets its own source.
int high_fd(int fd) {
  return fcntl(fd, F_DUPFD_CLOEXEC, 10);
}

double seconds_left(Clock::time_point deadline) {
  return std::chrono::duration<double>(deadline - Clock::now()).count();
}

Clock::time_point after(double s) {
  return Clock::now() +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

bool truthy(const json& v) {
  return !(v.is_null() || (v.is_boolean() && !v.get<bool>()) || (v.is_number() && v == 0) ||
           (v.is_string() && v.get<std::string>().empty()));
}

}  // namespace

Result<std::unique_ptr<HeadlessChromium>> HeadlessChromium::start(int width, int height) {
  const std::string exe = find_chromium();
  if (exe.empty()) return Status::Unavailable("no chromium");
  std::unique_ptr<HeadlessChromium> b(new HeadlessChromium());
  std::string tmpl = (fs::temp_directory_path() / "kevo-chromium-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) return Status::IoError("mkdtemp failed");
  b->profile_dir_ = tmpl;
  int to[2], from[2];
  if (pipe2(to, O_CLOEXEC) != 0 || pipe2(from, O_CLOEXEC) != 0) return Status::IoError("pipe");
  const int child_in = high_fd(to[0]), child_out = high_fd(from[1]);
  close(to[0]);
  close(from[1]);
  std::vector<std::string> args = {
      exe,
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-extensions",
      "--disable-default-apps",
      "--disable-dev-shm-usage",
      "--mute-audio",
      "--hide-scrollbars",
      "--remote-debugging-pipe",
      "--user-data-dir=" + b->profile_dir_,
      "--window-size=" + std::to_string(width) + "," + std::to_string(height),
      "about:blank"};
  const std::string log = b->profile_dir_ + "/chromium.log";
  pid_t pid = fork();
  if (pid < 0) return Status::IoError("fork failed");
  if (pid == 0) {
    setpgid(0, 0);  // the browser's helpers die with it (kill of the group)
    dup2(child_in, 3);
    dup2(child_out, 4);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    int logfd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(logfd, 1);
    dup2(logfd, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(exe.c_str(), argv.data());
    _exit(127);
  }
  close(child_in);
  close(child_out);
  b->pid_ = pid;
  b->to_browser_ = to[1];
  b->from_browser_ = from[0];

  KEVO_ASSIGN_OR_RETURN(json targets, b->call("Target.getTargets"));
  std::string target;
  for (const auto& t : targets["targetInfos"]) {
    if (t["type"] == "page") target = t["targetId"];
  }
  if (target.empty()) {
    KEVO_ASSIGN_OR_RETURN(json created, b->call("Target.createTarget", {{"url", "about:blank"}}));
    target = created["targetId"];
  }
  KEVO_ASSIGN_OR_RETURN(
      json attached, b->call("Target.attachToTarget", {{"targetId", target}, {"flatten", true}}));
  b->session_ = attached["sessionId"];
  for (const char* domain : {"Page.enable", "Runtime.enable", "Log.enable"}) {
    KEVO_RETURN_IF_ERROR(b->call(domain).status());
  }
  KEVO_RETURN_IF_ERROR(
      b->call("Emulation.setDeviceMetricsOverride",
              {{"width", width}, {"height", height}, {"deviceScaleFactor", 1}, {"mobile", false}})
          .status());
  return b;
}

HeadlessChromium::~HeadlessChromium() {
  if (pid_ > 0) {
    json close_msg = {{"id", next_id_++}, {"method", "Browser.close"}};
    (void)send(close_msg);
    auto deadline = after(5);
    int status = 0;
    bool reaped = false;
    while (Clock::now() < deadline) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(-pid_, SIGKILL);  // helpers left in the group
    if (!reaped) waitpid(pid_, &status, 0);
  }
  if (to_browser_ >= 0) close(to_browser_);
  if (from_browser_ >= 0) close(from_browser_);
  std::error_code ec;
  if (!profile_dir_.empty()) fs::remove_all(profile_dir_, ec);
}

Status HeadlessChromium::send(const json& message) {
  std::string text = message.dump() + '\0';
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(to_browser_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::IoError("chromium: write to the DevTools pipe failed");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

bool HeadlessChromium::read_message(json& out, double timeout_s) {
  auto deadline = after(timeout_s);
  while (true) {
    size_t end = buffer_.find('\0');
    if (end != std::string::npos) {
      out = json::parse(buffer_.substr(0, end), nullptr, false);
      buffer_.erase(0, end + 1);
      return !out.is_discarded();
    }
    double left = seconds_left(deadline);
    if (left <= 0) return false;
    pollfd p{from_browser_, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left * 1000) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char chunk[1 << 16];
    ssize_t n = read(from_browser_, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

void HeadlessChromium::note_event(const json& e) {
  const std::string method = e.value("method", "");
  const json& p = e.contains("params") ? e["params"] : json::object();
  if (method == "Runtime.exceptionThrown") {
    const json& d = p["exceptionDetails"];
    std::string what =
        d.contains("exception") ? d["exception"].value("description", "") : std::string();
    problems_.push_back("uncaught exception: " + (what.empty() ? d.value("text", "") : what));
  } else if (method == "Runtime.consoleAPICalled") {
    const std::string type = p.value("type", "");
    if (type == "error" || type == "warning" || type == "assert") {
      std::string text;
      for (const auto& a : p["args"]) text += " " + a.value("value", json("")).dump();
      problems_.push_back("console." + type + ":" + text);
    }
  } else if (method == "Log.entryAdded") {
    const json& entry = p["entry"];
    if (entry.value("level", "") == "error" || entry.value("level", "") == "warning") {
      problems_.push_back("log " + entry.value("level", "") + " (" + entry.value("source", "") +
                          "): " + entry.value("text", "") + " " + entry.value("url", ""));
    }
  }
  events_.push_back(e);
}

Result<json> HeadlessChromium::call(const std::string& method, json params, double timeout_s) {
  const int id = next_id_++;
  json msg = {
      {"id", id}, {"method", method}, {"params", params.is_null() ? json::object() : params}};
  if (!session_.empty() && !method.starts_with("Target.")) msg["sessionId"] = session_;
  KEVO_RETURN_IF_ERROR(send(msg));
  auto deadline = after(timeout_s);
  while (true) {
    json m;
    if (!read_message(m, seconds_left(deadline))) {
      return Status::Timeout("chromium: no answer to " + method);
    }
    if (m.contains("id") && m["id"] == id) {
      if (m.contains("error")) {
        return Status::Internal("chromium: " + method + ": " + m["error"].dump());
      }
      return m.value("result", json::object());
    }
    if (m.contains("method")) note_event(m);
  }
}

Status HeadlessChromium::load(const std::string& url, const std::string& ready_js,
                              double timeout_s) {
  problems_.clear();
  events_.clear();
  KEVO_ASSIGN_OR_RETURN(json nav, call("Page.navigate", {{"url", url}}));
  if (nav.contains("errorText")) return Status::Unavailable("chromium: " + nav["errorText"].dump());
  auto deadline = after(timeout_s);
  bool loaded = false;
  while (!loaded) {
    for (const auto& e : events_) loaded = loaded || e.value("method", "") == "Page.loadEventFired";
    if (loaded) break;
    json m;
    if (!read_message(m, seconds_left(deadline))) {
      return Status::Timeout("chromium: " + url + " did not finish loading");
    }
    if (m.contains("method")) note_event(m);
  }
  return wait_for(ready_js, std::max(1.0, seconds_left(deadline)));
}

Status HeadlessChromium::wait_for(const std::string& js, double timeout_s) {
  auto deadline = after(timeout_s);
  while (true) {
    auto v = eval(js);
    if (v.ok() && truthy(*v)) return Status::Ok();
    if (Clock::now() > deadline) {
      return Status::Timeout("chromium: `" + js + "` still false" +
                             (v.ok() ? "" : " (" + v.status().message() + ")"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::vector<std::string> HeadlessChromium::problems() {
  // Let pending events arrive (a late console error after the load).
  (void)call("Runtime.evaluate", {{"expression", "0"}});
  return problems_;
}

Result<json> HeadlessChromium::eval(const std::string& js) {
  KEVO_ASSIGN_OR_RETURN(
      json r, call("Runtime.evaluate",
                   {{"expression", js}, {"returnByValue", true}, {"awaitPromise", true}}));
  if (r.contains("exceptionDetails")) {
    return Status::InvalidArgument("chromium: `" + js + "` threw " + r["exceptionDetails"].dump());
  }
  return r["result"].value("value", json());
}

Result<std::string> HeadlessChromium::screenshot(double x, double y, double w, double h) {
  if (w <= 0 || h <= 0) {
    KEVO_ASSIGN_OR_RETURN(json m, call("Page.getLayoutMetrics"));
    const json& size = m.contains("cssContentSize") ? m["cssContentSize"] : m["contentSize"];
    x = 0, y = 0, w = size["width"].get<double>(), h = size["height"].get<double>();
  }
  KEVO_ASSIGN_OR_RETURN(
      json r, call("Page.captureScreenshot",
                   {{"format", "png"},
                    {"captureBeyondViewport", true},
                    {"clip", {{"x", x}, {"y", y}, {"width", w}, {"height", h}, {"scale", 1}}}}));
  return base64_decode(r["data"].get<std::string>());
}

// ---- PNG ----

namespace {

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
         (uint32_t(uint8_t(s[at + 2])) << 8) | uint32_t(uint8_t(s[at + 3]));
}

int paeth(int a, int b, int c) {
  int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

}  // namespace

Result<Image> png_decode(const std::string& png) {
  static const std::string kSig = "\x89PNG\r\n\x1a\n";
  if (png.compare(0, 8, kSig) != 0) return Status::InvalidArgument("not a PNG (signature)");
  Image img;
  int channels = 0;
  std::string idat;
  bool ended = false;
  for (size_t at = 8; at + 12 <= png.size();) {
    uint32_t len = be32(png, at);
    std::string type = png.substr(at + 4, 4);
    if (at + 12 + len > png.size()) return Status::InvalidArgument("PNG chunk past the end");
    std::string data = png.substr(at + 8, len);
    uint32_t crc = be32(png, at + 8 + len);
    if (crc32(crc32(0, nullptr, 0), reinterpret_cast<const Bytef*>(png.data() + at + 4), len + 4) !=
        crc) {
      return Status::InvalidArgument("PNG chunk " + type + ": bad CRC");
    }
    if (type == "IHDR") {
      img.width = static_cast<int>(be32(data, 0));
      img.height = static_cast<int>(be32(data, 4));
      int depth = uint8_t(data[8]), colour = uint8_t(data[9]), interlace = uint8_t(data[12]);
      if (depth != 8 || (colour != 2 && colour != 6) || interlace != 0) {
        return Status::InvalidArgument("PNG: only 8-bit RGB/RGBA, not interlaced");
      }
      channels = colour == 6 ? 4 : 3;
    } else if (type == "IDAT") {
      idat += data;
    } else if (type == "IEND") {
      ended = true;
      break;
    }
    at += 12 + len;
  }
  if (!ended || channels == 0 || img.width <= 0 || img.height <= 0) {
    return Status::InvalidArgument("PNG: missing IHDR or IEND");
  }
  const size_t stride = static_cast<size_t>(img.width) * channels;
  std::vector<unsigned char> raw(static_cast<size_t>(img.height) * (stride + 1));
  uLongf raw_len = raw.size();
  if (uncompress(raw.data(), &raw_len, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) !=
          Z_OK ||
      raw_len != raw.size()) {
    return Status::InvalidArgument("PNG: image data does not inflate to its size");
  }
  std::vector<unsigned char> px(static_cast<size_t>(img.height) * stride);
  for (int y = 0; y < img.height; ++y) {
    const unsigned char* in = &raw[y * (stride + 1)];
    unsigned char* out = &px[y * stride];
    const unsigned char* up = y ? &px[(y - 1) * stride] : nullptr;
    for (size_t i = 0; i < stride; ++i) {
      int a = i >= static_cast<size_t>(channels) ? out[i - channels] : 0;
      int b = up ? up[i] : 0;
      int c = up && i >= static_cast<size_t>(channels) ? up[i - channels] : 0;
      int v = in[1 + i];
      switch (in[0]) {
        case 0:
          break;
        case 1:
          v += a;
          break;
        case 2:
          v += b;
          break;
        case 3:
          v += (a + b) / 2;
          break;
        case 4:
          v += paeth(a, b, c);
          break;
        default:
          return Status::InvalidArgument("PNG: bad filter type");
      }
      out[i] = static_cast<unsigned char>(v);
    }
  }
  img.rgba.resize(static_cast<size_t>(img.width) * img.height * 4);
  for (size_t p = 0; p < static_cast<size_t>(img.width) * img.height; ++p) {
    for (int k = 0; k < 3; ++k) img.rgba[p * 4 + k] = px[p * channels + k];
    img.rgba[p * 4 + 3] = channels == 4 ? px[p * channels + 3] : 255;
  }
  return img;
}

}  // namespace kevo::testing
