// The SQLite driver of the archive's SQL connection (sql.h): RAII over the C API.
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <utility>

#include "archive/sql.h"

namespace kevo::sql {
namespace {

// "archive: <what>: <sqlite message>". Busy and locked become kUnavailable (someone else holds
// the file), a read-only file or folder says so, everything else is kIoError.
Status error_status(sqlite3* db, int rc, std::string_view what) {
  std::string msg = "archive: " + std::string(what) + ": ";
  msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return Status::Unavailable(msg + " (another process holds the database)");
  }
  if (primary == SQLITE_READONLY) {
    return Status::IoError(msg + " (the file or its folder is read-only)");
  }
  return Status::IoError(msg);
}

// "file:" URI of a path, with the characters URIs reserve escaped (SQLite's rules: %HH).
std::string file_uri(const std::string& path) {
  std::string out = "file:";
  for (unsigned char c : path) {
    if (c == '%' || c == '?' || c == '#' || c < 0x20 || c == 0x7f) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

int keep_first(int current, int rc) {
  return current != SQLITE_OK ? current : rc;
}

class SqliteStmt : public StmtDriver {
 public:
  SqliteStmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  ~SqliteStmt() override { sqlite3_finalize(s_); }

  void bind_int64(int i, int64_t v) override {
    bind_rc_ = keep_first(bind_rc_, sqlite3_bind_int64(s_, i, v));
  }
  void bind_double(int i, double v) override {
    bind_rc_ = keep_first(bind_rc_, sqlite3_bind_double(s_, i, v));
  }
  void bind_text(int i, std::string_view v) override {
    bind_rc_ = keep_first(
        bind_rc_, sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  void bind_null(int i) override { bind_rc_ = keep_first(bind_rc_, sqlite3_bind_null(s_, i)); }

  Result<bool> step() override {
    if (bind_rc_ != SQLITE_OK) return error_status(db_, bind_rc_, "bind");
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    const char* sql = sqlite3_sql(s_);
    spdlog::debug("archive: statement failed ({}): {}", sqlite3_errstr(rc),
                  statement_head(sql ? sql : ""));
    return error_status(db_, rc, "reading or writing the database");
  }
  void reset() override {
    // sqlite3_reset repeats the last step's error, which step() already reported.
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
    bind_rc_ = SQLITE_OK;
  }

  bool is_null(int col) const override { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  int64_t int64(int col) const override { return sqlite3_column_int64(s_, col); }
  double real(int col) const override { return sqlite3_column_double(s_, col); }
  std::string text(int col) const override {
    const unsigned char* p = sqlite3_column_text(s_, col);
    int n = sqlite3_column_bytes(s_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_;
  int bind_rc_ = SQLITE_OK;  // first failed bind, reported by step()
};

class SqliteConnection : public ConnectionDriver {
 public:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  ~SqliteConnection() override { sqlite3_close_v2(db_); }

  Dialect dialect() const override { return Dialect::kSqlite; }

  Status exec(std::string_view sql) override {
    std::string s(sql);
    char* err = nullptr;
    int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      spdlog::debug("archive: statement failed ({}): {}", err ? err : "", statement_head(s));
      Status st = error_status(db_, rc, "reading or writing the database");
      sqlite3_free(err);
      return st;
    }
    return Status::Ok();
  }

  Result<std::unique_ptr<StmtDriver>> prepare(std::string_view sql) override {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &s, nullptr);
    if (rc != SQLITE_OK) {
      spdlog::debug("archive: cannot prepare ({}): {}", sqlite3_errmsg(db_), statement_head(sql));
      return error_status(db_, rc, "the database does not have the shape this kevo expects");
    }
    return std::unique_ptr<StmtDriver>(new SqliteStmt(db_, s));
  }

  int changes() const override { return sqlite3_changes(db_); }
  bool in_transaction() const override { return !sqlite3_get_autocommit(db_); }
  Result<bool> wait_notify(int timeout_ms) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
    return false;
  }

 private:
  sqlite3* db_;
};

}  // namespace

Result<Db> Db::open(const std::string& path, Mode mode, int busy_timeout_ms) {
  int flags = SQLITE_OPEN_NOMUTEX;  // each connection is used by one thread at a time
  std::string name = path;
  switch (mode) {
    case Mode::kReadWriteCreate:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
    case Mode::kReadWrite:
      flags |= SQLITE_OPEN_READWRITE;
      break;
    case Mode::kReadOnly:
      flags |= SQLITE_OPEN_READONLY;
      break;
    case Mode::kImmutable:
      flags |= SQLITE_OPEN_READONLY | SQLITE_OPEN_URI;
      name = file_uri(path) + "?immutable=1";
      break;
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(name.c_str(), &raw, flags, nullptr);
  Db db(std::make_unique<SqliteConnection>(raw));  // closes the handle on every return below
  if (rc != SQLITE_OK) return error_status(raw, rc, "cannot open " + path);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  KEVO_RETURN_IF_ERROR(db.exec("PRAGMA foreign_keys = ON"));
  return db;
}

}  // namespace kevo::sql
