// A real HTTP/1.1 server on 127.0.0.1 (random port) with scripted replies, for testing the LLM
// clients against sockets rather than mocks. One thread accepts; each connection gets its own
// thread, so concurrent requests are really concurrent. Every wait is bounded and interrupted
// when the server is destroyed. Header-only: only the test executables include it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace kevo::testing {

struct ScriptedReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Length
  std::string body;
  double delay_s = 0;              // wait before answering (interrupted on shutdown)
  bool drop_mid_body = false;      // announce the full length, send half, close
  bool no_content_length = false;  // no length: the body ends when the connection closes
};

struct ReceivedRequest {
  std::string method, path;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

class LoopbackHttpServer {
 public:
  using Handler = std::function<ScriptedReply(const ReceivedRequest&)>;

  LoopbackHttpServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket() failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;  // the kernel picks a free port
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 64) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(fd_);
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~LoopbackHttpServer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    acceptor_.join();
    std::vector<std::thread> conns;
    {
      std::lock_guard<std::mutex> lock(mu_);
      conns.swap(connections_);
    }
    for (auto& t : conns) t.join();
    ::close(fd_);
  }

  LoopbackHttpServer(const LoopbackHttpServer&) = delete;
  LoopbackHttpServer& operator=(const LoopbackHttpServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Replies are used in order; when none is left, the handler (if set) answers, else a 500.
  void push(ScriptedReply r) {
    std::lock_guard<std::mutex> lock(mu_);
    script_.push_back(std::move(r));
  }
  void set_handler(Handler h) {
    std::lock_guard<std::mutex> lock(mu_);
    handler_ = std::move(h);
  }

  std::vector<ReceivedRequest> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  int max_concurrent() const { return max_active_.load(); }
  int active() const { return active_.load(); }

  // Sleeps up to `seconds`, returning early (false) when the server stops.
  bool wait(double seconds) {
    std::unique_lock<std::mutex> lock(mu_);
    return !cv_.wait_for(lock, std::chrono::duration<double>(seconds), [&] { return stop_; });
  }

 private:
  bool stopping() {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_;
  }

  void accept_loop() {
    while (!stopping()) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::lock_guard<std::mutex> lock(mu_);
      connections_.emplace_back([this, c] {
        serve(c);
        ::close(c);
      });
    }
  }

  static void send_all(int c, const char* data, size_t n) {
    while (n > 0) {
      ssize_t k = ::send(c, data, n, MSG_NOSIGNAL);
      if (k <= 0) return;  // the client went away (timed out): fine
      data += k;
      n -= static_cast<size_t>(k);
    }
  }

  // Reads one request; false on a malformed or abandoned one.
  static bool read_request(int c, ReceivedRequest& req) {
    timeval tv{10, 0};  // bounded: a stuck client cannot hold the test
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string buf;
    char tmp[65536];
    size_t header_end;
    while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
      ssize_t k = ::recv(c, tmp, sizeof tmp, 0);
      if (k <= 0) return false;
      buf.append(tmp, static_cast<size_t>(k));
    }
    std::string head = buf.substr(0, header_end);
    size_t line_end = head.find("\r\n");
    std::string first = head.substr(0, line_end);
    size_t sp1 = first.find(' '), sp2 = first.find(' ', sp1 + 1);
    if (sp1 == std::string::npos || sp2 == std::string::npos) return false;
    req.method = first.substr(0, sp1);
    req.path = first.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(pos, e - pos);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(), ::tolower);
        size_t v = line.find_first_not_of(' ', colon + 1);
        req.headers[name] = v == std::string::npos ? "" : line.substr(v);
      }
      pos = e + 2;
    }
    size_t length = 0;
    if (auto it = req.headers.find("content-length"); it != req.headers.end()) {
      length = std::stoul(it->second);
    }
    if (auto it = req.headers.find("expect"); it != req.headers.end() && it->second == "100-continue") {
      static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      send_all(c, kContinue, sizeof kContinue - 1);
    }
    req.body = buf.substr(header_end + 4);
    while (req.body.size() < length) {
      ssize_t k = ::recv(c, tmp, sizeof tmp, 0);
      if (k <= 0) return false;
      req.body.append(tmp, static_cast<size_t>(k));
    }
    return true;
  }

  void serve(int c) {
    ReceivedRequest req;
    if (!read_request(c, req)) return;
    int now = ++active_;
    for (int m = max_active_.load(); now > m && !max_active_.compare_exchange_weak(m, now);) {
    }
    ScriptedReply reply;
    Handler handler;
    bool scripted = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(req);
      if (!script_.empty()) {
        reply = std::move(script_.front());
        script_.pop_front();
        scripted = true;
      } else {
        handler = handler_;
      }
    }
    if (!scripted) {
      if (handler) {
        reply = handler(req);
      } else {
        reply.status = 500;
        reply.body = R"({"error":{"message":"no scripted reply left"}})";
      }
    }
    if (reply.delay_s > 0 && !wait(reply.delay_s)) {
      --active_;
      return;
    }
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " Scripted\r\n";
    out += "Connection: close\r\nContent-Type: application/json\r\n";
    if (!reply.no_content_length) out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
    for (const auto& [k, v] : reply.headers) out += k + ": " + v + "\r\n";
    out += "\r\n";
    out += reply.drop_mid_body ? reply.body.substr(0, reply.body.size() / 2) : reply.body;
    send_all(c, out.data(), out.size());
    --active_;
  }

  int fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::deque<ScriptedReply> script_;
  Handler handler_;
  std::vector<ReceivedRequest> requests_;
  std::vector<std::thread> connections_;
  std::atomic<int> active_{0};
  std::atomic<int> max_active_{0};
};

}  // namespace kevo::testing
