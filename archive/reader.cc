// ArchiveReader: a read-only connection; each method reads one snapshot (a read transaction).
// A reader never writes: not the database, not its -wal or -shm files, not a schema upgrade.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "archive/internal.h"
#include "archive/schema.h"

namespace kevo {

using namespace archive_internal;
using sql::Txn;

Result<bool> archive_internal::postgres_writer_active(sql::Db& db) {
  KEVO_ASSIGN_OR_RETURN(int64_t held,
                        db.query_int("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                     "AND classid = 1801812591 AND objid = 1 AND granted "
                                     "AND database = (SELECT oid FROM pg_database WHERE "
                                     "datname = current_database())"));
  return held > 0;
}

ArchiveReader::ArchiveReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ArchiveReader::~ArchiveReader() = default;

namespace {

// Whether a writer holds the run (Archive takes flock LOCK_EX on "<db>-lock" for its lifetime).
// A shared lock taken and dropped at once tells; a writer starting in that instant retries.
bool writer_active(const std::string& db_path) {
  int fd = ::open((db_path + "-lock").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;  // no lock file: no writer has ever opened the run here
  bool held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  close(fd);  // drops our shared lock, if we got it
  return held;
}

// Committed transactions not yet copied into the database file (a writer that is running, or
// one that was killed) live in "<db>-wal"; an immutable open would not see them.
bool wal_has_content(const std::string& db_path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(db_path + "-wal", ec);
  return !ec && size > 0;
}

// A PostgreSQL archive: a connection whose transactions are read-only (a reader never writes,
// not even a schema upgrade), and whether the writer's advisory lock is held.
Result<std::unique_ptr<ArchiveReader::Impl>> open_postgres(const std::string& url,
                                                     const ArchiveOptions& options) {
  auto impl = std::make_unique<ArchiveReader::Impl>();
  KEVO_ASSIGN_OR_RETURN(impl->db, sql::Db::connect(url, options.busy_timeout_ms));
  KEVO_RETURN_IF_ERROR(impl->db.exec("SET default_transaction_read_only = on"));
  KEVO_ASSIGN_OR_RETURN(int version, archive_schema::version(impl->db));
  if (version == 0) {
    return Status::NotFound("archive: no kevo run in the database at " + sql::redact_url(url));
  }
  if (version > archive_schema::latest_version()) {
    return Status::InvalidArgument("archive: the database at " + sql::redact_url(url) +
                                   " was written by a newer kevo (schema " +
                                   std::to_string(version) + "); use a newer kevo");
  }
  impl->schema_version = version;
  KEVO_ASSIGN_OR_RETURN(impl->writer_active, postgres_writer_active(impl->db));
  auto config = read_archive_config(impl->db);
  if (!config.ok() && config.status().code() == StatusCode::kNotFound) {
    return Status::NotFound("archive: no kevo run in the database at " + sql::redact_url(url));
  }
  KEVO_ASSIGN_OR_RETURN(impl->config, std::move(config));
  return impl;
}

}  // namespace

Result<std::unique_ptr<ArchiveReader>> ArchiveReader::open(const std::string& path,
                                                           const ArchiveOptions& options) {
  if (sql::is_postgres_url(path)) {
    KEVO_ASSIGN_OR_RETURN(auto impl, open_postgres(path, options));
    return std::unique_ptr<ArchiveReader>(new ArchiveReader(std::move(impl)));
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidArgument("archive: " + path + " is a folder; give its kevo.db");
  }
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::NotFound("archive: no run database at " + path);
  }
  if (::access(path.c_str(), R_OK) != 0) {
    return Status::IoError("archive: cannot read " + path + ": " + std::strerror(errno));
  }
  auto impl = std::make_unique<Impl>();
  // Nobody writing and nothing in the WAL: the file is all there is, so open it immutable (no
  // locks, no -wal/-shm created: works in a read-only folder and leaves nothing behind).
  // Otherwise share the writer's WAL index like any SQLite reader.
  const bool immutable = !writer_active(path) && !wal_has_content(path);
  auto db =
      sql::Db::open(path, immutable ? sql::Db::Mode::kImmutable : sql::Db::Mode::kReadOnly,
                       options.busy_timeout_ms);
  if (!db.ok()) return db.status();
  impl->db = std::move(db).value();
  auto version = archive_schema::version(impl->db);
  if (!version.ok()) {
    if (!immutable && ::access(std::filesystem::path(path).parent_path().c_str(), W_OK) != 0 &&
        !std::filesystem::exists(path + "-shm", ec)) {
      return Status::IoError("archive: cannot read " + path +
                             ": its write-ahead log (-wal) holds "
                             "changes, and reading them needs a -shm file that cannot be created "
                             "in this read-only folder; copy the run folder somewhere writable");
    }
    if (version.status().message().find("not a database") != std::string::npos) {
      return Status::InvalidArgument("archive: " + path + " is not a kevo database");
    }
    return version.status();
  }
  if (*version == 0) return Status::InvalidArgument("archive: " + path + " is not a kevo database");
  if (*version > archive_schema::latest_version()) {
    return Status::InvalidArgument("archive: " + path + " was written by a newer kevo (schema " +
                                   std::to_string(*version) + "); use a newer kevo");
  }
  // An older file is read as it is (the writer upgrades it on `kevo resume`): readers never
  // write, and every query here works on every schema version.
  impl->schema_version = *version;
  impl->writer_active = !immutable && writer_active(path);
  KEVO_ASSIGN_OR_RETURN(impl->config, read_archive_config(impl->db));
  return std::unique_ptr<ArchiveReader>(new ArchiveReader(std::move(impl)));
}

const ArchiveConfig& ArchiveReader::config() const { return impl_->config; }

Result<StatusReport> ArchiveReader::status_report() {
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(impl_->db, Txn::Kind::kRead));
  StatusReport r;
  KEVO_ASSIGN_OR_RETURN(auto run, read_run(impl_->db));
  r.run = run.second;
  KEVO_ASSIGN_OR_RETURN(r.totals, read_totals(impl_->db, impl_->schema_version < 3));
  KEVO_ASSIGN_OR_RETURN(r.elites, read_elites(impl_->db, std::nullopt));
  return r;
}

Result<std::vector<ProgramSummary>> ArchiveReader::top(const TopQuery& query) {
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(impl_->db, Txn::Kind::kRead));
  return read_top(impl_->db, query);
}

Result<Program> ArchiveReader::program(ProgramId id) {
  return read_program(impl_->db, id);  // one statement: its own snapshot
}

Result<LlmCall> ArchiveReader::llm_call(LlmCallId id) { return read_llm_call(impl_->db, id); }

Result<std::vector<ProgramSummary>> ArchiveReader::children(ProgramId parent, int limit) {
  return read_children(impl_->db, parent, limit);
}

Result<std::vector<LlmOutcomeCount>> ArchiveReader::llm_outcomes() {
  return read_llm_outcomes(impl_->db);
}

Result<std::vector<ProgramSummary>> ArchiveReader::lineage(ProgramId id) {
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(impl_->db, Txn::Kind::kRead));
  return read_lineage(impl_->db, id);
}

Result<std::vector<Event>> ArchiveReader::events(const std::string& kind, int limit) {
  return read_events(impl_->db, kind, limit);
}

Result<int64_t> ArchiveReader::count_events(const std::string& kind) {
  KEVO_ASSIGN_OR_RETURN(auto st, impl_->db.prepare("SELECT count(*) FROM events WHERE kind = ?1"));
  st.bind(1, kind);
  KEVO_ASSIGN_OR_RETURN(bool row, st.step());
  return row ? st.int64(0) : 0;
}

Result<std::vector<MethodSummary>> ArchiveReader::methods() {
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(impl_->db, Txn::Kind::kRead));
  return read_methods(impl_->db);
}

Result<std::map<ProgramId, std::string>> ArchiveReader::methods_of(
    const std::vector<ProgramId>& ids) {
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(impl_->db, Txn::Kind::kRead));
  KEVO_ASSIGN_OR_RETURN(MethodMap map, read_method_map(impl_->db));
  std::map<ProgramId, std::string> out;
  for (ProgramId id : ids) {
    auto it = map.names.find(map.seed_of(id));
    if (it != map.names.end()) out[id] = it->second;
  }
  return out;
}

Result<RunActivity> ArchiveReader::activity() {
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(impl_->db, Txn::Kind::kRead));
  KEVO_ASSIGN_OR_RETURN(auto run, read_run(impl_->db));
  bool writer = impl_->writer_active;
  if (impl_->db.postgres()) {
    KEVO_ASSIGN_OR_RETURN(writer, postgres_writer_active(impl_->db));
  }
  return read_activity(impl_->db, run.second, writer);
}

}  // namespace kevo
