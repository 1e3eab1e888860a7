// kevo serve over real HTTP on loopback, against a run archive the test writes: every page and
// JSON endpoint answers, archive text is escaped, nothing writes, foreign Host headers are
// refused, a live run's news reaches the views, and the command's own errors are one line.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "orchestrator/web/web.h"
#include "tests/test_support.h"
#include "tests/web_fixtures.h"

namespace kevo {
namespace {

using nlohmann::json;
using testing::TempDir;

// A server on a free loopback port, serving on its own thread until the object dies.
class Running {
 public:
  explicit Running(const std::string& db) {
    ServeOptions o;
    o.db = db;
    o.port = 0;
    auto s = WebServer::start(o);
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    server_ = std::move(s).value();
    thread_ = std::thread([this] { server_->serve(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(20, 0);
  }
  ~Running() {
    server_->stop();
    thread_.join();
  }
  httplib::Result get(const std::string& path, const httplib::Headers& h = {}) {
    return client_->Get(path, h);
  }
  httplib::Client& client() { return *client_; }
  WebServer& server() { return *server_; }

 private:
  std::unique_ptr<WebServer> server_;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
};

json get_json(Running& r, const std::string& path) {
  auto res = r.get(path);
  EXPECT_TRUE(res) << path;
  if (!res) return nullptr;
  EXPECT_EQ(res->status, 200) << path << ": " << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json") << path;
  json j = json::parse(res->body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << path;
  return j;
}

std::string get_html(Running& r, const std::string& path) {
  auto res = r.get(path);
  EXPECT_TRUE(res) << path;
  if (!res) return "";
  EXPECT_EQ(res->status, 200) << path << ": " << res->body.substr(0, 400);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8") << path;
  EXPECT_NE(res->body.find("</html>"), std::string::npos) << path;
  return res->body;
}

class Serve : public ::testing::Test {
 protected:
  void SetUp() override { run_ = testing::make_demo_run(dir_.file("kevo.db")); }
  TempDir dir_;
  testing::DemoRun run_;
};

TEST_F(Serve, EveryPageAndJsonEndpointAnswers) {
  Running r(run_.db);
  const std::string hostile = std::to_string(run_.hostile);
  const std::string call = std::to_string(run_.hostile_call);
  const std::vector<std::string> pages = {"/",
                                          "/program/1",
                                          "/program/" + hostile,
                                          "/llm",
                                          "/llm?status=unavailable",
                                          "/llm?outcome=rejected",
                                          "/llm?before=20",
                                          "/llm/" + call};
  for (const std::string& page : pages) {
    get_html(r, page);
  }
  json o = get_json(r, "/api/overview");
  EXPECT_EQ(o["evaluations"], run_.evaluated);
  EXPECT_EQ(o["pending"], run_.pending);
  EXPECT_EQ(o["run"]["status"], "stopped");
  EXPECT_EQ(o["stop"]["reason"], "max_evaluations");
  EXPECT_EQ(o["best"]["program"], run_.best);
  ASSERT_EQ(o["methods"].size(), 3u);
  EXPECT_EQ(o["methods"][0]["name"], "hash_topk");
  EXPECT_EQ(o["budget"]["max_evaluations"], 200);  // the stored config's default
  EXPECT_GT(o["rate"]["overall_per_min"].get<double>(), 0);
  json pts = get_json(r, "/api/points");
  EXPECT_EQ(static_cast<int64_t>(pts["points"].size()), run_.evaluated);
  json later = get_json(r, "/api/points?after=" + pts["next_after"].dump());
  EXPECT_TRUE(later["points"].empty());
  json map = get_json(r, "/api/map");
  EXPECT_EQ(map["islands"].size(), 2u);
  EXPECT_FALSE(map["islands"][0]["cells"].empty());
  json p = get_json(r, "/api/program/" + hostile);
  EXPECT_EQ(p["source"], testing::kHostileSource);  // JSON keeps the text as it is
  EXPECT_EQ(p["llm_call"]["response"], testing::kHostileReply);
  EXPECT_EQ(p["llm_call"]["outcome"], "child");
  EXPECT_EQ(p["lineage"].back()["id"], run_.hostile);
  EXPECT_TRUE(p["diff"].is_object());
  json calls = get_json(r, "/api/llm?outcome=request_failed");
  ASSERT_FALSE(calls["rows"].empty());
  for (const auto& row : calls["rows"]) EXPECT_EQ(row["status"], "unavailable");
  json c = get_json(r, "/api/llm/" + call);
  EXPECT_EQ(c["child"], run_.hostile);
  EXPECT_EQ(c["messages"][0]["role"], "system");
  EXPECT_FALSE(get_json(r, "/api/version")["version"].get<std::string>().empty());
  auto js = r.get("/static/kevo.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_NE(js->body.find("fitness"), std::string::npos);
  auto css = r.get("/static/kevo.css");
  ASSERT_TRUE(css);
  EXPECT_EQ(css->get_header_value("Content-Type"), "text/css; charset=utf-8");
}

TEST_F(Serve, ArchiveTextShowsAsText) {
  Running r(run_.db);
  const std::vector<std::string> pages = {"/program/" + std::to_string(run_.hostile),
                                          "/llm/" + std::to_string(run_.hostile_call), "/llm"};
  for (const std::string& page : pages) {
    std::string html = get_html(r, page);
    EXPECT_EQ(html.find("<script>alert"), std::string::npos) << page;
    EXPECT_EQ(html.find("</textarea>"), std::string::npos) << page;
    EXPECT_EQ(html.find("<img src=x"), std::string::npos) << page;
    EXPECT_EQ(html.find("<html>overloaded"), std::string::npos) << page;
    // The page's only scripts are the server's own file.
    size_t scripts = 0;
    for (size_t at = html.find("<script"); at != std::string::npos;
         at = html.find("<script", at + 1)) {
      ++scripts;
    }
    EXPECT_EQ(scripts, 1u) << page;
  }
  std::string prog = get_html(r, "/program/" + std::to_string(run_.hostile));
  EXPECT_NE(prog.find("&lt;/textarea&gt;&lt;script&gt;alert(&#39;source&#39;)&lt;/script&gt;"),
            std::string::npos);
  EXPECT_NE(prog.find("&lt;/textarea&gt;&lt;script&gt;alert(&#39;reply&#39;)&lt;/script&gt;"),
            std::string::npos);
  EXPECT_NE(prog.find("&lt;b&gt;bold&lt;/b&gt; &amp; co"), std::string::npos);
  std::string call = get_html(r, "/llm/" + std::to_string(run_.hostile_call));
  EXPECT_NE(call.find("m&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
}

TEST_F(Serve, NothingWritesAndTheHeadersFenceThePage) {
  Running r(run_.db);
  const std::string before = testing::read_file(run_.db);
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH"}) {
    httplib::Request req;
    req.method = method;
    req.path = "/api/program/1";
    req.body = "{}";
    auto res = r.client().send(req);
    ASSERT_TRUE(res) << method;
    EXPECT_EQ(res->status, 405) << method;
    EXPECT_EQ(res->get_header_value("Allow"), "GET, HEAD");
  }
  EXPECT_EQ(testing::read_file(run_.db), before);
  auto res = r.get("/");
  ASSERT_TRUE(res);
  EXPECT_NE(res->get_header_value("Content-Security-Policy").find("script-src 'self'"),
            std::string::npos);
  EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
  // DNS rebinding: a foreign name in Host is refused; loopback names are served.
  auto foreign = r.get("/api/overview", {{"Host", "evil.example:8080"}});
  ASSERT_TRUE(foreign);
  EXPECT_EQ(foreign->status, 403);
  auto local = r.get("/api/version", {{"Host", "localhost:" + std::to_string(r.server().port())}});
  ASSERT_TRUE(local);
  EXPECT_EQ(local->status, 200);
  EXPECT_EQ(r.server().url().rfind("http://127.0.0.1:", 0), 0u);
}

TEST_F(Serve, MissingThingsAreNotFound) {
  Running r(run_.db);
  auto page = r.get("/program/999999");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 404);
  EXPECT_NE(page->body.find("no program #999999"), std::string::npos);
  auto api = r.get("/api/llm/999999");
  ASSERT_TRUE(api);
  EXPECT_EQ(api->status, 404);
  EXPECT_EQ(json::parse(api->body)["error"], "no LLM call #999999 in the archive");
  auto none = r.get("/no/such/page");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 404);
  auto bad = r.get("/api/points?after=x");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

TEST(ServeLive, ARunningRunsNewsReachesTheViews) {
  TempDir dir;
  std::unique_ptr<Archive> writer;
  auto run = testing::make_demo_run(dir.file("kevo.db"), 60, &writer);
  Running r(run.db);
  json o = get_json(r, "/api/overview");
  EXPECT_EQ(o["run"]["status"], "running");
  EXPECT_TRUE(o["stop"].is_null());
  std::string v0 = get_json(r, "/api/version")["version"];
  ProgramId last = get_json(r, "/api/points")["next_after"];
  auto b = writer->begin_evaluation({testing::kernel_source(9999), {}, 1, 0, "tuner", {}});
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(writer->record_result(b->id, testing::eval_json("ok", 9.5, 0.004, 4)).ok());
  EXPECT_NE(get_json(r, "/api/version")["version"], v0);
  json fresh = get_json(r, "/api/points?after=" + std::to_string(last));
  ASSERT_EQ(fresh["points"].size(), 1u);
  EXPECT_EQ(fresh["points"][0][0], b->id);
  EXPECT_EQ(get_json(r, "/api/overview")["best"]["program"], b->id);
}

// `kevo serve` as a user runs it: the URL on stdout, pages answer, Ctrl-C ends it with 0.
TEST_F(Serve, TheCommandServesUntilInterrupted) {
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    std::string bin = testing::kevo_binary();
    execl(bin.c_str(), bin.c_str(), "serve", "--db", run_.db.c_str(), "--port", "0", nullptr);
    _exit(127);
  }
  close(out[1]);
  std::string line;
  char c;
  while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
  close(out[0]);
  size_t at = line.find("http://127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << line;
  int port = std::stoi(line.substr(at + 17));
  httplib::Client client("127.0.0.1", port);
  auto res = client.Get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("test-run"), std::string::npos);
  kill(pid, SIGINT);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(ServeErrors, MissingCorruptOrBusyIsOneLine) {
  TempDir dir;
  auto missing = testing::run_kevo("serve --db " + dir.file("nope.db") + " --port 0");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "kevo: error: archive: no run database at " + dir.file("nope.db") + "\n");
  testing::write_file(dir.file("junk.db"), std::string(4096, 'j'));
  auto junk = testing::run_kevo("serve --db " + dir.file("junk.db") + " --port 0");
  EXPECT_EQ(junk.exit_code, 1);
  EXPECT_NE(junk.err.find(dir.file("junk.db") + " is not a kevo database"), std::string::npos)
      << junk.err;
  EXPECT_EQ(std::count(junk.err.begin(), junk.err.end(), '\n'), 1);
  // A taken port.
  auto run = testing::make_demo_run(dir.file("kevo.db"), 10);
  Running r(run.db);
  TempDir out;
  const std::string cmd = "timeout 30 " + testing::kevo_binary() + " serve --db " + run.db +
                          " --port " + std::to_string(r.server().port()) + " 2>" + out.file("err");
  int rc = std::system(cmd.c_str());
  testing::CommandResult busy;
  busy.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  busy.err = testing::read_file(out.file("err"));
  EXPECT_EQ(busy.exit_code, 1);  // not 124: it did not sit on the port beside the other server
  EXPECT_NE(busy.err.find("cannot listen on 127.0.0.1:"), std::string::npos) << busy.err;
  auto usage = testing::run_kevo("serve --port 70000");
  EXPECT_EQ(usage.exit_code, 2);
}

}  // namespace
}  // namespace kevo
