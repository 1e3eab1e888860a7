// Archive: opening, the run row, LLM calls, events, counters and values. Evaluations are in
// evaluations.cc, selection and migration in selection.cc.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "archive/internal.h"
#include "archive/rng.h"
#include "archive/schema.h"

namespace kevo {

using namespace archive_internal;
using nlohmann::json;
using sql::Txn;
namespace fs = std::filesystem;

Archive::Impl::~Impl() {
  db = sql::Db();  // close the database before giving up the writer lock
  if (lock_fd >= 0) close(lock_fd);
}

namespace {

// One writing process per run: the PRNG stream and counters assume a single writer. flock is
// released by the kernel when the process dies, so a kill -9 never leaves a stale lock.
Result<int> take_writer_lock(const std::string& db_path) {
  std::string lock_path = db_path + "-lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::IoError("archive: cannot create " + lock_path + ": " + std::strerror(errno));
  }
  // A reader checks for a writer by taking a shared lock for an instant (reader.cc): retry
  // briefly so that `kevo status` beside `kevo resume` never makes the writer give up.
  bool locked = false;
  for (int attempt = 0; attempt < 50 && !locked; ++attempt) {
    locked = flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (!locked) usleep(2000);
  }
  if (!locked) {
    char pid[32] = {0};
    ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
    close(fd);
    std::string who = n > 0 ? " (pid " + std::string(pid, static_cast<size_t>(n)) + ")" : "";
    return Status::Unavailable("archive: another kevo process" + who + " is writing " + db_path);
  }
  std::string pid = std::to_string(getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // The pid is only for the message above; the lock itself holds.
  }
  return fd;
}

// WAL lets readers (kevo status) run while the writer commits; synchronous=NORMAL keeps every
// committed transaction across a process crash (only a power loss may drop the last few).
Status set_writer_pragmas(sql::Db& db) {
  KEVO_ASSIGN_OR_RETURN(std::string mode, db.query_text("PRAGMA journal_mode = WAL"));
  if (mode != "wal") {
    return Status::IoError("archive: the file system refused WAL mode (journal_mode=" + mode + ")");
  }
  return db.exec("PRAGMA synchronous = NORMAL");
}

// One writing process per run on PostgreSQL too: a session advisory lock, which the server drops
// when the connection ends (a killed orchestrator's included). Its holder's host and pid are
// left in kv for the message a second writer gets.
Status take_postgres_writer_lock(sql::Db& db, const std::string& location) {
  bool locked = false;
  for (int attempt = 0; attempt < 50 && !locked; ++attempt) {
    KEVO_ASSIGN_OR_RETURN(int64_t got, db.query_int("SELECT CASE WHEN pg_try_advisory_lock("
                                                    "1801812591, 1) THEN 1 ELSE 0 END"));
    locked = got == 1;
    if (!locked) usleep(2000);
  }
  if (!locked) {
    auto who = db.query_text("SELECT value FROM kv WHERE key = 'archive.writer'");
    return Status::Unavailable("archive: another kevo process" +
                               (who.ok() ? " (" + *who + ")" : std::string()) + " is writing " +
                               location);
  }
  return Status::Ok();
}

Result<std::unique_ptr<Archive::Impl>> open_postgres(const std::string& url,
                                                     const ArchiveOptions& options) {
  auto impl = std::make_unique<Archive::Impl>();
  impl->path = sql::redact_url(url);
  KEVO_ASSIGN_OR_RETURN(impl->db, sql::Db::connect(url, options.busy_timeout_ms));
  KEVO_RETURN_IF_ERROR(archive_schema::migrate(impl->db));
  KEVO_RETURN_IF_ERROR(take_postgres_writer_lock(impl->db, impl->path));
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  KEVO_RETURN_IF_ERROR(
      kv_set(impl->db, "archive.writer",
             std::string_view(std::string(host) + ", pid " + std::to_string(getpid()))));
  return impl;
}

Result<std::unique_ptr<Archive::Impl>> open_impl(const std::string& path,
                                                 const ArchiveOptions& options, bool create) {
  if (sql::is_postgres_url(path)) return open_postgres(path, options);
  auto impl = std::make_unique<Archive::Impl>();
  impl->path = path;
  std::error_code ec;
  if (create) {
    fs::path parent = fs::path(path).parent_path();
    if (!parent.empty()) fs::create_directories(parent, ec);
    if (ec) return Status::IoError("archive: cannot create " + parent.string() + ": " + ec.message());
  } else if (!fs::exists(path, ec)) {
    return Status::NotFound("archive: no run database at " + path);
  }
  KEVO_ASSIGN_OR_RETURN(impl->lock_fd, take_writer_lock(path));
  KEVO_ASSIGN_OR_RETURN(impl->db, sql::Db::open(path,
                                                create ? sql::Db::Mode::kReadWriteCreate
                                                       : sql::Db::Mode::kReadWrite,
                                                options.busy_timeout_ms));
  KEVO_RETURN_IF_ERROR(set_writer_pragmas(impl->db));
  KEVO_RETURN_IF_ERROR(archive_schema::migrate(impl->db));
  return impl;
}

}  // namespace

Archive::Archive(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Archive::~Archive() = default;

Result<std::unique_ptr<Archive>> Archive::create(const std::string& path, const RunInfo& run,
                                                 const ArchiveConfig& config,
                                                 const ArchiveOptions& options) {
  KEVO_RETURN_IF_ERROR(validate_config(config));
  if (run.name.empty()) return Status::InvalidArgument("archive: the run needs a name");
  KEVO_ASSIGN_OR_RETURN(auto impl, open_impl(path, options, /*create=*/true));
  sql::Db& db = impl->db;
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kWrite));
  KEVO_ASSIGN_OR_RETURN(int64_t runs, db.query_int("SELECT count(*) FROM runs"));
  if (runs > 0) {
    return Status::InvalidArgument("archive: " + path + " already holds a run; resume it, or "
                                   "pick another run name");
  }
  double now = now_unix();
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("INSERT INTO runs (name, seed, status, created_at, "
                                            "updated_at, archive_config, config) "
                                            "VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6) RETURNING id"));
  st.bind(1, run.name)
      .bind(2, static_cast<int64_t>(run.seed))
      .bind(3, run.status.empty() ? std::string("running") : run.status)
      .bind(4, now)
      .bind(5, dump_json(config_to_json(config)))
      .bind(6, run.config);
  KEVO_ASSIGN_OR_RETURN(impl->run_id, returned_id(st));
  KEVO_RETURN_IF_ERROR(kv_set(db, kKeyRng, Rng(run.seed).state()));
  KEVO_RETURN_IF_ERROR(kv_set(db, kKeyEvaluations, int64_t{0}));
  KEVO_RETURN_IF_ERROR(insert_event(db, "run_created", {{"name", run.name}, {"seed", run.seed}}));
  KEVO_RETURN_IF_ERROR(txn.commit());
  impl->config = config;
  return std::unique_ptr<Archive>(new Archive(std::move(impl)));
}

Result<std::unique_ptr<Archive>> Archive::open(const std::string& path,
                                               const ArchiveOptions& options) {
  KEVO_ASSIGN_OR_RETURN(auto impl, open_impl(path, options, /*create=*/false));
  sql::Db& db = impl->db;
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kWrite));
  KEVO_ASSIGN_OR_RETURN(auto run, read_run(db));
  impl->run_id = run.first;
  KEVO_ASSIGN_OR_RETURN(impl->config, read_archive_config(db));
  KEVO_ASSIGN_OR_RETURN(int64_t pending,
                        db.query_int("SELECT count(*) FROM programs WHERE status = 'pending'"));
  KEVO_ASSIGN_OR_RETURN(int64_t evaluations, kv_int(db, kKeyEvaluations));
  KEVO_RETURN_IF_ERROR(
      insert_event(db, "resumed", {{"evaluations", evaluations}, {"pending", pending}}));
  KEVO_RETURN_IF_ERROR(txn.commit());
  return std::unique_ptr<Archive>(new Archive(std::move(impl)));
}

const std::string& Archive::path() const { return impl_->path; }
const ArchiveConfig& Archive::config() const { return impl_->config; }

RunInfo Archive::run() const {
  std::lock_guard lock(impl_->mu);
  auto r = read_run(impl_->db);
  return r.ok() ? r->second : RunInfo{};
}

Status Archive::set_run_status(const std::string& status) {
  std::lock_guard lock(impl_->mu);
  KEVO_ASSIGN_OR_RETURN(auto st, impl_->db.prepare("UPDATE runs SET status = ?1, updated_at = ?2 "
                                                   "WHERE id = ?3"));
  return st.bind(1, status).bind(2, now_unix()).bind(3, impl_->run_id).run();
}

Result<LlmCallId> Archive::record_llm_call(const LlmCall& c) {
  std::lock_guard lock(impl_->mu);
  sql::Db& db = impl_->db;
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kWrite));
  KEVO_ASSIGN_OR_RETURN(
      auto st, db.prepare("INSERT INTO llm_calls (created_at, model, provider, tokens_in, "
                          "tokens_out, cost_usd, latency_s, status, error, prompt, response, "
                          "tag, parent_id, attempt, outcome, child_id) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
                          "?15, ?16) RETURNING id"));
  st.bind(1, now_unix()).bind(2, c.model).bind(3, c.provider)
      .bind(4, c.tokens_in).bind(5, c.tokens_out).bind(6, c.cost_usd)
      .bind(7, c.latency_s).bind(8, c.status).bind(9, c.error)
      .bind(10, c.prompt).bind(11, c.response).bind(12, c.tag)
      .bind(13, c.parent).bind(14, c.attempt).bind(15, c.outcome)
      .bind(16, c.child);
  KEVO_ASSIGN_OR_RETURN(LlmCallId id, returned_id(st));
  // Running totals, so budgets and `kevo status` never sum the (large) call table.
  KEVO_RETURN_IF_ERROR(kv_add(db, kKeyLlmCalls, 1).status());
  if (c.status != "ok") KEVO_RETURN_IF_ERROR(kv_add(db, kKeyLlmFailed, 1).status());
  KEVO_RETURN_IF_ERROR(kv_add(db, kKeyTokensIn, c.tokens_in).status());
  KEVO_RETURN_IF_ERROR(kv_add(db, kKeyTokensOut, c.tokens_out).status());
  KEVO_ASSIGN_OR_RETURN(double cost, kv_real(db, kKeyCost));
  KEVO_RETURN_IF_ERROR(kv_set(db, kKeyCost, cost + c.cost_usd));
  KEVO_RETURN_IF_ERROR(txn.commit());
  return id;
}

Result<LlmCall> Archive::llm_call(LlmCallId id) {
  std::lock_guard lock(impl_->mu);
  return read_llm_call(impl_->db, id);
}

Status Archive::set_llm_outcome(LlmCallId id, const std::string& outcome,
                               std::optional<ProgramId> child) {
  std::lock_guard lock(impl_->mu);
  KEVO_ASSIGN_OR_RETURN(auto st, impl_->db.prepare("UPDATE llm_calls SET outcome = ?1, "
                                                   "child_id = ?2 WHERE id = ?3"));
  KEVO_RETURN_IF_ERROR(st.bind(1, outcome).bind(2, child).bind(3, id).run());
  if (impl_->db.changes() == 0) {
    return Status::NotFound("no LLM call #" + std::to_string(id) + " in the archive");
  }
  return Status::Ok();
}

Result<std::vector<LlmOutcomeCount>> Archive::llm_outcomes() {
  std::lock_guard lock(impl_->mu);
  return read_llm_outcomes(impl_->db);
}

Status Archive::add_event(const std::string& kind, const json& message) {
  std::lock_guard lock(impl_->mu);
  return insert_event(impl_->db, kind, message);
}

Result<int64_t> Archive::add_counter(const std::string& name, int64_t delta) {
  std::lock_guard lock(impl_->mu);
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(impl_->db, Txn::Kind::kWrite));
  KEVO_ASSIGN_OR_RETURN(int64_t v, kv_add(impl_->db, "counter." + name, delta));
  KEVO_RETURN_IF_ERROR(txn.commit());
  return v;
}

Result<int64_t> Archive::counter(const std::string& name) {
  std::lock_guard lock(impl_->mu);
  return kv_int(impl_->db, "counter." + name);
}

Status Archive::set_value(const std::string& key, const json& value) {
  std::lock_guard lock(impl_->mu);
  return kv_set(impl_->db, "value." + key, std::string_view(dump_json(value)));
}

Result<std::optional<json>> Archive::value(const std::string& key) {
  std::lock_guard lock(impl_->mu);
  KEVO_ASSIGN_OR_RETURN(auto text, kv_text(impl_->db, "value." + key));
  if (!text) return std::optional<json>();
  return std::optional<json>(parse_json(*text));
}

Result<Totals> Archive::totals() {
  std::lock_guard lock(impl_->mu);
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(impl_->db, Txn::Kind::kRead));
  return read_totals(impl_->db);
}

Result<Program> Archive::program(ProgramId id) {
  std::lock_guard lock(impl_->mu);
  return read_program(impl_->db, id);
}

Result<std::vector<ProgramSummary>> Archive::children(ProgramId parent, int limit) {
  std::lock_guard lock(impl_->mu);
  return read_children(impl_->db, parent, limit);
}

Result<std::vector<Elite>> Archive::elites(std::optional<int> island) {
  std::lock_guard lock(impl_->mu);
  return read_elites(impl_->db, island);
}

}  // namespace kevo
