// The PostgreSQL driver of the archive's SQL connection (sql.h), over libpq. Statements keep
// SQLite's spelling (`?N`) and are translated here; every value travels as text (the server
// infers each parameter's type from where it is used) and every result comes back as text,
// parsed by the column getters.
#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <vector>

#include "archive/sql.h"

namespace kevo::sql {
namespace {

constexpr Oid kTextOid = 25;

// Statement text for PostgreSQL: `?N` -> `$N`, SQLite's `INDEXED BY name` hints dropped, quoted
// strings, quoted identifiers and comments left alone. `used[N]` says whether $N occurs.
std::string translate(std::string_view sql, std::vector<bool>& used) {
  std::string out;
  out.reserve(sql.size() + 8);
  for (size_t i = 0; i < sql.size();) {
    char c = sql[i];
    if (c == '\'' || c == '"') {
      size_t end = i + 1;
      while (end < sql.size() && sql[end] != c) ++end;
      out.append(sql.substr(i, end + 1 - i));
      i = end + 1;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      size_t end = sql.find('\n', i);
      if (end == std::string_view::npos) end = sql.size();
      out.append(sql.substr(i, end - i));
      i = end;
    } else if (c == '?' && i + 1 < sql.size() &&
               std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
      size_t end = i + 1;
      while (end < sql.size() && std::isdigit(static_cast<unsigned char>(sql[end]))) ++end;
      int n = std::stoi(std::string(sql.substr(i + 1, end - i - 1)));
      if (used.size() <= static_cast<size_t>(n)) used.resize(n + 1, false);
      used[n] = true;
      out += '$';
      out.append(sql.substr(i + 1, end - i - 1));
      i = end;
    } else if (sql.substr(i).starts_with("INDEXED BY ")) {
      size_t end = i + 11;
      while (end < sql.size() &&
             (std::isalnum(static_cast<unsigned char>(sql[end])) || sql[end] == '_')) {
        ++end;
      }
      i = end;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

// The SQLSTATEs that mean "someone else holds what we need": lock timeout, deadlock,
// serialization failure. Class 08 is a lost connection.
Status error_status(PGconn* conn, const PGresult* res, std::string_view what) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string detail = primary ? primary : PQerrorMessage(conn);
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.pop_back();
  std::string s = state ? state : "";
  std::string msg = "archive: " + std::string(what) + ": " + detail;
  if (PQstatus(conn) == CONNECTION_BAD || s.starts_with("08")) {
    return Status::Unavailable("archive: lost the connection to PostgreSQL: " + detail);
  }
  if (s == "55P03" || s == "40P01" || s == "40001") {
    return Status::Unavailable(msg + " (another process holds the database)");
  }
  if (s == "42P01" || s == "42703" || s == "42883") {
    return Status::IoError("archive: the database does not have the shape this kevo expects: " +
                           detail);
  }
  if (s == "25006") return Status::IoError(msg + " (the connection is read-only)");
  return Status::IoError(msg);
}

class PgConnection;

class PgStmt : public StmtDriver {
 public:
  PgStmt(PgConnection* conn, std::string sql, std::vector<bool> used)
      : conn_(conn), sql_(std::move(sql)), used_(std::move(used)) {}
  ~PgStmt() override { clear(); }

  void bind_int64(int i, int64_t v) override { set(i, std::to_string(v)); }
  void bind_double(int i, double v) override {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back exactly
    set(i, std::string(buf, r.ptr));
  }
  void bind_text(int i, std::string_view v) override { set(i, std::string(v)); }
  void bind_null(int i) override {
    grow(i);
    params_[i] = std::nullopt;
  }

  Result<bool> step() override;
  void reset() override {
    clear();
    params_.clear();
  }

  bool is_null(int col) const override { return PQgetisnull(res_, row_, col); }
  int64_t int64(int col) const override {
    const char* p = PQgetvalue(res_, row_, col);
    int64_t v = 0;
    auto r = std::from_chars(p, p + std::strlen(p), v);
    if (r.ec != std::errc() || *r.ptr == '.') return static_cast<int64_t>(real(col));
    return v;
  }
  double real(int col) const override {
    const char* p = PQgetvalue(res_, row_, col);
    double v = 0;
    std::from_chars(p, p + std::strlen(p), v);
    return v;
  }
  std::string text(int col) const override {
    return std::string(PQgetvalue(res_, row_, col), PQgetlength(res_, row_, col));
  }

 private:
  void grow(int i) {
    if (params_.size() <= static_cast<size_t>(i)) params_.resize(i + 1);
  }
  void set(int i, std::string v) {
    grow(i);
    params_[i] = std::move(v);
  }
  void clear() {
    if (res_) PQclear(res_);
    res_ = nullptr;
    row_ = -1;
  }

  PgConnection* conn_;
  std::string sql_;
  std::vector<bool> used_;                          // used_[N]: $N occurs in the statement
  std::vector<std::optional<std::string>> params_;  // 1-based; [0] unused
  PGresult* res_ = nullptr;
  int row_ = -1;
};

void log_notice(void*, const char* message) {
  std::string m = message;
  while (!m.empty() && m.back() == '\n') m.pop_back();
  spdlog::debug("postgresql: {}", m);
}

class PgConnection : public ConnectionDriver {
 public:
  explicit PgConnection(PGconn* conn) : conn_(conn) {
    PQsetNoticeProcessor(conn_, log_notice, nullptr);
  }
  ~PgConnection() override { PQfinish(conn_); }

  Dialect dialect() const override { return Dialect::kPostgres; }

  Status exec(std::string_view sql) override {
    KEVO_RETURN_IF_ERROR(ensure_connected());
    std::vector<bool> used;
    std::string s = translate(sql, used);
    PGresult* res = PQexec(conn_, s.c_str());
    Status st = check(res, s);
    PQclear(res);
    return st;
  }

  Result<std::unique_ptr<StmtDriver>> prepare(std::string_view sql) override {
    std::vector<bool> used;
    std::string s = translate(sql, used);
    return std::unique_ptr<StmtDriver>(new PgStmt(this, std::move(s), std::move(used)));
  }

  int changes() const override { return changes_; }
  bool in_transaction() const override {
    PGTransactionStatusType t = PQtransactionStatus(conn_);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
  }

  // Runs a statement with text parameters; the caller owns the result (null on failure).
  Result<PGresult*> run(const std::string& sql, const std::vector<bool>& used,
                        const std::vector<std::optional<std::string>>& params) {
    KEVO_RETURN_IF_ERROR(ensure_connected());
    size_t n = std::max(used.empty() ? 0 : used.size() - 1, params.empty() ? 0 : params.size() - 1);
    std::vector<const char*> values(n, nullptr);
    std::vector<Oid> types(n, 0);
    for (size_t i = 1; i <= n; ++i) {
      if (i < params.size() && params[i]) values[i - 1] = params[i]->c_str();
      // A parameter bound but not in the statement has no context to infer a type from.
      if (i >= used.size() || !used[i]) types[i - 1] = kTextOid;
    }
    PGresult* res = PQexecParams(conn_, sql.c_str(), static_cast<int>(n), types.data(),
                                 values.data(), nullptr, nullptr, 0);
    Status st = check(res, sql);
    if (!st.ok()) {
      PQclear(res);
      return st;
    }
    const char* tuples = PQcmdTuples(res);
    changes_ = tuples && *tuples ? std::atoi(tuples) : 0;
    return res;
  }

  Result<bool> wait_notify(int timeout_ms) override {
    KEVO_RETURN_IF_ERROR(ensure_connected());
    if (drain()) return true;
    pollfd p{PQsocket(conn_), POLLIN, 0};
    if (p.fd < 0) return error_status(conn_, nullptr, "waiting for a notification");
    int n = ::poll(&p, 1, timeout_ms);
    if (n < 0 && errno != EINTR) return Status::IoError("archive: waiting for a notification");
    if (n > 0 && !PQconsumeInput(conn_)) {
      return error_status(conn_, nullptr, "waiting for a notification");
    }
    return drain();
  }

  PGconn* raw() const { return conn_; }

 private:
  // A connection lost between transactions (a server restart) is opened again once; inside a
  // transaction the caller must see the failure.
  Status ensure_connected() {
    if (PQstatus(conn_) == CONNECTION_OK) return Status::Ok();
    PQreset(conn_);
    if (PQstatus(conn_) == CONNECTION_OK) {
      spdlog::warn("archive: reconnected to PostgreSQL");
      return Status::Ok();
    }
    return error_status(conn_, nullptr, "lost the connection to PostgreSQL");
  }

  Status check(PGresult* res, std::string_view sql) {
    ExecStatusType t = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK || t == PGRES_EMPTY_QUERY) {
      return Status::Ok();
    }
    spdlog::debug("archive: statement failed ({}): {}",
                  res ? PQresultErrorMessage(res) : PQerrorMessage(conn_), statement_head(sql));
    return error_status(conn_, res, "reading or writing the database");
  }

  // Takes every notification already received; whether there was one.
  bool drain() {
    PQconsumeInput(conn_);
    bool any = false;
    while (PGnotify* n = PQnotifies(conn_)) {
      any = true;
      PQfreemem(n);
    }
    return any;
  }

  PGconn* conn_;
  int changes_ = 0;
};

Result<bool> PgStmt::step() {
  if (!res_) {
    KEVO_ASSIGN_OR_RETURN(res_, conn_->run(sql_, used_, params_));
    row_ = -1;
  }
  ++row_;
  return row_ < PQntuples(res_);
}

}  // namespace

Result<Db> Db::connect(const std::string& url, int lock_timeout_ms) {
  // connect_timeout first so that the URL's own value wins; the URL is expanded in place.
  const char* keys[] = {"connect_timeout", "dbname", "fallback_application_name", nullptr};
  const char* values[] = {"10", url.c_str(), "kevo", nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (!conn) return Status::Unavailable("archive: out of memory connecting to PostgreSQL");
  auto driver = std::make_unique<PgConnection>(conn);
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = PQerrorMessage(conn);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return Status::Unavailable("archive: cannot connect to PostgreSQL at " + redact_url(url) +
                               ": " + why);
  }
  Db db(std::move(driver));
  KEVO_RETURN_IF_ERROR(db.exec("SET client_min_messages = warning; SET lock_timeout = " +
                               std::to_string(lock_timeout_ms)));
  return db;
}

}  // namespace kevo::sql
