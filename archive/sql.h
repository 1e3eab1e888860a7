// The archive's SQL connection, private to the archive: one small interface with two drivers,
// SQLite (sql_sqlite.cc, the embedded default) and PostgreSQL through libpq (sql_postgres.cc), so
// Archive, ArchiveReader and RunViews are written once. Errors come back as Status values naming
// what failed in words; statements go to the debug log only, never into a message.
//
// Statements are written in the SQL both engines accept, with SQLite's numbered parameters
// (`?1`); the PostgreSQL driver turns them into `$1` and drops SQLite's `INDEXED BY` hints. New
// ids come from `RETURNING id` (both engines), never from a last-insert-rowid. Where the dialects
// differ (DDL, JSON, catalog queries) the caller asks dialect() and writes each form.
// PostgreSQL types a parameter where it first occurs: write `island = ?1 OR ?1 IS NULL`, never
// `?1 IS NULL OR island = ?1` (the server cannot tell what type a bare `?1 IS NULL` has).
//
// Not thread-safe: a Db (and every Stmt made from it) belongs to one thread at a time. The
// archive guards its writer connection with a mutex and gives each reader its own connection.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kevo::sql {

enum class Dialect { kSqlite, kPostgres };

// What a driver implements (sql_sqlite.cc, sql_postgres.cc).
class StmtDriver {
 public:
  virtual ~StmtDriver() = default;
  virtual void bind_int64(int i, int64_t v) = 0;
  virtual void bind_double(int i, double v) = 0;
  virtual void bind_text(int i, std::string_view v) = 0;
  virtual void bind_null(int i) = 0;
  virtual Result<bool> step() = 0;
  virtual void reset() = 0;
  virtual bool is_null(int col) const = 0;
  virtual int64_t int64(int col) const = 0;
  virtual double real(int col) const = 0;
  virtual std::string text(int col) const = 0;
};

class ConnectionDriver {
 public:
  virtual ~ConnectionDriver() = default;
  virtual Dialect dialect() const = 0;
  virtual Status exec(std::string_view sql) = 0;
  virtual Result<std::unique_ptr<StmtDriver>> prepare(std::string_view sql) = 0;
  virtual int changes() const = 0;          // rows changed by the last statement
  virtual bool in_transaction() const = 0;  // a transaction is open (or failed and not rolled back)
  // Waits up to timeout_ms for a NOTIFY on a channel this connection LISTENs to; true when one
  // came. SQLite has none: it sleeps and says false.
  virtual Result<bool> wait_notify(int timeout_ms) = 0;
};

class Stmt {
 public:
  Stmt() = default;
  explicit Stmt(std::unique_ptr<StmtDriver> d) : d_(std::move(d)) {}

  // Parameters are 1-based, as `?N` in the statement. Text is copied.
  Stmt& bind(int i, int64_t v) { return d_->bind_int64(i, v), *this; }
  Stmt& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Stmt& bind(int i, double v) { return d_->bind_double(i, v), *this; }
  Stmt& bind(int i, std::string_view v) { return d_->bind_text(i, v), *this; }
  Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Stmt& bind_null(int i) { return d_->bind_null(i), *this; }
  template <typename T>
  Stmt& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : bind_null(i);
  }

  // One step: true when a row is ready, false when done. A failed bind shows up here.
  Result<bool> step() { return d_->step(); }
  // Steps to completion, for statements that return no rows.
  Status run();
  // Rewinds the statement and clears its bindings, to run it again.
  Status reset() { return d_->reset(), Status::Ok(); }

  bool is_null(int col) const { return d_->is_null(col); }
  int64_t int64(int col) const { return d_->int64(col); }
  double real(int col) const { return d_->real(col); }
  std::string text(int col) const { return d_->text(col); }
  std::optional<int64_t> opt_int64(int col) const;
  std::optional<double> opt_real(int col) const;

 private:
  std::unique_ptr<StmtDriver> d_;
};

class Db {
 public:
  // SQLite. kImmutable: read-only through SQLite's `immutable=1` URI parameter: no locks, no -wal
  // or -shm file is opened or created, so it works in a read-only folder. Only correct while
  // nobody writes the file and its WAL holds nothing (the archive's reader checks both).
  enum class Mode { kReadWriteCreate, kReadWrite, kReadOnly, kImmutable };
  // Opens `path`, sets the busy timeout and foreign keys. Does not touch the journal mode.
  static Result<Db> open(const std::string& path, Mode mode, int busy_timeout_ms);
  // PostgreSQL: `url` is a libpq connection URI (postgresql://...); a password may come from it,
  // PGPASSWORD or ~/.pgpass. `lock_timeout_ms` bounds each wait on a row or table lock, as the
  // busy timeout does for SQLite. Unavailable (naming the server, never the password) when the
  // server cannot be reached.
  static Result<Db> connect(const std::string& url, int lock_timeout_ms);

  Db() = default;
  explicit Db(std::unique_ptr<ConnectionDriver> d) : d_(std::move(d)) {}

  bool valid() const { return d_ != nullptr; }
  Dialect dialect() const { return d_->dialect(); }
  bool postgres() const { return dialect() == Dialect::kPostgres; }
  // Runs one or more statements that return nothing (schema, pragmas, BEGIN/COMMIT).
  Status exec(std::string_view sql) { return d_->exec(sql); }
  Result<Stmt> prepare(std::string_view sql);
  // Runs a query returning one integer (COUNT(*), a version); NotFound if no row.
  Result<int64_t> query_int(std::string_view sql);
  Result<std::string> query_text(std::string_view sql);
  int changes() const { return d_->changes(); }
  bool in_transaction() const { return d_->in_transaction(); }
  Result<bool> wait_notify(int timeout_ms) { return d_->wait_notify(timeout_ms); }

 private:
  std::unique_ptr<ConnectionDriver> d_;
};

// A transaction that rolls back unless commit() is called. SQLite write transactions start with
// BEGIN IMMEDIATE so the write lock is taken up front (waiting on the busy timeout) instead of
// failing half-way on an upgrade from a read lock; PostgreSQL ones are READ COMMITTED (the archive
// has one writer; the queue's claims lock their rows). Read transactions give a reader one
// consistent snapshot across several queries (SQLite: BEGIN DEFERRED; PostgreSQL: REPEATABLE
// READ, READ ONLY).
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

// The first words of a statement, for the debug log only: users see what failed, not SQL.
std::string statement_head(std::string_view sql);

// Whether `location` names a PostgreSQL database (postgresql:// or postgres://) rather than a
// SQLite file.
bool is_postgres_url(std::string_view location);
// The URL with any password removed (user:secret@ -> user@, password=... dropped): the only form
// of a URL that may be printed, logged or stored.
std::string redact_url(std::string_view url);

}  // namespace kevo::sql
