// ArchiveReader: a read-only connection; each method reads one snapshot (a read transaction).
#include <filesystem>

#include "archive/internal.h"
#include "archive/schema.h"

namespace kevo {

using namespace archive_internal;
using sqlite::Txn;

ArchiveReader::ArchiveReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ArchiveReader::~ArchiveReader() = default;

Result<std::unique_ptr<ArchiveReader>> ArchiveReader::open(const std::string& path,
                                                           const ArchiveOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::NotFound("archive: no run database at " + path);
  }
  auto impl = std::make_unique<Impl>();
  KEVO_ASSIGN_OR_RETURN(impl->db, sqlite::Db::open(path, sqlite::Db::Mode::kReadOnly,
                                                   options.busy_timeout_ms));
  auto read_version = archive_schema::version(impl->db);
  if (!read_version.ok()) {
    // A corrupt or foreign file ("file is not a database"): one line that names it.
    return Status(read_version.status().code(), "archive: cannot read " + path + " as a kevo "
                  "database (" + read_version.status().message() + ")");
  }
  const int version = *read_version;
  if (version == 0) return Status::InvalidArgument("archive: " + path + " is not a kevo database");
  if (version < archive_schema::latest_version()) {
    // A file from an older kevo: upgrade it once (migrations are transactional), then read.
    KEVO_ASSIGN_OR_RETURN(auto rw, sqlite::Db::open(path, sqlite::Db::Mode::kReadWrite,
                                                    options.busy_timeout_ms));
    KEVO_RETURN_IF_ERROR(archive_schema::migrate(rw));
  } else if (version > archive_schema::latest_version()) {
    return Status::InvalidArgument("archive: " + path + " was written by a newer kevo (schema " +
                                   std::to_string(version) + "); use a newer kevo");
  }
  KEVO_ASSIGN_OR_RETURN(impl->config, read_archive_config(impl->db));
  return std::unique_ptr<ArchiveReader>(new ArchiveReader(std::move(impl)));
}

const ArchiveConfig& ArchiveReader::config() const { return impl_->config; }

Result<StatusReport> ArchiveReader::status_report() {
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(impl_->db, Txn::Kind::kRead));
  StatusReport r;
  KEVO_ASSIGN_OR_RETURN(auto run, read_run(impl_->db));
  r.run = run.second;
  KEVO_ASSIGN_OR_RETURN(r.totals, read_totals(impl_->db));
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

Result<std::vector<ProgramSummary>> ArchiveReader::lineage(ProgramId id) {
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(impl_->db, Txn::Kind::kRead));
  return read_lineage(impl_->db, id);
}

Result<std::vector<Event>> ArchiveReader::events(const std::string& kind, int limit) {
  return read_events(impl_->db, kind, limit);
}

}  // namespace kevo
