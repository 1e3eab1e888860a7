#include "archive/schema.h"

#include <string>
#include <vector>

namespace kevo::archive_schema {
namespace {

// Each entry moves the schema from version i to i + 1. Never edit a released entry: add one.
// Column order matters for speed: small columns first, big text last, so listings never walk a
// row's overflow pages.
const std::vector<const char*>& migrations() {
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
  };
  return m;
}

}  // namespace

int latest_version() { return static_cast<int>(migrations().size()); }

Result<int> version(sqlite::Db& db) {
  KEVO_ASSIGN_OR_RETURN(int64_t has, db.query_int("SELECT count(*) FROM sqlite_schema WHERE "
                                                  "type = 'table' AND name = 'schema_version'"));
  if (has == 0) return 0;
  auto v = db.query_int("SELECT version FROM schema_version");
  if (!v.ok()) return v.status().code() == StatusCode::kNotFound ? Result<int>(0) : v.status();
  return static_cast<int>(*v);
}

Status migrate(sqlite::Db& db, int target) {
  if (target < 0) target = latest_version();
  while (true) {
    KEVO_ASSIGN_OR_RETURN(auto txn, sqlite::Txn::begin(db, sqlite::Txn::Kind::kWrite));
    // Read the version inside the write transaction: two processes opening one old file at
    // once must not both apply a migration.
    KEVO_ASSIGN_OR_RETURN(int v, version(db));
    if (v > latest_version()) {
      return Status::InvalidArgument("archive: the file has schema version " + std::to_string(v) +
                                     ", newer than this kevo knows (" +
                                     std::to_string(latest_version()) + "); use a newer kevo");
    }
    if (v >= target) return Status::Ok();  // the transaction rolls back: nothing was written
    if (v == 0) {
      KEVO_RETURN_IF_ERROR(db.exec("CREATE TABLE IF NOT EXISTS schema_version "
                                   "(version INTEGER NOT NULL); DELETE FROM schema_version; "
                                   "INSERT INTO schema_version VALUES (0)"));
    }
    KEVO_RETURN_IF_ERROR(db.exec(migrations()[v]).with_context("schema migration " +
                                                               std::to_string(v + 1)));
    KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("UPDATE schema_version SET version = ?1"));
    KEVO_RETURN_IF_ERROR(st.bind(1, v + 1).run());
    KEVO_RETURN_IF_ERROR(txn.commit());
  }
}

}  // namespace kevo::archive_schema
