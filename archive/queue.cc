// WorkQueue: the tasks and workers tables (schema v5). See queue.h for the protocol.
#include "archive/queue.h"

#include <filesystem>

#include "archive/internal.h"
#include "archive/schema.h"

namespace kevo {

using namespace archive_internal;
using nlohmann::json;
using sql::Txn;

struct WorkQueue::Impl {
  sql::Db db;
  std::string now;  // the database clock in unix seconds, as an SQL expression

  // NOTIFY on PostgreSQL (inside the caller's transaction: sent at its commit); nothing on SQLite.
  Status notify(const char* channel) {
    return db.postgres() ? db.exec(std::string("NOTIFY kevo_") + channel) : Status::Ok();
  }
};

WorkQueue::WorkQueue(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WorkQueue::~WorkQueue() = default;

Result<std::unique_ptr<WorkQueue>> WorkQueue::open(const std::string& location,
                                                   const ArchiveOptions& options) {
  auto impl = std::make_unique<Impl>();
  const std::string shown = sql::is_postgres_url(location) ? sql::redact_url(location) : location;
  if (sql::is_postgres_url(location)) {
    KEVO_ASSIGN_OR_RETURN(impl->db, sql::Db::connect(location, options.busy_timeout_ms));
    impl->now = "extract(epoch FROM clock_timestamp())::float8";
  } else {
    std::error_code ec;
    if (!std::filesystem::exists(location, ec)) {
      return Status::NotFound("archive: no run database at " + location);
    }
    KEVO_ASSIGN_OR_RETURN(
        impl->db, sql::Db::open(location, sql::Db::Mode::kReadWrite, options.busy_timeout_ms));
    impl->now = "((julianday('now') - 2440587.5) * 86400.0)";
  }
  KEVO_ASSIGN_OR_RETURN(int version, archive_schema::version(impl->db));
  if (version == 0) return Status::NotFound("archive: no kevo run at " + shown + " yet");
  if (version != archive_schema::latest_version()) {
    return Status::InvalidArgument(
        "archive: " + shown + " has schema version " + std::to_string(version) + ", this kevo " +
        std::to_string(archive_schema::latest_version()) +
        (version < archive_schema::latest_version()
             ? ": resume the run with this kevo first (it upgrades the archive)"
             : ": use the same kevo for the workers as for the run"));
  }
  return std::unique_ptr<WorkQueue>(new WorkQueue(std::move(impl)));
}

Result<std::optional<RunInfo>> WorkQueue::run() {
  auto r = read_run(impl_->db);
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kNotFound) return std::optional<RunInfo>();
    return r.status();
  }
  return std::optional<RunInfo>(r->second);
}

namespace {

// The upsert shared by enqueue and enqueue_by_hash: a task already there keeps its state, unless
// its result was taken (and lost with the orchestrator that took it): then it starts over.
std::string upsert_tail() {
  return " ON CONFLICT (program_id, purpose) DO UPDATE SET "
         "state = CASE WHEN tasks.state = 'recorded' THEN 'queued' ELSE tasks.state END, "
         "claims = CASE WHEN tasks.state = 'recorded' THEN 0 ELSE tasks.claims END, "
         "suite = CASE WHEN tasks.state = 'recorded' THEN excluded.suite ELSE tasks.suite END, "
         "gpu_model = CASE WHEN tasks.state = 'recorded' THEN excluded.gpu_model "
         "ELSE tasks.gpu_model END "
         "RETURNING id";
}

}  // namespace

Result<TaskId> WorkQueue::enqueue(const TaskRequest& r) {
  sql::Db& db = impl_->db;
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kWrite));
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("INSERT INTO tasks (program_id, purpose, suite, "
                                            "gpu_model, state, max_claims, enqueued_at) "
                                            "VALUES (?1, ?2, ?3, ?4, 'queued', ?5, " +
                                            impl_->now + ")" + upsert_tail()));
  st.bind(1, r.program)
      .bind(2, r.purpose)
      .bind(3, r.suite)
      .bind(4, r.gpu_model)
      .bind(5, r.max_claims);
  KEVO_ASSIGN_OR_RETURN(TaskId id, returned_id(st));
  KEVO_RETURN_IF_ERROR(impl_->notify("tasks"));
  KEVO_RETURN_IF_ERROR(txn.commit());
  return id;
}

Result<TaskId> WorkQueue::enqueue_by_hash(const std::string& hash, TaskRequest r) {
  sql::Db& db = impl_->db;
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kWrite));
  KEVO_ASSIGN_OR_RETURN(auto st,
                        db.prepare("INSERT INTO tasks (program_id, purpose, suite, "
                                   "gpu_model, state, max_claims, enqueued_at) "
                                   "SELECT id, ?2, ?3, ?4, 'queued', ?5, " +
                                   impl_->now + " FROM programs WHERE hash = ?1" + upsert_tail()));
  st.bind(1, hash).bind(2, r.purpose).bind(3, r.suite).bind(4, r.gpu_model).bind(5, r.max_claims);
  KEVO_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return Status::NotFound("archive: no program with hash " + hash.substr(0, 12));
  TaskId id = st.int64(0);
  KEVO_RETURN_IF_ERROR(st.run());
  KEVO_RETURN_IF_ERROR(impl_->notify("tasks"));
  KEVO_RETURN_IF_ERROR(txn.commit());
  return id;
}

Result<std::vector<TaskResult>> WorkQueue::take_results(const std::vector<TaskId>& ids) {
  std::vector<TaskResult> out;
  if (ids.empty()) return out;
  sql::Db& db = impl_->db;
  std::string in;
  for (size_t i = 0; i < ids.size(); ++i) in += (i ? ", ?" : "?") + std::to_string(i + 1);
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kWrite));
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("SELECT id, result FROM tasks WHERE state = 'done' "
                                            "AND id IN (" +
                                            in + ") ORDER BY id"));
  for (size_t i = 0; i < ids.size(); ++i) st.bind(static_cast<int>(i + 1), ids[i]);
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    out.push_back({st.int64(0), parse_json(st.text(1))});
  }
  if (out.empty()) return out;
  KEVO_ASSIGN_OR_RETURN(auto done, db.prepare("UPDATE tasks SET state = 'recorded', result = NULL "
                                              "WHERE id = ?1"));
  for (const TaskResult& r : out) {
    KEVO_RETURN_IF_ERROR(done.reset());
    KEVO_RETURN_IF_ERROR(done.bind(1, r.id).run());
  }
  KEVO_RETURN_IF_ERROR(txn.commit());
  return out;
}

Status WorkQueue::withdraw_extras() {
  KEVO_ASSIGN_OR_RETURN(auto st, impl_->db.prepare("DELETE FROM tasks WHERE purpose <> ?1 AND "
                                                   "state <> 'recorded'"));
  return st.bind(1, kTaskEval).run();
}

Result<int64_t> WorkQueue::register_worker(const std::string& host, int64_t pid,
                                           const std::string& gpu_model, int gpus,
                                           const json& info) {
  KEVO_ASSIGN_OR_RETURN(auto st,
                        impl_->db.prepare("INSERT INTO workers (host, pid, gpu_model, gpus, "
                                          "state, started_at, heartbeat_at, info) "
                                          "VALUES (?1, ?2, ?3, ?4, 'running', " +
                                          impl_->now + ", " + impl_->now + ", ?5) RETURNING id"));
  st.bind(1, host).bind(2, pid).bind(3, gpu_model).bind(4, gpus).bind(5, dump_json(info));
  return returned_id(st);
}

Status WorkQueue::heartbeat(int64_t worker, double lease_s) {
  sql::Db& db = impl_->db;
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kWrite));
  KEVO_ASSIGN_OR_RETURN(auto leases, db.prepare("UPDATE tasks SET lease_until = " + impl_->now +
                                                " + ?2 WHERE worker_id = ?1 AND "
                                                "state = 'running'"));
  KEVO_RETURN_IF_ERROR(leases.bind(1, worker).bind(2, lease_s).run());
  KEVO_ASSIGN_OR_RETURN(
      auto me, db.prepare("UPDATE workers SET heartbeat_at = " + impl_->now + " WHERE id = ?1"));
  KEVO_RETURN_IF_ERROR(me.bind(1, worker).run());
  return txn.commit();
}

namespace {

// A task row's first columns: id, program_id, purpose, suite, claims.
ClaimedTask task_head(sql::Stmt& st) {
  ClaimedTask t;
  t.id = st.int64(0);
  t.program = st.int64(1);
  t.purpose = st.text(2);
  t.suite = st.text(3);
  t.claims = static_cast<int>(st.int64(4));
  return t;
}

}  // namespace

Result<std::vector<ClaimedTask>> WorkQueue::peek(const std::string& gpu_model, int n) {
  sql::Db& db = impl_->db;
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kRead));
  KEVO_ASSIGN_OR_RETURN(
      auto st, db.prepare("SELECT t.id, t.program_id, t.purpose, t.suite, t.claims, p.source, "
                          "p.params FROM tasks t JOIN programs p ON p.id = t.program_id "
                          "WHERE t.state = 'queued' AND t.gpu_model = ?1 ORDER BY t.id LIMIT ?2"));
  st.bind(1, gpu_model).bind(2, int64_t{n});
  std::vector<ClaimedTask> out;
  for (;;) {
    KEVO_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    ClaimedTask t = task_head(st);
    t.source = st.text(5);
    t.params = integer_params(st.text(6));
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::optional<ClaimedTask>> WorkQueue::claim(int64_t worker, const std::string& label,
                                                    const std::string& gpu_model, double lease_s) {
  sql::Db& db = impl_->db;
  // One statement: the row lock taken by the subquery is held by the update, and SKIP LOCKED
  // lets concurrent claimers pass over a row another worker is taking.
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kWrite));
  KEVO_ASSIGN_OR_RETURN(
      auto st,
      db.prepare("UPDATE tasks SET state = 'running', claims = claims + 1, worker_id = ?1, "
                 "worker = ?2, lease_until = " +
                 impl_->now + " + ?3, claimed_at = " + impl_->now +
                 " WHERE id = (SELECT id FROM tasks WHERE state = 'queued' AND gpu_model = ?4 "
                 "ORDER BY id LIMIT 1" +
                 (db.postgres() ? " FOR UPDATE SKIP LOCKED" : "") +
                 ") RETURNING id, program_id, purpose, suite, claims"));
  st.bind(1, worker).bind(2, label).bind(3, lease_s).bind(4, gpu_model);
  KEVO_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return std::optional<ClaimedTask>();
  ClaimedTask t = task_head(st);
  KEVO_RETURN_IF_ERROR(st.run());
  KEVO_ASSIGN_OR_RETURN(auto prog, db.prepare("SELECT source, params FROM programs WHERE id = ?1"));
  prog.bind(1, t.program);
  KEVO_ASSIGN_OR_RETURN(bool found, prog.step());
  if (!found)
    return Status::Internal("archive: task #" + std::to_string(t.id) + " names a missing program");
  t.source = prog.text(0);
  t.params = integer_params(prog.text(1));
  KEVO_RETURN_IF_ERROR(txn.commit());
  return std::optional<ClaimedTask>(std::move(t));
}

Result<bool> WorkQueue::finish(TaskId task, int64_t worker, const json& result, double eval_s) {
  sql::Db& db = impl_->db;
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kWrite));
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("UPDATE tasks SET state = 'done', result = ?3, "
                                            "eval_s = ?4, finished_at = " +
                                            impl_->now +
                                            " WHERE id = ?1 AND worker_id = ?2 AND "
                                            "state = 'running'"));
  KEVO_RETURN_IF_ERROR(
      st.bind(1, task).bind(2, worker).bind(3, dump_json(result)).bind(4, eval_s).run());
  if (db.changes() == 0) return false;  // the lease was lost: someone else has it now
  KEVO_ASSIGN_OR_RETURN(auto me, db.prepare("UPDATE workers SET evaluations = evaluations + 1, "
                                            "busy_s = busy_s + ?2 WHERE id = ?1"));
  KEVO_RETURN_IF_ERROR(me.bind(1, worker).bind(2, eval_s).run());
  KEVO_RETURN_IF_ERROR(impl_->notify("results"));
  KEVO_RETURN_IF_ERROR(txn.commit());
  return true;
}

Status WorkQueue::stop_worker(int64_t worker) {
  sql::Db& db = impl_->db;
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kWrite));
  // Tasks it still holds go back at once, and their claim does not count against them.
  KEVO_ASSIGN_OR_RETURN(auto back,
                        db.prepare("UPDATE tasks SET state = 'queued', worker_id = NULL, "
                                   "lease_until = NULL, claims = claims - 1 "
                                   "WHERE worker_id = ?1 AND state = 'running'"));
  KEVO_RETURN_IF_ERROR(back.bind(1, worker).run());
  const bool requeued = db.changes() > 0;
  KEVO_ASSIGN_OR_RETURN(auto me, db.prepare("UPDATE workers SET state = 'stopped' WHERE id = ?1"));
  KEVO_RETURN_IF_ERROR(me.bind(1, worker).run());
  if (requeued) KEVO_RETURN_IF_ERROR(impl_->notify("tasks"));
  return txn.commit();
}

Result<int> WorkQueue::expire_leases() {
  sql::Db& db = impl_->db;
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kWrite));
  const std::string expired = "state = 'running' AND lease_until < " + impl_->now;
  json crash = {{"status", "crash"},
                {"message",
                 "the candidate was being evaluated each time its worker stopped "
                 "(killed, or its host went down): it is not tried again"},
                {"metrics", json::object()}};
  KEVO_ASSIGN_OR_RETURN(auto dead,
                        db.prepare("UPDATE tasks SET state = 'done', result = ?1, "
                                   "finished_at = " +
                                   impl_->now + " WHERE " + expired + " AND claims >= max_claims"));
  KEVO_RETURN_IF_ERROR(dead.bind(1, dump_json(crash)).run());
  const int crashed = db.changes();
  KEVO_ASSIGN_OR_RETURN(auto back,
                        db.prepare("UPDATE tasks SET state = 'queued', worker_id = NULL, "
                                   "lease_until = NULL WHERE " +
                                   expired));
  KEVO_RETURN_IF_ERROR(back.run());
  const int requeued = db.changes();
  if (crashed) KEVO_RETURN_IF_ERROR(impl_->notify("results"));
  if (requeued) KEVO_RETURN_IF_ERROR(impl_->notify("tasks"));
  KEVO_RETURN_IF_ERROR(txn.commit());
  return crashed + requeued;
}

Status WorkQueue::listen(const std::string& channel) {
  if (!impl_->db.postgres()) return Status::Ok();
  if (channel != "tasks" && channel != "results") {
    return Status::InvalidArgument("archive: no queue channel '" + channel + "'");
  }
  return impl_->db.exec("LISTEN kevo_" + channel);
}

Result<bool> WorkQueue::wait(int timeout_ms) {
  return impl_->db.wait_notify(timeout_ms);
}

Result<std::vector<WorkerRecord>> WorkQueue::workers(double alive_within_s) {
  KEVO_ASSIGN_OR_RETURN(
      auto st,
      impl_->db.prepare("SELECT id, host, pid, gpu_model, gpus, state, started_at, " + impl_->now +
                        " - heartbeat_at, evaluations, busy_s, info FROM workers "
                        "WHERE (state = 'running' AND " +
                        impl_->now + " - heartbeat_at <= ?1) OR ?1 < 0 ORDER BY id DESC"));
  st.bind(1, alive_within_s);
  std::vector<WorkerRecord> out;
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return out;
    WorkerRecord w;
    w.id = st.int64(0);
    w.host = st.text(1);
    w.pid = st.int64(2);
    w.gpu_model = st.text(3);
    w.gpus = static_cast<int>(st.int64(4));
    w.state = st.text(5);
    w.started_at = st.real(6);
    w.heartbeat_age_s = st.real(7);
    w.evaluations = st.int64(8);
    w.busy_s = st.real(9);
    w.info = parse_json(st.text(10));
    out.push_back(std::move(w));
  }
}

Result<QueueCounts> WorkQueue::counts() {
  QueueCounts c;
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(impl_->db, Txn::Kind::kRead));
  KEVO_ASSIGN_OR_RETURN(auto st,
                        impl_->db.prepare("SELECT state, count(*) FROM tasks GROUP BY state"));
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    c.by_state[st.text(0)] = st.int64(1);
  }
  KEVO_ASSIGN_OR_RETURN(c.requeued, impl_->db.query_int("SELECT count(*) FROM tasks "
                                                        "WHERE claims > 1"));
  return c;
}

}  // namespace kevo
