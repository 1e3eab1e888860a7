// WebServer: routes, the pool of archive connections, and the security headers and checks.
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <mutex>
#include <set>
#include <vector>

#include "archive/run_views.h"
#include "common/embedded.h"
#include "orchestrator/web/model.h"
#include "orchestrator/web/render.h"
#include "orchestrator/web/web.h"

namespace kevo {

const std::vector<EmbeddedFile>& embedded_web_assets();  // generated: web/assets/*

namespace {

using nlohmann::json;

// Only this server's script and style; no inline code, no framing, no other origin.
constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

double now_unix() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int http_status(const Status& st) {
  switch (st.code()) {
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

bool is_loopback_name(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host == "[::1]";
}

// The host part of a Host header: "localhost:8080" -> "localhost", "[::1]:80" -> "[::1]".
std::string host_name(const std::string& header) {
  if (header.starts_with("[")) {
    size_t end = header.find(']');
    return end == std::string::npos ? header : header.substr(0, end + 1);
  }
  return header.substr(0, header.find(':'));
}

std::optional<int64_t> parse_id(const std::string& text) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < 0) return std::nullopt;
  return v;
}

}  // namespace

struct WebServer::Impl {
  ServeOptions options;
  httplib::Server server;
  int port = 0;
  std::string run_name;
  std::mutex mu;  // guards pool
  std::vector<std::unique_ptr<RunViews>> pool;

  // A connection of the pool for one request (RunViews is one-per-thread), given back after.
  class Lease {
   public:
    Lease(Impl& impl, std::unique_ptr<RunViews> v) : impl_(impl), v_(std::move(v)) {}
    ~Lease() {
      std::lock_guard lock(impl_.mu);
      if (impl_.pool.size() < static_cast<size_t>(impl_.options.threads) + 1) {
        impl_.pool.push_back(std::move(v_));
      }
    }
    RunViews& operator*() { return *v_; }

   private:
    Impl& impl_;
    std::unique_ptr<RunViews> v_;
  };

  Result<std::unique_ptr<Lease>> lease() {
    {
      std::lock_guard lock(mu);
      if (!pool.empty()) {
        auto v = std::move(pool.back());
        pool.pop_back();
        return std::make_unique<Lease>(*this, std::move(v));
      }
    }
    KEVO_ASSIGN_OR_RETURN(auto v, RunViews::open(options.db));
    return std::make_unique<Lease>(*this, std::move(v));
  }

  void send_error(httplib::Response& res, int status, const std::string& message, bool as_json) {
    res.status = status;
    if (as_json) {
      res.set_content(json{{"error", message}}.dump(-1, ' ', false, json::error_handler_t::replace),
                      "application/json");
    } else {
      web::PageShell shell{.title = "error " + std::to_string(status), .run_name = run_name};
      shell.body = "<h1>" + std::to_string(status) + "</h1><p>" + web::esc(message) + "</p>";
      res.set_content(web::page(shell), "text/html; charset=utf-8");
    }
  }

  // Runs `build` with a pooled connection and sends its JSON, or the error.
  template <typename F>
  void api(httplib::Response& res, F&& build) {
    auto l = lease();
    if (!l.ok()) return send_error(res, http_status(l.status()), l.status().message(), true);
    Result<json> j = build(***l);
    if (!j.ok()) return send_error(res, http_status(j.status()), j.status().message(), true);
    res.set_content(j->dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
  }

  // Same for a page: `build` returns the body of `shell` (and may adjust the shell).
  template <typename F>
  void html(httplib::Response& res, web::PageShell shell, F&& build) {
    auto l = lease();
    if (!l.ok()) return send_error(res, http_status(l.status()), l.status().message(), false);
    Result<std::string> body = build(***l, shell);
    if (!body.ok())
      return send_error(res, http_status(body.status()), body.status().message(), false);
    shell.run_name = run_name;
    shell.body = std::move(*body);
    res.set_content(web::page(shell), "text/html; charset=utf-8");
  }

  Result<LlmCallQuery> call_query(const httplib::Request& req) {
    LlmCallQuery q;
    q.status = req.get_param_value("status");
    q.outcome = req.get_param_value("outcome");
    if (req.has_param("before")) {
      auto b = parse_id(req.get_param_value("before"));
      if (!b) return Status::InvalidArgument("'before' must be a call id");
      q.before = *b;
    }
    if (req.has_param("limit")) {
      auto n = parse_id(req.get_param_value("limit"));
      if (!n || *n < 1 || *n > 1000) return Status::InvalidArgument("'limit' must be 1..1000");
      q.limit = static_cast<int>(*n);
    }
    return q;
  }

  void routes();
};

void WebServer::Impl::routes() {
  const int live = options.refresh_s;
  server.Get("/", [this, live](const httplib::Request&, httplib::Response& res) {
    html(res, {.title = "overview", .nav = "overview", .live = live, .json_href = "/api/overview"},
         [](RunViews& v, web::PageShell&) -> Result<std::string> {
           KEVO_ASSIGN_OR_RETURN(json m, web::overview_model(v, now_unix()));
           return web::render_overview(m);
         });
  });
  server.Get(R"(/program/(\d+))",
             [this, live](const httplib::Request& req, httplib::Response& res) {
               auto id = parse_id(req.matches[1]);
               if (!id) return send_error(res, 404, "no such program", false);
               std::string sid = std::to_string(*id);
               html(res, {.title = "program #" + sid, .json_href = "/api/program/" + sid},
                    [&](RunViews& v, web::PageShell& shell) -> Result<std::string> {
                      KEVO_ASSIGN_OR_RETURN(json m, web::program_model(v, *id));
                      // A program being evaluated refreshes until its result is in.
                      if (m["status"] == kPending) shell.live = live;
                      return web::render_program(m);
                    });
             });
  server.Get("/llm", [this, live](const httplib::Request& req, httplib::Response& res) {
    auto q = call_query(req);
    if (!q.ok()) return send_error(res, 400, q.status().message(), false);
    std::string query = "status=" + web::url_encode(q->status) +
                        "&outcome=" + web::url_encode(q->outcome) +
                        (q->before ? "&before=" + std::to_string(*q->before) : "");
    // The first page follows the run; older pages stay put.
    html(res,
         {.title = "LLM calls",
          .nav = "llm",
          .live = q->before ? 0 : live,
          .json_href = "/api/llm?" + query},
         [&](RunViews& v, web::PageShell&) -> Result<std::string> {
           KEVO_ASSIGN_OR_RETURN(json m, web::calls_model(v, *q));
           return web::render_calls(m);
         });
  });
  server.Get(R"(/llm/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
    auto id = parse_id(req.matches[1]);
    if (!id) return send_error(res, 404, "no such call", false);
    html(res,
         {.title = "LLM call #" + std::to_string(*id),
          .nav = "llm",
          .json_href = "/api/llm/" + std::to_string(*id)},
         [&](RunViews& v, web::PageShell&) -> Result<std::string> {
           KEVO_ASSIGN_OR_RETURN(json m, web::call_model(v, *id));
           return web::render_call(m);
         });
  });

  server.Get("/api/overview", [this](const httplib::Request&, httplib::Response& res) {
    api(res, [](RunViews& v) { return web::overview_model(v, now_unix()); });
  });
  server.Get("/api/map", [this](const httplib::Request&, httplib::Response& res) {
    api(res, [](RunViews& v) { return web::map_model(v); });
  });
  server.Get("/api/points", [this](const httplib::Request& req, httplib::Response& res) {
    auto after = req.has_param("after") ? parse_id(req.get_param_value("after")) : 0;
    if (!after) return send_error(res, 400, "'after' must be a program id", true);
    api(res, [&](RunViews& v) { return web::points_model(v, *after); });
  });
  server.Get(R"(/api/program/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
    auto id = parse_id(req.matches[1]);
    if (!id) return send_error(res, 404, "no such program", true);
    api(res, [&](RunViews& v) { return web::program_model(v, *id); });
  });
  server.Get("/api/llm", [this](const httplib::Request& req, httplib::Response& res) {
    auto q = call_query(req);
    if (!q.ok()) return send_error(res, 400, q.status().message(), true);
    api(res, [&](RunViews& v) { return web::calls_model(v, *q); });
  });
  server.Get(R"(/api/llm/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
    auto id = parse_id(req.matches[1]);
    if (!id) return send_error(res, 404, "no such call", true);
    api(res, [&](RunViews& v) { return web::call_model(v, *id); });
  });
  server.Get("/api/version", [this](const httplib::Request&, httplib::Response& res) {
    api(res, [](RunViews& v) -> Result<json> {
      KEVO_ASSIGN_OR_RETURN(std::string token, web::version_token(v));
      return json{{"version", token}};
    });
  });
  for (const EmbeddedFile& f : embedded_web_assets()) {
    std::string path = "/static/" + std::string(f.path);
    std::string type =
        path.ends_with(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8";
    std::string_view body = f.contents;
    server.Get(path, [body, type](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(body), type.c_str());
    });
  }
  server.Get("/favicon.ico",
             [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
}

WebServer::WebServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WebServer::~WebServer() {
  stop();
}

Result<std::unique_ptr<WebServer>> WebServer::start(const ServeOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  // Open once up front: a missing or corrupt archive is reported before anything listens.
  KEVO_ASSIGN_OR_RETURN(auto views, RunViews::open(options.db));
  KEVO_ASSIGN_OR_RETURN(auto report, views->reader().status_report());
  impl->run_name = report.run.name;
  impl->pool.push_back(std::move(views));

  Impl* s = impl.get();
  const bool loopback_only = is_loopback_name(options.host);
  s->server.set_pre_routing_handler(
      [s, loopback_only](const httplib::Request& req, httplib::Response& res) {
        if (req.method != "GET" && req.method != "HEAD") {
          res.set_header("Allow", "GET, HEAD");
          s->send_error(res, 405, "kevo serve is read-only: " + req.method + " is not allowed",
                        req.path.starts_with("/api/"));
          return httplib::Server::HandlerResponse::Handled;
        }
        // DNS rebinding: a page on another site that resolves its name to 127.0.0.1 sends its own
        // name as Host. Loopback names only, while we listen on loopback.
        if (loopback_only && req.has_header("Host") &&
            !is_loopback_name(host_name(req.get_header_value("Host")))) {
          s->send_error(res, 403, "Host '" + req.get_header_value("Host") + "' is not served here",
                        req.path.starts_with("/api/"));
          return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
      });
  s->server.set_error_handler(httplib::Server::HandlerWithResponse(
      [s](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        s->send_error(res, res.status, res.status == 404 ? "no page at " + req.path : "error",
                      req.path.starts_with("/api/"));
        return httplib::Server::HandlerResponse::Handled;
      }));
  s->server.set_exception_handler(
      [s](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        spdlog::error("kevo serve: {} {}: {}", req.method, req.path, what);
        s->send_error(res, 500, what, req.path.starts_with("/api/"));
      });
  s->server.set_default_headers({{"Content-Security-Policy", kCsp},
                                 {"X-Content-Type-Options", "nosniff"},
                                 {"X-Frame-Options", "DENY"},
                                 {"Referrer-Policy", "no-referrer"},
                                 {"Cache-Control", "no-store"}});
  s->server.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    spdlog::debug("kevo serve: {} {} -> {}", req.method, req.target, res.status);
  });
  // SO_REUSEADDR (a restart may rebind at once) but not httplib's default SO_REUSEPORT, with
  // which a second `kevo serve` on the same port would bind too and share the requests.
  s->server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  const int threads = std::max(1, options.threads);
  s->server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s->routes();

  if (options.port == 0) {
    s->port = s->server.bind_to_any_port(options.host);
    if (s->port <= 0) {
      return Status::Unavailable("cannot listen on " + options.host + " (any port)");
    }
  } else {
    if (!s->server.bind_to_port(options.host, options.port)) {
      return Status::Unavailable("cannot listen on " + options.host + ":" +
                                 std::to_string(options.port) +
                                 " (in use? pick another with --port, or --port 0 for any)");
    }
    s->port = options.port;
  }
  return std::unique_ptr<WebServer>(new WebServer(std::move(impl)));
}

int WebServer::port() const {
  return impl_->port;
}

std::string WebServer::url() const {
  std::string host = impl_->options.host;
  if (host == "0.0.0.0" || host == "::") host = "127.0.0.1";
  if (host.find(':') != std::string::npos && !host.starts_with("[")) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(impl_->port) + "/";
}

const std::string& WebServer::run_name() const {
  return impl_->run_name;
}

bool WebServer::serve() {
  return impl_->server.listen_after_bind();
}

void WebServer::stop() {
  if (impl_) impl_->server.stop();
}

}  // namespace kevo
