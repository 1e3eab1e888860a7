// Read-only views of a run for `kevo serve` (the web view) and `kevo report` (figures): every
// evaluation as a point, the methods (a seed and everything descended from it), the evaluation
// rate, and LLM calls with what they made. Page-sized queries read only the archive's indexes or a
// bounded number of rows, so each answers in well under a second at 100,000 programs
// (bench/archive_bench --views); the report's whole-run reads are marked as such.
//
// The LLM loop (schema v4) adds `tag`, `parent_id`, `outcome` and `child_id` to llm_calls. These
// views read them when the file has them (PRAGMA table_info, checked at open) and otherwise derive
// what they can: outcome "request_failed" for a failed call, "child" when a program names the call,
// "rejected" when an edit_rejected event does, else "no_child".
//
// Not thread-safe: one RunViews per thread, like ArchiveReader. Each method reads one snapshot.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "archive/archive.h"

namespace kevo {

// One evaluated program (pending ones are not points).
struct EvalPoint {
  ProgramId id = 0;
  std::optional<ProgramId> parent;
  ProgramId root = 0;  // the seed (or other parentless program) it descends from
  int island = 0;
  std::string status;
  std::optional<double> fitness;  // ok programs only
};

// A seed and its descendants.
struct Method {
  ProgramId seed = 0;
  std::string name;  // the seed's name as the run was given it ("hash_topk"), else "seed #ID"
  std::string seed_status;
  int64_t evaluated = 0;  // programs of this lineage with a result, the seed included
  int64_t ok = 0;
  std::optional<ProgramId> best;  // the fittest ok program of the lineage
  std::optional<double> best_fitness;
  std::optional<double> seed_fitness;
};

struct EvalRate {
  double window_s = 0;         // the window the recent rate is over (shorter for a young run)
  int64_t in_window = 0;       // evaluations finished in it
  double recent_per_min = 0;   // in_window per minute of the window
  double overall_per_min = 0;  // all evaluations over the time from the run's start to the last
  std::optional<double> last_evaluated_at;
};

// A row of the LLM call listing: no prompt or reply.
struct LlmCallRow {
  LlmCallId id = 0;
  double created_at = 0;
  std::string model;
  std::string provider;
  int64_t tokens_in = 0;
  int64_t tokens_out = 0;
  double cost_usd = 0;
  double latency_s = 0;
  std::string status;
  std::string error;    // the first 300 characters
  std::string tag;      // schema v4 only ("" before)
  std::string outcome;  // the stored outcome (v4), else derived (see the top of this file)
  bool outcome_derived = false;
  std::optional<ProgramId> parent;  // v4: the program the call asked about
  std::optional<ProgramId> child;   // the program its reply made
  std::string child_status;         // "" without a child
  std::string rejection;            // the edit_rejected event's message, when there is one
};

struct LlmCallQuery {
  std::string status;               // "" = every status
  std::string outcome;              // "" = every outcome (stored or derived)
  std::string model;                // "" = every model
  std::optional<ProgramId> parent;  // only calls about this program (schema v4)
  std::optional<LlmCallId> before;  // newest first, ids below this (keyset pagination)
  int limit = 50;
  // Rows examined at most for one page, so a rare filter on a large run stays fast; the page then
  // holds fewer rows and `next_before` continues the scan.
  int max_scan = 5000;
};

struct LlmCallPage {
  std::vector<LlmCallRow> rows;
  std::optional<LlmCallId> next_before;  // none when the scan reached the first call
  int64_t scanned = 0;
};

struct LlmCallDetail {
  LlmCall call;
  LlmCallRow row;
};

// What the report plots for one ok program: its fitness and its error.
struct ProgramMetrics {
  ProgramId id = 0;
  ProgramId root = 0;
  double fitness = 0;
  std::optional<double> error;  // the error metric asked for, when the result has it
};

class RunViews {
 public:
  // Opens `path` read-only (ArchiveReader's checks: a missing, foreign or corrupt file is an
  // error naming the path).
  static Result<std::unique_ptr<RunViews>> open(const std::string& path,
                                                const ArchiveOptions& options = {});
  ~RunViews();
  RunViews(const RunViews&) = delete;
  RunViews& operator=(const RunViews&) = delete;

  ArchiveReader& reader();  // the ordinary reads (status report, program, lineage, events)
  const std::string& path() const;
  // Whether llm_calls has the v4 columns (tag, parent_id, outcome, child_id).
  bool has_call_outcomes() const;

  // Every evaluated program in id order, with its lineage's root. Reads two indexes only.
  Result<std::vector<EvalPoint>> points();
  // Points with id > after, in id order, roots included, for a live view: it keeps its points up
  // to `after`, appends these, and asks next from `next_after`. Evaluations finish out of id
  // order (several in flight), so next_after stays below the first program still pending and
  // may be below `after`: the view then drops its points past it and takes them again.
  struct PointsPage {
    std::vector<EvalPoint> points;
    ProgramId next_after = 0;
  };
  Result<PointsPage> points_after(ProgramId after);
  // One entry per parentless program (seed), in id order.
  Result<std::vector<Method>> methods();
  // Evaluations finished in [now - window_s, now] (now: the current time for a live run, its last
  // update for a stopped one), from a bounded sample of the latest programs.
  Result<EvalRate> rate(double window_s, double now);
  // The latest children of `id`, newest first.
  Result<std::vector<ProgramSummary>> children(ProgramId id, int limit);

  Result<LlmCallPage> llm_calls(const LlmCallQuery& query);
  // NotFound naming the id. `child`: a program known to name this call (the program page), which
  // saves looking for it in archives without the v4 columns.
  Result<LlmCallDetail> llm_call(LlmCallId id, std::optional<ProgramId> child = std::nullopt);

  // Whole-run reads for the report (they read every ok program's row: seconds at 100,000).
  Result<std::vector<ProgramMetrics>> ok_metrics(const std::string& error_metric);
  // Every LLM call (oldest first) with its outcome.
  Result<std::vector<LlmCallRow>> all_llm_calls();

  struct Impl;

 private:
  explicit RunViews(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kevo
