#include "tests/pg_support.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "archive/sql.h"

namespace kevo::testing {

namespace {

std::string server_url() {
  const char* env = std::getenv("KEVO_TEST_PG");
  return env ? env : "";
}

}  // namespace

std::string postgres_unavailable_reason() {
  static const std::string reason = [] {
    std::string url = server_url();
    if (url.empty()) {
      return std::string("KEVO_TEST_PG is not set (scripts/pg_test_server.sh starts a server)");
    }
    auto db = sql::Db::connect(url, 5000);
    return db.ok() ? std::string() : db.status().message();
  }();
  return reason;
}

std::string postgres_url_for(const std::string& database) {
  std::string url = server_url();
  size_t scheme = url.find("://");
  size_t path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  size_t query = url.find('?');
  if (path == std::string::npos || (query != std::string::npos && path > query)) {
    path = query == std::string::npos ? url.size() : query;
    return url.substr(0, path) + "/" + database + url.substr(path);
  }
  size_t end = query == std::string::npos ? url.size() : query;
  return url.substr(0, path + 1) + database + url.substr(end);
}

ScratchDatabase::ScratchDatabase() {
  static std::atomic<int> counter{0};
  name_ = "kevo_t_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
  auto admin = sql::Db::connect(server_url(), 10000);
  EXPECT_TRUE(admin.ok()) << admin.status().to_string();
  if (admin.ok()) {
    Status st = admin->exec("CREATE DATABASE " + name_);
    EXPECT_TRUE(st.ok()) << st.to_string();
  }
  url_ = postgres_url_for(name_);
}

ScratchDatabase::~ScratchDatabase() {
  auto admin = sql::Db::connect(server_url(), 10000);
  if (admin.ok()) (void)admin->exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
}

std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "SQLite" : "PostgreSQL";
}

void ArchiveBackendTest::SetUp() {
  if (postgres()) KEVO_REQUIRE_POSTGRES();
}

std::string ArchiveBackendTest::location(const std::string& name) {
  if (!postgres()) return dir.file(name + "/kevo.db");
  auto& db = databases_[name];
  if (!db) db = std::make_unique<ScratchDatabase>();
  return db->url();
}

}  // namespace kevo::testing
