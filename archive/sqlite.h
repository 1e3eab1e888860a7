// Small RAII wrappers over the SQLite C API, private to the archive. Errors come back as Status
// values naming the SQLite error and the statement's purpose; nothing here throws.
//
// Not thread-safe: a Db (and every Stmt made from it) belongs to one thread at a time. The archive
// guards its writer connection with a mutex and gives each reader its own connection.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kevo::sqlite {

// Turns an SQLite result code into a Status ("archive: <what>: <sqlite message>"). Busy and locked
// become kUnavailable (someone else holds the file), a read-only file or folder says so, everything
// else is kIoError. `what` is words for a person, never SQL: statements go to the debug log.
Status error_status(sqlite3* db, int rc, std::string_view what);

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  Stmt(Stmt&& o) noexcept : db_(o.db_), s_(o.s_) { o.s_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  // Parameters are 1-based, as in SQLite. Text is copied (SQLITE_TRANSIENT).
  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Stmt& bind(int i, double v);
  Stmt& bind(int i, std::string_view v);
  Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Stmt& bind_null(int i);
  template <typename T>
  Stmt& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : bind_null(i);
  }

  // One step: true when a row is ready, false when done. A failed bind shows up here.
  Result<bool> step();
  // Steps to completion, for statements that return no rows.
  Status run();
  // Rewinds the statement and clears its bindings, to run it again.
  Status reset();

  bool is_null(int col) const;
  int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;
  std::optional<int64_t> opt_int64(int col) const;
  std::optional<double> opt_real(int col) const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* s_ = nullptr;
  int bind_rc_ = SQLITE_OK;  // first failed bind, reported by step()
};

class Db {
 public:
  // kImmutable: read-only through SQLite's `immutable=1` URI parameter: no locks, no -wal or -shm
  // file is opened or created, so it works in a read-only folder. Only correct while nobody
  // writes the file and its WAL holds nothing (the archive's reader checks both).
  enum class Mode { kReadWriteCreate, kReadWrite, kReadOnly, kImmutable };

  // Opens `path`, sets the busy timeout and foreign keys. Does not touch the journal mode.
  static Result<Db> open(const std::string& path, Mode mode, int busy_timeout_ms);

  Db() = default;
  Db(Db&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Db& operator=(Db&& o) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  // Runs one or more statements that return nothing (schema, pragmas, BEGIN/COMMIT).
  Status exec(std::string_view sql);
  Result<Stmt> prepare(std::string_view sql);
  // Runs a query returning one integer (COUNT(*), PRAGMA user_version); NotFound if no row.
  Result<int64_t> query_int(std::string_view sql);
  Result<std::string> query_text(std::string_view sql);

  int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }
  sqlite3* raw() const { return db_; }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

// A transaction that rolls back unless commit() is called. Write transactions start with
// BEGIN IMMEDIATE so the write lock is taken up front (waiting on the busy timeout) instead of
// failing half-way on an upgrade from a read lock. Read transactions (BEGIN DEFERRED) give a
// reader one consistent snapshot across several queries.
class Txn {
 public:
  enum class Kind { kRead, kWrite };
  static Result<Txn> begin(Db& db, Kind kind);
  Txn(Txn&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  Txn& operator=(Txn&&) = delete;
  ~Txn();
  Status commit();

 private:
  explicit Txn(Db* db) : db_(db) {}
  Db* db_ = nullptr;  // null once committed or rolled back
};

}  // namespace kevo::sqlite
