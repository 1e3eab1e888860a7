// Private to the archive: the state behind Archive and ArchiveReader, and the row-level helpers
// both use. Every function here runs on the caller's connection and inside the caller's
// transaction (or SQLite's implicit one); none takes a lock.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "archive/archive.h"
#include "archive/sql.h"

namespace kevo::archive_internal {

double now_unix();

// JSON text for storage; invalid UTF-8 (an LLM reply, a compile log) is replaced, not thrown on.
std::string dump_json(const nlohmann::json& j);
// Parsed JSON of a stored column; null for NULL or unparsable text.
nlohmann::json parse_json(const std::string& text);
// A program's params column (a JSON object) as the integer params a candidate takes; {} when it
// is not an object, non-integer values left out.
std::map<std::string, int64_t> integer_params(const std::string& json_text);

nlohmann::json config_to_json(const ArchiveConfig& c);
Result<ArchiveConfig> config_from_json(const std::string& text);
// InvalidArgument naming what is wrong for a grid (no feature axis, islands < 1, ...).
Status validate_config(const ArchiveConfig& c);

// The run row of this file (a file holds one run) and its id.
Result<std::pair<int64_t, RunInfo>> read_run(sql::Db& db);
Result<ArchiveConfig> read_archive_config(sql::Db& db);

// kv table. The archive's own keys start with "archive."; the caller's counters with
// "counter." and its JSON values with "value.".
Result<std::optional<std::string>> kv_text(sql::Db& db, const std::string& key);
Result<int64_t> kv_int(sql::Db& db, const std::string& key);  // 0 when absent
Result<double> kv_real(sql::Db& db, const std::string& key);  // 0 when absent
Status kv_set(sql::Db& db, const std::string& key, int64_t v);
Status kv_set(sql::Db& db, const std::string& key, double v);
Status kv_set(sql::Db& db, const std::string& key, std::string_view v);
Result<int64_t> kv_add(sql::Db& db, const std::string& key, int64_t delta);

inline constexpr const char* kKeyRng = "archive.rng";
inline constexpr const char* kKeyEvaluations = "archive.evaluations";
inline constexpr const char* kKeyNextIsland = "archive.next_island";
inline constexpr const char* kKeyLlmCalls = "archive.llm_calls";
inline constexpr const char* kKeyLlmFailed = "archive.llm_failed";
inline constexpr const char* kKeyTokensIn = "archive.tokens_in";
inline constexpr const char* kKeyTokensOut = "archive.tokens_out";
inline constexpr const char* kKeyCost = "archive.cost_usd";
// "archive.count.<status>": programs with that status ("pending" included).
inline constexpr const char* kKeyCountPrefix = "archive.count.";
inline std::string count_key(const std::string& status) { return kKeyCountPrefix + status; }

// The id an INSERT ... RETURNING id gave back (steps the statement to its end).
Result<int64_t> returned_id(sql::Stmt& st);

Status insert_event(sql::Db& db, const std::string& kind, const nlohmann::json& message);

// Whether a process holds a PostgreSQL archive for writing (the writer's advisory lock).
Result<bool> postgres_writer_active(sql::Db& db);

// Reads (queries.cc).
Result<Program> read_program(sql::Db& db, ProgramId id);  // NotFound naming the id
Result<std::vector<ProgramSummary>> read_summaries(sql::Stmt& st);  // rows of kSummaryCols
inline constexpr const char* kSummaryCols =
    "id, status, fitness, island, generation, cell, origin, parent_id, metrics, created_at, "
    "message";
Result<std::vector<ProgramSummary>> read_children(sql::Db& db, ProgramId parent, int limit);
Result<std::vector<Elite>> read_elites(sql::Db& db, std::optional<int> island);
// `count_by_scan`: count programs per status with a scan (files older than schema 3 have no
// per-status counters).
Result<Totals> read_totals(sql::Db& db, bool count_by_scan = false);
Result<LlmCall> read_llm_call(sql::Db& db, LlmCallId id);
Result<std::vector<LlmOutcomeCount>> read_llm_outcomes(sql::Db& db);
Result<std::vector<ProgramSummary>> read_top(sql::Db& db, const TopQuery& q);
Result<std::vector<ProgramSummary>> read_lineage(sql::Db& db, ProgramId id);
Result<std::vector<Event>> read_events(sql::Db& db, const std::string& kind, int limit);

// Methods (methods.cc): each program's generation-0 ancestor, and the names of the seeds.
struct MethodMap {
  std::map<ProgramId, std::string> names;           // seed id -> method name, in id order
  std::vector<std::pair<ProgramId, ProgramId>> of;  // (program id, seed id), sorted by id
  ProgramId seed_of(ProgramId id) const;            // 0 when unknown
};
Result<MethodMap> read_method_map(sql::Db& db);
Result<std::vector<MethodSummary>> read_methods(sql::Db& db);
Result<RunActivity> read_activity(sql::Db& db, const RunInfo& run, bool writer_active);

// Ring migration (selection.cc): each island's best `migration_count` elites try the next
// island's grid (same program ids), under the usual rule. Records a "migration" event.
Status migrate_ring(sql::Db& db, const ArchiveConfig& config);

// Places program `id` (fitness, cell) on `island` if its cell is empty or held by strictly lower
// fitness. Returns whether it was placed.
Result<bool> offer_to_cell(sql::Db& db, int island, const std::string& cell, ProgramId id,
                           double fitness);

}  // namespace kevo::archive_internal

namespace kevo {

struct Archive::Impl {
  ~Impl();
  std::mutex mu;  // guards db and everything below it
  sql::Db db;
  std::string path;
  ArchiveConfig config;
  int64_t run_id = 0;
  int lock_fd = -1;  // flock on "<path>-lock": one writing process per run
};

struct ArchiveReader::Impl {
  sql::Db db;
  ArchiveConfig config;
  int schema_version = 0;  // as found: readers do not upgrade files
  bool writer_active = false;  // a process held the run for writing when the reader opened
};

}  // namespace kevo
