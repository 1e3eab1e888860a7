#include "archive/schema.h"

#include <string>
#include <vector>

namespace kevo::archive_schema {
namespace {

// Each entry moves the schema from version i to i + 1. Never edit a released entry: add one, here
// and in schema_postgres.cc (the same version in PostgreSQL's words).
// Column order matters for speed: small columns first, big text last, so listings never walk a
// row's overflow pages.
const std::vector<const char*>& sqlite_migrations() {
  static const std::vector<const char*> m = {
      // 1: the tables.
      R"sql(
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  seed INTEGER NOT NULL,
  status TEXT NOT NULL,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL,
  archive_config TEXT NOT NULL,  -- JSON of ArchiveConfig: grid axes, islands, selection mix
  config TEXT NOT NULL           -- the whole run configuration as given (YAML or JSON)
);
CREATE TABLE llm_calls (
  id INTEGER PRIMARY KEY,
  created_at REAL NOT NULL,
  model TEXT NOT NULL,
  provider TEXT NOT NULL,
  tokens_in INTEGER NOT NULL,
  tokens_out INTEGER NOT NULL,
  cost_usd REAL NOT NULL,
  latency_s REAL NOT NULL,
  status TEXT NOT NULL,
  error TEXT NOT NULL,
  prompt TEXT NOT NULL,
  response TEXT NOT NULL
);
CREATE TABLE programs (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  hash TEXT NOT NULL UNIQUE,              -- program_hash(): normalized source + params
  parent_id INTEGER REFERENCES programs(id),
  island INTEGER NOT NULL,                -- where it was born (migration copies cells, not rows)
  generation INTEGER NOT NULL,
  origin TEXT NOT NULL,                   -- seed, tuner, llm, ...
  llm_call_id INTEGER REFERENCES llm_calls(id),
  status TEXT NOT NULL,                   -- 'pending' while in flight, then an eval status
  fitness REAL,                           -- ok programs with the fitness metric only
  cell TEXT,                              -- feature-bin key, ok programs only
  created_at REAL NOT NULL,
  evaluated_at REAL,
  params TEXT NOT NULL,                   -- JSON object
  metrics TEXT,                           -- JSON object
  message TEXT,
  source TEXT NOT NULL,
  result TEXT,                            -- result JSON (workloads, kernels), artifacts moved out
  holdout TEXT,                           -- holdout result JSON
  compile_log TEXT,
  feedback TEXT
);
CREATE INDEX programs_by_parent ON programs(parent_id);
CREATE TABLE cells (
  island INTEGER NOT NULL,
  cell TEXT NOT NULL,
  program_id INTEGER NOT NULL REFERENCES programs(id),
  fitness REAL NOT NULL,
  updated_at REAL NOT NULL,
  PRIMARY KEY (island, cell)
) WITHOUT ROWID;
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  time REAL NOT NULL,
  kind TEXT NOT NULL,
  message TEXT NOT NULL                   -- JSON
);
CREATE TABLE kv (                         -- PRNG state, counters, the orchestrator's own state
  key TEXT PRIMARY KEY,
  value
) WITHOUT ROWID;
)sql",
      // 2: indexes for the listings, so `kevo status` and `kevo top` stay fast at 100k programs
      // (counts by status and best-first scans read only the index).
      R"sql(
CREATE INDEX programs_by_status_fitness ON programs(status, fitness DESC, id);
CREATE INDEX programs_by_status_island ON programs(status, island, fitness DESC, id);
CREATE INDEX events_by_kind ON events(kind, id);
)sql",
      // 3: programs per status kept as counters (updated with each status change), so the
      // totals the evolution loop reads between evaluations cost O(1), not a scan.
      R"sql(
INSERT INTO kv (key, value)
  SELECT 'archive.count.' || status, count(*) FROM programs WHERE true GROUP BY status
  ON CONFLICT (key) DO UPDATE SET value = excluded.value;
)sql",
      // 4: what each LLM call was for and what came of it (`kevo calls`, the LLM part of `kevo
      // status`): the request's tag, parent and attempt, and the outcome the loop set once the
      // reply was handled ("child", "no_edit", "no_match", "compile_error", ...) with the child.
      R"sql(
ALTER TABLE llm_calls ADD COLUMN tag TEXT NOT NULL DEFAULT '';
ALTER TABLE llm_calls ADD COLUMN parent_id INTEGER;
ALTER TABLE llm_calls ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE llm_calls ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
ALTER TABLE llm_calls ADD COLUMN child_id INTEGER;
CREATE INDEX llm_calls_by_model_outcome ON llm_calls(model, outcome, tokens_in, tokens_out, cost_usd);
CREATE INDEX llm_calls_by_parent ON llm_calls(parent_id, id);
)sql",
      // 5: the work queue of a run whose GPU hosts share the archive (archive/queue.h): a task
      // per evaluation to be made by a worker, with its lease, and the workers that heart-beat.
      R"sql(
CREATE TABLE tasks (
  id INTEGER PRIMARY KEY,
  program_id INTEGER NOT NULL REFERENCES programs(id) ON DELETE CASCADE,
  purpose TEXT NOT NULL,                  -- 'eval', 'holdout' or 'counters'
  suite TEXT NOT NULL,
  gpu_model TEXT NOT NULL,                -- only a worker with this GPU model takes it
  state TEXT NOT NULL,                    -- 'queued', 'running', 'done', then 'recorded'
  claims INTEGER NOT NULL DEFAULT 0,      -- workers that took it
  max_claims INTEGER NOT NULL,            -- a lease expiring at this many claims ends as crash
  worker_id INTEGER,
  worker TEXT,                            -- "host pid gpu N", for people
  lease_until REAL,                       -- the database's clock, unix seconds
  enqueued_at REAL NOT NULL,
  claimed_at REAL,
  finished_at REAL,
  eval_s REAL,                            -- the worker's compile + evaluation time
  result TEXT,                            -- the evaluation result JSON until recorded
  UNIQUE (program_id, purpose)
);
CREATE INDEX tasks_by_state ON tasks(state, gpu_model, id);
CREATE TABLE workers (
  id INTEGER PRIMARY KEY,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  gpu_model TEXT NOT NULL,
  gpus INTEGER NOT NULL,
  state TEXT NOT NULL,                    -- 'running' or 'stopped'
  started_at REAL NOT NULL,
  heartbeat_at REAL NOT NULL,
  evaluations INTEGER NOT NULL DEFAULT 0,
  busy_s REAL NOT NULL DEFAULT 0,
  info TEXT NOT NULL DEFAULT '{}'         -- its first GPU (gpu_info.h JSON), for prompts
);
)sql",
  };
  return m;
}

const std::vector<const char*>& migrations(sql::Dialect d) {
  return d == sql::Dialect::kPostgres ? postgres_migrations() : sqlite_migrations();
}

}  // namespace

int latest_version() {
  assert(sqlite_migrations().size() == postgres_migrations().size());
  return static_cast<int>(sqlite_migrations().size());
}

Result<int> version(sql::Db& db) {
  KEVO_ASSIGN_OR_RETURN(
      int64_t has,
      db.query_int(db.postgres() ? "SELECT count(*) FROM information_schema.tables WHERE "
                                   "table_schema = current_schema() AND "
                                   "table_name = 'schema_version'"
                                 : "SELECT count(*) FROM sqlite_schema WHERE "
                                   "type = 'table' AND name = 'schema_version'"));
  if (has == 0) return 0;
  auto v = db.query_int("SELECT version FROM schema_version");
  if (!v.ok()) return v.status().code() == StatusCode::kNotFound ? Result<int>(0) : v.status();
  return static_cast<int>(*v);
}

Status migrate(sql::Db& db, int target) {
  if (target < 0) target = latest_version();
  // Every step in one transaction: another process (a `kevo worker` started with the run) sees
  // the archive before or after, never at a version in between, which it would take for an old
  // archive that needs `kevo resume`. Both engines' DDL is transactional.
  KEVO_ASSIGN_OR_RETURN(auto txn, sql::Txn::begin(db, sql::Txn::Kind::kWrite));
  // Read the version inside the write transaction: two processes opening one old file at once
  // must not both apply a migration. (PostgreSQL takes no lock at BEGIN: an advisory lock,
  // released with the transaction, does it.)
  if (db.postgres()) KEVO_RETURN_IF_ERROR(db.exec("SELECT pg_advisory_xact_lock(1801812591, 2)"));
  KEVO_ASSIGN_OR_RETURN(int v, version(db));
  if (v > latest_version()) {
    return Status::InvalidArgument("archive: the file has schema version " + std::to_string(v) +
                                   ", newer than this kevo knows (" +
                                   std::to_string(latest_version()) + "); use a newer kevo");
  }
  if (v >= target) return Status::Ok();  // the transaction rolls back: nothing was written
  if (v == 0) {
    KEVO_RETURN_IF_ERROR(
        db.exec("CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER NOT NULL); DELETE FROM schema_version; "
                "INSERT INTO schema_version VALUES (0)"));
  }
  for (; v < target; ++v) {
    KEVO_RETURN_IF_ERROR(db.exec(migrations(db.dialect())[v])
                             .with_context("schema migration " + std::to_string(v + 1)));
  }
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("UPDATE schema_version SET version = ?1"));
  KEVO_RETURN_IF_ERROR(st.bind(1, target).run());
  return txn.commit();
}

}  // namespace kevo::archive_schema
