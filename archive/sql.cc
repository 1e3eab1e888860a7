// The driver-independent half of the SQL connection: statements, transactions, URL helpers.
#include "archive/sql.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <utility>

#include "archive/archive.h"

namespace kevo::sql {

std::string statement_head(std::string_view sql) {
  std::string s(sql.substr(0, 80));
  for (char& c : s) c = c == '\n' ? ' ' : c;
  return s;
}

Status Stmt::run() {
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool row, step());
    if (!row) return Status::Ok();
  }
}

std::optional<int64_t> Stmt::opt_int64(int col) const {
  if (is_null(col)) return std::nullopt;
  return int64(col);
}

std::optional<double> Stmt::opt_real(int col) const {
  if (is_null(col)) return std::nullopt;
  return real(col);
}

Result<Stmt> Db::prepare(std::string_view sql) {
  KEVO_ASSIGN_OR_RETURN(auto s, d_->prepare(sql));
  return Stmt(std::move(s));
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

Result<Txn> Txn::begin(Db& db, Kind kind) {
  const char* sql;
  if (db.postgres()) {
    sql = kind == Kind::kWrite ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
  } else {
    sql = kind == Kind::kWrite ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED";
  }
  KEVO_RETURN_IF_ERROR(db.exec(sql));
  return Txn(&db);
}

Txn::~Txn() {
  // A failed step may already have rolled back; ROLLBACK then fails harmlessly.
  if (db_ && db_->in_transaction()) (void)db_->exec("ROLLBACK");
}

Status Txn::commit() {
  assert(db_ && "commit on a finished transaction");
  Db* db = std::exchange(db_, nullptr);
  Status st = db->exec("COMMIT");
  if (!st.ok() && db->in_transaction()) (void)db->exec("ROLLBACK");
  return st;
}

bool is_postgres_url(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

std::string redact_url(std::string_view url) {
  std::string out(url);
  // userinfo: scheme://user:password@host -> scheme://user@host
  size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    size_t start = scheme + 3;
    size_t end = out.find_first_of("/?", start);
    size_t at = out.rfind('@', end == std::string::npos ? out.size() : end);
    if (at != std::string::npos && at >= start) {
      size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.erase(colon, at - colon);
    }
  }
  // password=... among the query parameters
  size_t q = out.find('?');
  if (q != std::string::npos) {
    std::string query = out.substr(q + 1), kept;
    size_t pos = 0;
    while (pos <= query.size()) {
      size_t amp = query.find('&', pos);
      std::string part =
          query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
      std::string key = part.substr(0, part.find('='));
      for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (!part.empty() && key != "password") kept += (kept.empty() ? "" : "&") + part;
      if (amp == std::string::npos) break;
      pos = amp + 1;
    }
    out = out.substr(0, q) + (kept.empty() ? "" : "?" + kept);
  }
  return out;
}

}  // namespace kevo::sql

namespace kevo {

bool is_postgres_location(std::string_view location) { return sql::is_postgres_url(location); }
std::string printable_location(std::string_view location) {
  return sql::is_postgres_url(location) ? sql::redact_url(location) : std::string(location);
}

}  // namespace kevo
