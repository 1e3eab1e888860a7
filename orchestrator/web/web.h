// `kevo serve`: a local, read-only web view of one run's archive, served by kevo itself
// (cpp-httplib). Pages: overview (progress, rate, stop reason, cost, fitness over evaluations,
// MAP-Elites heat maps, best program per method), a page per program (source, params, results,
// diff to its parent, lineage, the LLM exchange that made it) and the LLM calls (filterable by
// status and outcome). Every view has a JSON endpoint under /api/. The pages poll /api/version
// and refresh while the run moves; each request reads one snapshot (WAL), so a run may write
// meanwhile.
//
// Security: binds 127.0.0.1 unless told otherwise, and then answers only requests whose Host is a
// loopback name (a web page elsewhere cannot reach it through DNS rebinding); GET and HEAD only:
// nothing writes; every archive text is escaped, and a Content-Security-Policy allows only the
// server's own script and style.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"

namespace kevo {

struct ServeOptions {
  std::string db;                  // the run's kevo.db
  std::string host = "127.0.0.1";  // loopback: the archive holds prompts, replies and kernels
  int port = 8080;                 // 0: a free port, chosen by the kernel
  // Request threads, each with its own archive connection (a page takes milliseconds; a few
  // cover a browser's parallel requests).
  int threads = 4;
  // How often open pages ask whether the run moved. Each ask is one O(1) read.
  int refresh_s = 5;
};

class WebServer {
 public:
  // Opens the archive (a missing, foreign or corrupt file is an error naming it) and binds the
  // port (Unavailable when it is taken). Does not serve yet.
  static Result<std::unique_ptr<WebServer>> start(const ServeOptions& options);
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  int port() const;
  std::string url() const;  // http://HOST:PORT/
  const std::string& run_name() const;

  // Serves until stop(); returns false if the server failed.
  bool serve();
  // Thread-safe; serve() returns soon after.
  void stop();

  struct Impl;

 private:
  explicit WebServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kevo
