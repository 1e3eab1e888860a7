// The archive: the memory of one run, in one SQLite file (docs/design.md, Archive), by default
// ./kevo-runs/<run-name>/kevo.db. It holds the run's config and seed, every program with its
// source, params, lineage and evaluation result, the MAP-Elites grid of each island, every LLM
// call, an event log, and the state needed to resume (PRNG state, counters, evaluations in flight).
//
// Writing: one `Archive` per run, in one process (a lock file next to the database refuses a
// second writer). Every change is one SQLite transaction, so a `kill -9` loses at most the
// evaluations that were in flight (still "pending" in the file and listed on resume).
// Reading: any number of `ArchiveReader`s, in any process, while the writer works (WAL mode):
// each query of a reader sees one consistent snapshot.
//
// Typical use by the evolution loop:
//   auto ar = Archive::create(path, run, config);       // or Archive::open(path) to resume
//   for (ProgramId id : ar->pending_evaluations()) ...   // re-queue what a crash left in flight
//   Selection s = ar->select();                          // parent + inspirations, deterministic
//   BeginResult b = ar->begin_evaluation({child_source, params, s.parent, s.island, "llm", call});
//   if (!b.duplicate) ar->record_result(b.id, to_json(eval_result));
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/config.h"
#include "common/status.h"

namespace kevo {

using ProgramId = int64_t;
using LlmCallId = int64_t;

// ---- Where an archive is ----
// A location is a SQLite file path or a PostgreSQL URL (postgresql://user@host/db; the password
// from PGPASSWORD or ~/.pgpass rather than the URL). One database holds one run.
bool is_postgres_location(std::string_view location);
// The location as it may be printed, logged or stored: a URL loses its password.
std::string printable_location(std::string_view location);

// ---- Program identity ----

// The form of a source that identifies a program: line endings normalized to "\n", trailing
// whitespace stripped from every line, trailing blank lines collapsed, exactly one final newline.
// Comments are kept: they can change what an LLM does with the program. Store and evaluate this
// form (begin_evaluation stores it), so what was timed is exactly what the archive holds.
std::string normalize_source(std::string_view source);

// Lower-case hex SHA-256 of the normalized source and the params (sorted by name).
std::string program_hash(std::string_view source, const std::map<std::string, int64_t>& params);

// ---- The MAP-Elites grid ----
// A cell key names one bin per feature axis, "i,j" (bin indices in axis order). Bin i of an axis
// holds values <= bins[i] (and above bins[i-1]); the last bin, index bins.size(), holds the rest.

int bin_index(const FeatureAxis& axis, double value);
std::string cell_key(const std::vector<int>& bins);
// Bin indices of a key; empty when the key is malformed.
std::vector<int> cell_bins(std::string_view key);
// "<=0.02", ">0.2" (or "all" for an axis without edges).
std::string bin_label(const FeatureAxis& axis, int bin);
// "mean_rel_err<=0.02 index_bytes_per_token<=4"
std::string cell_label(const ArchiveConfig& config, std::string_view key);

// ---- Records ----

inline constexpr const char* kPending = "pending";  // status of a program being evaluated

struct RunInfo {
  std::string name;
  std::string config;  // the run's whole configuration text (YAML or JSON), for audit and resume
  uint64_t seed = 1;   // seeds the archive's PRNG (selection); same seed, same run
  std::string status = "running";  // set by the orchestrator: running, stopped, finished, failed
  double created_at = 0;           // unix seconds; set by the archive
  double updated_at = 0;
};

struct NewProgram {
  std::string source;  // normalized on insert
  std::map<std::string, int64_t> params;
  std::optional<ProgramId> parent;  // none for seeds; generation = parent's + 1
  int island = 0;                   // 0 .. config().islands - 1
  std::string origin = "llm";       // "seed", "tuner", "llm", ...
  std::optional<LlmCallId> llm_call;  // the call whose reply made this program
};

struct BeginResult {
  ProgramId id = 0;
  bool duplicate = false;  // the same program (by hash) was already known: evaluate nothing
  std::string status;      // when duplicate: its status ("pending" while it is in flight)
  std::string hash;
};

struct RecordOutcome {
  std::optional<double> fitness;  // none unless ok and the fitness metric is present and finite
  std::string cell;               // "" when the program does not enter the grid
  bool new_elite = false;         // it now holds its cell on its island
  bool new_island_best = false;
  bool new_global_best = false;
  bool migrated = false;  // this evaluation completed an interval and triggered ring migration
};

struct Program {
  ProgramId id = 0;
  std::string hash;
  std::string source;
  std::map<std::string, int64_t> params;
  std::optional<ProgramId> parent;
  int island = 0;
  int generation = 0;
  std::string origin;
  std::optional<LlmCallId> llm_call;
  std::string status;   // "pending" or an evaluation status ("ok", "compile_error", ...)
  std::string message;  // the evaluator's message
  std::optional<double> fitness;
  std::string cell;
  nlohmann::json metrics = nlohmann::json::object();
  nlohmann::json result;   // the evaluation result JSON (with workloads), artifacts moved out
  nlohmann::json holdout;  // null until a holdout evaluation is recorded
  std::string compile_log;
  std::string feedback;
  double created_at = 0;
  std::optional<double> evaluated_at;
};

// A row of a listing: what `kevo top` and `kevo lineage` show, without source or result.
struct ProgramSummary {
  ProgramId id = 0;
  std::string status;
  std::optional<double> fitness;
  int island = 0;
  int generation = 0;
  std::string cell;
  std::string origin;
  std::optional<ProgramId> parent;
  nlohmann::json metrics = nlohmann::json::object();
  double created_at = 0;
  std::string message;  // the evaluator's message (empty when ok)
};

struct Elite {
  int island = 0;
  std::string cell;
  ProgramId program = 0;
  double fitness = 0;
};

struct Selection {
  int island = 0;
  ProgramId parent = 0;
  std::string mode;  // "exploit" (island best), "explore" (random cell), "global" (global best)
  std::vector<ProgramId> inspirations;  // distinct, never the parent
};

struct LlmCall {
  LlmCallId id = 0;  // set by the archive
  std::string model;
  std::string provider;
  std::string tag;                   // the request's tag ("ask=7 parent=41 template=diff")
  std::optional<ProgramId> parent;   // the program the request was about
  int attempt = 1;                   // 2: a retry showing the model its failed reply
  // What came of the reply, set by the loop with set_llm_outcome(): "child" (a program was
  // made), or why not ("no_edit", "no_match", "outside_block", "bad_edit", "duplicate",
  // "compile_error", "request_failed", "cancelled"...). "" until then.
  std::string outcome;
  std::optional<ProgramId> child;
  std::string prompt;  // the whole request (JSON: system, messages, tag), for audit and replay
  std::string response;
  int64_t tokens_in = 0;
  int64_t tokens_out = 0;
  double cost_usd = 0;
  double latency_s = 0;
  std::string status = "ok";  // "ok" or what went wrong: "http_error", "timeout", ...
  std::string error;
  double created_at = 0;  // set by the archive
};

// LLM calls grouped by model and outcome: `kevo status` and the run summary.
struct LlmOutcomeCount {
  std::string model;
  std::string outcome;  // "" for calls the loop has not judged (in flight, or a crash)
  int64_t calls = 0;
  int64_t tokens_in = 0, tokens_out = 0;
  double cost_usd = 0;
};

struct Event {
  int64_t id = 0;
  double time = 0;
  std::string kind;  // "run_created", "resumed", "migration", "new_best", or the caller's own
  nlohmann::json message;
};

// Budget and progress sums. O(1) apart from one indexed count per status.
struct Totals {
  int64_t evaluations = 0;  // results recorded, every status
  int64_t pending = 0;      // in flight (or lost by a crash and not yet re-queued)
  std::map<std::string, int64_t> by_status;  // evaluated programs by status
  int64_t llm_calls = 0;
  int64_t llm_failed = 0;  // calls whose status is not "ok"
  int64_t tokens_in = 0;
  int64_t tokens_out = 0;
  double cost_usd = 0;
  std::optional<Elite> best;  // the global best elite
};

struct StatusReport {
  RunInfo run;
  Totals totals;
  std::vector<Elite> elites;  // every occupied cell of every island
};

struct TopQuery {
  int limit = 10;
  std::optional<int> island;  // programs born on this island (with per_cell: its grid)
  bool per_cell = false;      // the elite of each cell instead of the best programs overall
  // Programs with this status instead, newest first ("failed": every status but ok and
  // pending). Not with per_cell.
  std::optional<std::string> status;
};

// A program's method is the seed it descends from (its generation-0 ancestor), named as the run
// named the seed ("hash_topk"); "#ID" for a seed the archive does not name.
struct MethodSummary {
  std::string name;
  ProgramId seed = 0;
  int64_t evaluated = 0;  // programs of this method with a result (every status)
  int64_t pending = 0;
  std::map<std::string, int64_t> by_status;
  std::optional<ProgramSummary> best;  // its highest-fitness ok program
};

// When a run was active and why it stopped, from its events. A run resumed N times has N + 1
// sessions; the time between a stop and the next resume does not count.
struct RunActivity {
  double active_s = 0;         // summed over sessions, up to the last evaluation or stop
  double last_evaluation = 0;  // unix seconds; 0 before the first
  int sessions = 1;
  std::string stop_reason;     // of the last session; "" when it did not stop (running or killed)
  bool writer_active = false;  // a process holds the run for writing now
};

struct ArchiveOptions {
  // Long enough to ride out a WAL checkpoint or another process's short transaction.
  int busy_timeout_ms = 10000;
};

// Thread-safe: every method takes an internal mutex around one connection. Owns the file lock.
class Archive {
 public:
  // Creates `path` (and its folder) for a new run. InvalidArgument if it already holds a run.
  static Result<std::unique_ptr<Archive>> create(const std::string& path, const RunInfo& run,
                                                 const ArchiveConfig& config,
                                                 const ArchiveOptions& options = {});
  // Reopens a run to continue it: config, PRNG state and counters come from the file alone.
  // Upgrades an older schema. Unavailable if another process is writing this run.
  static Result<std::unique_ptr<Archive>> open(const std::string& path,
                                               const ArchiveOptions& options = {});
  ~Archive();
  Archive(const Archive&) = delete;
  Archive& operator=(const Archive&) = delete;

  const std::string& path() const;
  const ArchiveConfig& config() const;  // as stored in the file
  RunInfo run() const;
  Status set_run_status(const std::string& status);

  // ---- Evaluations ----
  // Claims a program for evaluation: inserts it as "pending", or, when the same program (hash)
  // exists, returns it with duplicate=true and inserts nothing.
  Result<BeginResult> begin_evaluation(const NewProgram& program);
  // Stores an evaluation result (docs/design.md, "Evaluation result": status, message, metrics,
  // workloads, artifacts) for a pending program and updates its island's grid: only status "ok"
  // programs compete, and a cell's elite is replaced only by strictly higher fitness. Every
  // migration_interval evaluations, migrates elites around the ring. One transaction.
  // InvalidArgument if the program is not pending or the JSON lacks a status.
  Result<RecordOutcome> record_result(ProgramId id, const nlohmann::json& result);
  // Stores the holdout evaluation (same JSON shape) of an evaluated program.
  Status record_holdout(ProgramId id, const nlohmann::json& result);
  // Replaces the stored result JSON of an evaluated program with a richer one of the same status
  // (hardware counters measured after the fact for a new elite). Status, fitness, cell, metrics
  // and artifacts stay as recorded. NotFound unless the program was evaluated with that status;
  // InvalidArgument if the result's metrics differ from the recorded ones.
  Status amend_result(ProgramId id, const nlohmann::json& result);
  // Forgets a pending program that will not be evaluated (so its hash is free again).
  Status cancel_evaluation(ProgramId id);
  // Programs still pending, oldest first: after a crash, the work to re-queue.
  Result<std::vector<ProgramId>> pending_evaluations();
  Result<std::optional<ProgramId>> lookup_by_hash(const std::string& hash);

  Result<Program> program(ProgramId id);
  // The latest children of `parent`, newest first (the prompt shows failed earlier tries).
  Result<std::vector<ProgramSummary>> children(ProgramId parent, int limit);
  Result<std::vector<Elite>> elites(std::optional<int> island = std::nullopt);

  // ---- Selection ----
  // Picks a parent and inspirations on `island` (default: the next island round-robin) with
  // the archive's PRNG, whose state is saved in the same transaction: a resumed run continues
  // the same sequence. NotFound while no program has status ok anywhere.
  Result<Selection> select(std::optional<int> island = std::nullopt);

  // ---- LLM calls, events, counters ----
  Result<LlmCallId> record_llm_call(const LlmCall& call);  // also adds to the cost totals
  Result<LlmCall> llm_call(LlmCallId id);
  // Sets what came of a call's reply (and the child it made, if any). NotFound for an unknown id.
  Status set_llm_outcome(LlmCallId id, const std::string& outcome,
                         std::optional<ProgramId> child = std::nullopt);
  Result<std::vector<LlmOutcomeCount>> llm_outcomes();
  Status add_event(const std::string& kind, const nlohmann::json& message);
  // Named integer counters kept by the caller (generation, tuner children...); start at 0.
  Result<int64_t> add_counter(const std::string& name, int64_t delta);
  Result<int64_t> counter(const std::string& name);
  // Any JSON value the orchestrator needs to resume (its own PRNG state, queue state...).
  Status set_value(const std::string& key, const nlohmann::json& value);
  Result<std::optional<nlohmann::json>> value(const std::string& key);
  Result<Totals> totals();

  struct Impl;

 private:
  explicit Archive(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Read-only view for inspection (the CLI) and for other threads or processes while a run writes.
// Not thread-safe: one reader per thread. Each method reads one consistent snapshot.
class ArchiveReader {
 public:
  static Result<std::unique_ptr<ArchiveReader>> open(const std::string& path,
                                                     const ArchiveOptions& options = {});
  ~ArchiveReader();
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;

  const ArchiveConfig& config() const;
  Result<StatusReport> status_report();
  Result<std::vector<ProgramSummary>> top(const TopQuery& query);
  Result<Program> program(ProgramId id);  // NotFound naming the id
  // The latest children of `parent`, newest first.
  Result<std::vector<ProgramSummary>> children(ProgramId parent, int limit);
  Result<LlmCall> llm_call(LlmCallId id);
  Result<std::vector<LlmOutcomeCount>> llm_outcomes();
  // `id` first, then its parent, back to the seed.
  Result<std::vector<ProgramSummary>> lineage(ProgramId id);
  // The latest `limit` events of `kind` ("" = every kind), oldest first.
  Result<std::vector<Event>> events(const std::string& kind, int limit);
  Result<int64_t> count_events(const std::string& kind);

  // Methods (seeds) in seed order with their counts and best program. Reads the parent links
  // and statuses from indexes only: tens of milliseconds at 100,000 programs.
  Result<std::vector<MethodSummary>> methods();
  // The method name of each of `ids` (unknown ids are left out).
  Result<std::map<ProgramId, std::string>> methods_of(const std::vector<ProgramId>& ids);
  Result<RunActivity> activity();

  struct Impl;

 private:
  explicit ArchiveReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kevo
