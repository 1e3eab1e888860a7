#include "archive/sqlite.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <utility>

namespace kevo::sqlite {

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

namespace {

// The first words of a statement, for the debug log only: users see what failed, not SQL.
std::string statement_head(std::string_view sql) {
  std::string s(sql.substr(0, 80));
  for (char& c : s) c = c == '\n' ? ' ' : c;
  return s;
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

}  // namespace

// ---- Stmt ----

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    if (s_) sqlite3_finalize(s_);
    db_ = o.db_;
    s_ = std::exchange(o.s_, nullptr);
    bind_rc_ = o.bind_rc_;
  }
  return *this;
}

Stmt::~Stmt() {
  if (s_) sqlite3_finalize(s_);
}

namespace {
int keep_first(int current, int rc) { return current != SQLITE_OK ? current : rc; }
}  // namespace

Stmt& Stmt::bind(int i, int64_t v) {
  bind_rc_ = keep_first(bind_rc_, sqlite3_bind_int64(s_, i, v));
  return *this;
}
Stmt& Stmt::bind(int i, double v) {
  bind_rc_ = keep_first(bind_rc_, sqlite3_bind_double(s_, i, v));
  return *this;
}
Stmt& Stmt::bind(int i, std::string_view v) {
  bind_rc_ = keep_first(bind_rc_, sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_TRANSIENT,
                                                      SQLITE_UTF8));
  return *this;
}
Stmt& Stmt::bind_null(int i) {
  bind_rc_ = keep_first(bind_rc_, sqlite3_bind_null(s_, i));
  return *this;
}

Result<bool> Stmt::step() {
  if (bind_rc_ != SQLITE_OK) return error_status(db_, bind_rc_, "bind");
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const char* sql = sqlite3_sql(s_);
  spdlog::debug("archive: statement failed ({}): {}", sqlite3_errstr(rc),
                statement_head(sql ? sql : ""));
  return error_status(db_, rc, "reading or writing the database");
}

Status Stmt::run() {
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool row, step());
    if (!row) return Status::Ok();
  }
}

Status Stmt::reset() {
  // sqlite3_reset repeats the last step's error, which step() already reported.
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
  bind_rc_ = SQLITE_OK;
  return Status::Ok();
}

bool Stmt::is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
int64_t Stmt::int64(int col) const { return sqlite3_column_int64(s_, col); }
double Stmt::real(int col) const { return sqlite3_column_double(s_, col); }
std::string Stmt::text(int col) const {
  const unsigned char* p = sqlite3_column_text(s_, col);
  int n = sqlite3_column_bytes(s_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
}
std::optional<int64_t> Stmt::opt_int64(int col) const {
  if (is_null(col)) return std::nullopt;
  return int64(col);
}
std::optional<double> Stmt::opt_real(int col) const {
  if (is_null(col)) return std::nullopt;
  return real(col);
}

// ---- Db ----

Result<Db> Db::open(const std::string& path, Mode mode, int busy_timeout_ms) {
  int flags = SQLITE_OPEN_NOMUTEX;  // each connection is used by one thread at a time
  std::string name = path;
  switch (mode) {
    case Mode::kReadWriteCreate: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; break;
    case Mode::kReadWrite: flags |= SQLITE_OPEN_READWRITE; break;
    case Mode::kReadOnly: flags |= SQLITE_OPEN_READONLY; break;
    case Mode::kImmutable:
      flags |= SQLITE_OPEN_READONLY | SQLITE_OPEN_URI;
      name = file_uri(path) + "?immutable=1";
      break;
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(name.c_str(), &raw, flags, nullptr);
  Db db(raw);  // closes the handle on every return below
  if (rc != SQLITE_OK) return error_status(raw, rc, "cannot open " + path);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  KEVO_RETURN_IF_ERROR(db.exec("PRAGMA foreign_keys = ON"));
  return db;
}

Db& Db::operator=(Db&& o) noexcept {
  if (this != &o) {
    if (db_) sqlite3_close_v2(db_);
    db_ = std::exchange(o.db_, nullptr);
  }
  return *this;
}

Db::~Db() {
  if (db_) sqlite3_close_v2(db_);
}

Status Db::exec(std::string_view sql) {
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

Result<Stmt> Db::prepare(std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &s, nullptr);
  if (rc != SQLITE_OK) {
    spdlog::debug("archive: cannot prepare ({}): {}", sqlite3_errmsg(db_), statement_head(sql));
    return error_status(db_, rc, "the database does not have the shape this kevo expects");
  }
  return Stmt(db_, s);
}

Result<int64_t> Db::query_int(std::string_view sql) {
  KEVO_ASSIGN_OR_RETURN(Stmt st, prepare(sql));
  KEVO_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) {
    spdlog::debug("archive: no row for {}", statement_head(sql));
    return Status::NotFound("archive: an expected record is missing");
  }
  return st.int64(0);
}

Result<std::string> Db::query_text(std::string_view sql) {
  KEVO_ASSIGN_OR_RETURN(Stmt st, prepare(sql));
  KEVO_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) {
    spdlog::debug("archive: no row for {}", statement_head(sql));
    return Status::NotFound("archive: an expected record is missing");
  }
  return st.text(0);
}

// ---- Txn ----

Result<Txn> Txn::begin(Db& db, Kind kind) {
  KEVO_RETURN_IF_ERROR(db.exec(kind == Kind::kWrite ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED"));
  return Txn(&db);
}

Txn::~Txn() {
  // A failed step may already have rolled back; ROLLBACK then fails harmlessly.
  if (db_ && !sqlite3_get_autocommit(db_->raw())) (void)db_->exec("ROLLBACK");
}

Status Txn::commit() {
  assert(db_ && "commit on a finished transaction");
  Db* db = std::exchange(db_, nullptr);
  Status st = db->exec("COMMIT");
  if (!st.ok() && !sqlite3_get_autocommit(db->raw())) (void)db->exec("ROLLBACK");
  return st;
}

}  // namespace kevo::sqlite
