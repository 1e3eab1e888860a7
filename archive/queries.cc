// Read queries shared by Archive and ArchiveReader. They run inside the caller's transaction.
#include <algorithm>
#include <set>

#include "archive/internal.h"

namespace kevo::archive_internal {

using nlohmann::json;

namespace {

json object_or_empty(json j) { return j.is_object() ? j : json::object(); }

}  // namespace

Result<Program> read_program(sql::Db& db, ProgramId id) {
  KEVO_ASSIGN_OR_RETURN(
      auto st, db.prepare("SELECT id, hash, source, params, parent_id, island, generation, origin, "
                          "llm_call_id, status, message, fitness, cell, metrics, result, holdout, "
                          "compile_log, feedback, created_at, evaluated_at FROM programs "
                          "WHERE id = ?1"));
  st.bind(1, id);
  KEVO_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return Status::NotFound("no program #" + std::to_string(id) + " in the archive");
  Program p;
  p.id = st.int64(0);
  p.hash = st.text(1);
  p.source = st.text(2);
  p.params = integer_params(st.text(3));
  p.parent = st.opt_int64(4);
  p.island = static_cast<int>(st.int64(5));
  p.generation = static_cast<int>(st.int64(6));
  p.origin = st.text(7);
  p.llm_call = st.opt_int64(8);
  p.status = st.text(9);
  p.message = st.text(10);
  p.fitness = st.opt_real(11);
  p.cell = st.text(12);
  p.metrics = object_or_empty(parse_json(st.text(13)));
  p.result = parse_json(st.text(14));
  p.holdout = parse_json(st.text(15));
  p.compile_log = st.text(16);
  p.feedback = st.text(17);
  p.created_at = st.real(18);
  p.evaluated_at = st.opt_real(19);
  return p;
}

Result<std::vector<ProgramSummary>> read_summaries(sql::Stmt& st) {
  std::vector<ProgramSummary> out;
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return out;
    ProgramSummary s;
    s.id = st.int64(0);
    s.status = st.text(1);
    s.fitness = st.opt_real(2);
    s.island = static_cast<int>(st.int64(3));
    s.generation = static_cast<int>(st.int64(4));
    s.cell = st.text(5);
    s.origin = st.text(6);
    s.parent = st.opt_int64(7);
    s.metrics = object_or_empty(parse_json(st.text(8)));
    s.created_at = st.real(9);
    s.message = st.text(10);
    out.push_back(std::move(s));
  }
}

Result<std::vector<ProgramSummary>> read_children(sql::Db& db, ProgramId parent, int limit) {
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare(std::string("SELECT ") + kSummaryCols +
                                            " FROM programs WHERE parent_id = ?1 "
                                            "ORDER BY id DESC LIMIT ?2"));
  st.bind(1, parent).bind(2, limit);
  return read_summaries(st);
}

Result<std::vector<Elite>> read_elites(sql::Db& db, std::optional<int> island) {
  // Ordered by island then cell key: a stable order that selection's PRNG draws index into.
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("SELECT island, cell, program_id, fitness FROM cells "
                                            "WHERE island = ?1 OR ?1 IS NULL "
                                            "ORDER BY island, cell"));
  st.bind(1, island);
  std::vector<Elite> out;
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return out;
    out.push_back({static_cast<int>(st.int64(0)), st.text(1), st.int64(2), st.real(3)});
  }
}

Result<Totals> read_totals(sql::Db& db, bool count_by_scan) {
  Totals t;
  KEVO_ASSIGN_OR_RETURN(t.evaluations, kv_int(db, kKeyEvaluations));
  // Per-status counters (kept with every status change), a short range of the kv key index.
  KEVO_ASSIGN_OR_RETURN(auto st,
                        db.prepare(count_by_scan ? "SELECT status, count(*) FROM programs "
                                                   "WHERE ?1 IS NOT NULL OR ?2 IS NOT NULL OR "
                                                   "?3 IS NOT NULL GROUP BY status ORDER BY status"
                                                 : "SELECT substr(key, ?1), value FROM kv "
                                                   "WHERE key > ?2 AND key < ?3 ORDER BY key"));
  const std::string prefix = kKeyCountPrefix;
  st.bind(1, static_cast<int64_t>(prefix.size() + 1))
      .bind(2, prefix)
      .bind(3, prefix.substr(0, prefix.size() - 1) + "/");  // '/' sorts right after '.'
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    if (st.text(0) == kPending) {
      t.pending = st.int64(1);
    } else if (st.int64(1) != 0) {
      t.by_status[st.text(0)] = st.int64(1);
    }
  }
  KEVO_ASSIGN_OR_RETURN(t.llm_calls, kv_int(db, kKeyLlmCalls));
  KEVO_ASSIGN_OR_RETURN(t.llm_failed, kv_int(db, kKeyLlmFailed));
  KEVO_ASSIGN_OR_RETURN(t.tokens_in, kv_int(db, kKeyTokensIn));
  KEVO_ASSIGN_OR_RETURN(t.tokens_out, kv_int(db, kKeyTokensOut));
  KEVO_ASSIGN_OR_RETURN(t.cost_usd, kv_real(db, kKeyCost));
  KEVO_ASSIGN_OR_RETURN(auto best, db.prepare("SELECT island, cell, program_id, fitness FROM cells "
                                              "ORDER BY fitness DESC, program_id, island "
                                              "LIMIT 1"));
  KEVO_ASSIGN_OR_RETURN(bool row, best.step());
  if (row) {
    t.best = Elite{static_cast<int>(best.int64(0)), best.text(1), best.int64(2), best.real(3)};
  }
  return t;
}

namespace {

// Whether llm_calls has schema v4's columns. A PostgreSQL archive was made at v5 or later.
bool has_v4_call_columns(sql::Db& db) {
  if (db.postgres()) return true;
  auto v4 = db.query_int("SELECT count(*) FROM pragma_table_info('llm_calls') WHERE name = 'outcome'");
  return v4.ok() && *v4 > 0;
}

// The call columns; an archive from before schema v4 (read as it is: readers never upgrade)
// has no tag, parent, attempt, outcome or child, which then read as empty.
std::string call_cols(sql::Db& db) {
  const bool has = has_v4_call_columns(db);
  return std::string("id, model, provider, tokens_in, tokens_out, cost_usd, latency_s, status, "
                     "error, created_at, ") +
         (has ? "tag, parent_id, attempt, outcome, child_id" : "'', NULL, 1, '', NULL");
}

LlmCall call_from_row(sql::Stmt& st) {
  LlmCall c;
  c.id = st.int64(0);
  c.model = st.text(1);
  c.provider = st.text(2);
  c.tokens_in = st.int64(3);
  c.tokens_out = st.int64(4);
  c.cost_usd = st.real(5);
  c.latency_s = st.real(6);
  c.status = st.text(7);
  c.error = st.text(8);
  c.created_at = st.real(9);
  c.tag = st.text(10);
  c.parent = st.opt_int64(11);
  c.attempt = static_cast<int>(st.int64(12));
  c.outcome = st.text(13);
  c.child = st.opt_int64(14);
  return c;
}

}  // namespace

Result<LlmCall> read_llm_call(sql::Db& db, LlmCallId id) {
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("SELECT " + call_cols(db) +
                                            ", prompt, response FROM llm_calls WHERE id = ?1"));
  st.bind(1, id);
  KEVO_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return Status::NotFound("no LLM call #" + std::to_string(id) + " in the archive");
  LlmCall c = call_from_row(st);
  c.prompt = st.text(15);
  c.response = st.text(16);
  return c;
}

Result<std::vector<LlmOutcomeCount>> read_llm_outcomes(sql::Db& db) {
  // v4 files: only the (model, outcome, tokens, cost) index is read, fast on a large call table.
  // Older files stored no outcomes: they are derived as `kevo calls` derives each row's (a
  // failed request; a program naming the call; an edit_rejected event naming it; else no child),
  // so status and calls agree. Each side is read once and joined, not probed per call.
  const bool stored = has_v4_call_columns(db);  // always so on PostgreSQL (made at v5)
  const std::string outcome =
      stored ? "outcome"
             : "CASE WHEN c.status != 'ok' THEN 'request_failed' WHEN made.id IS NOT NULL THEN "
               "'child' WHEN rejected.id IS NOT NULL THEN 'rejected' ELSE 'no_child' END";
  const std::string from =
      stored ? "llm_calls c"
             : "llm_calls c LEFT JOIN (SELECT DISTINCT llm_call_id AS id FROM programs WHERE "
               "llm_call_id IS NOT NULL) made ON made.id = c.id LEFT JOIN (SELECT DISTINCT "
               "json_extract(message, '$.llm_call') AS id FROM events WHERE kind = "
               "'edit_rejected' AND json_valid(message)) rejected ON rejected.id = c.id";
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("SELECT c.model, " + outcome + " AS o, count(*), "
                                            "sum(c.tokens_in), sum(c.tokens_out), "
                                            "sum(c.cost_usd) FROM " + from +
                                            " GROUP BY c.model, o ORDER BY c.model, o"));
  std::vector<LlmOutcomeCount> out;
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    out.push_back({st.text(0), st.text(1), st.int64(2), st.int64(3), st.int64(4), st.real(5)});
  }
  return out;
}

Result<std::vector<ProgramSummary>> read_top(sql::Db& db, const TopQuery& q) {
  if (q.status) {
    // Failed programs have no fitness, so within one status the (status, fitness DESC, id) index
    // holds them in id order: "ORDER BY fitness, id DESC" is that index read backwards, no sort.
    // (ok programs have a fitness: for them newest first needs a sort.)
    std::string sql = std::string("SELECT ") + kSummaryCols + " FROM programs WHERE status = ?2" +
                      (q.island ? " AND island = ?3" : "") +
                      (*q.status == "ok" ? " ORDER BY id DESC" : " ORDER BY fitness NULLS FIRST, id DESC") +
                      " LIMIT ?1";
    KEVO_ASSIGN_OR_RETURN(auto st, db.prepare(sql));
    std::vector<std::string> statuses = {*q.status};
    if (*q.status == "failed") {
      // Every failure status: one indexed read each, merged newest first.
      statuses.clear();
      KEVO_ASSIGN_OR_RETURN(auto names, db.prepare("SELECT DISTINCT status FROM programs"));
      while (true) {
        KEVO_ASSIGN_OR_RETURN(bool row, names.step());
        if (!row) break;
        std::string s = names.text(0);
        if (s != "ok" && s != kPending) statuses.push_back(s);
      }
    }
    std::vector<ProgramSummary> out;
    for (const auto& status : statuses) {
      KEVO_RETURN_IF_ERROR(st.reset());
      st.bind(1, q.limit).bind(2, status);
      if (q.island) st.bind(3, *q.island);
      KEVO_ASSIGN_OR_RETURN(auto rows, read_summaries(st));
      for (auto& r : rows) out.push_back(std::move(r));
    }
    std::sort(out.begin(), out.end(),
              [](const ProgramSummary& a, const ProgramSummary& b) { return a.id > b.id; });
    if (static_cast<int>(out.size()) > q.limit) out.resize(static_cast<size_t>(q.limit));
    return out;
  }
  if (!q.per_cell) {
    // Both forms read only the (status, [island,] fitness DESC, id) indexes.
    std::string sql = std::string("SELECT ") + kSummaryCols + " FROM programs WHERE status = 'ok'" +
                      (q.island ? " AND island = ?2" : "") + " ORDER BY fitness DESC NULLS LAST, id LIMIT ?1";
    KEVO_ASSIGN_OR_RETURN(auto st, db.prepare(sql));
    st.bind(1, q.limit);
    if (q.island) st.bind(2, *q.island);
    return read_summaries(st);
  }
  // One row per cell: the island's grid, or across islands the best elite of each cell.
  std::string cols;
  for (const char* c : {"p.id", "p.status", "c.fitness", "p.island", "p.generation", "c.cell",
                        "p.origin", "p.parent_id", "p.metrics", "p.created_at", "p.message"}) {
    cols += (cols.empty() ? "" : ", ") + std::string(c);
  }
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("SELECT " + cols +
                                            " FROM cells c JOIN programs p ON p.id = c.program_id"
                                            " WHERE c.island = ?1 OR ?1 IS NULL"
                                            " ORDER BY c.fitness DESC, p.id, c.island"));
  st.bind(1, q.island);
  KEVO_ASSIGN_OR_RETURN(auto rows, read_summaries(st));
  std::vector<ProgramSummary> out;
  std::set<std::string> seen;
  for (auto& r : rows) {
    if (static_cast<int>(out.size()) >= q.limit) break;
    if (seen.insert(r.cell).second) out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<ProgramSummary>> read_lineage(sql::Db& db, ProgramId id) {
  std::vector<ProgramSummary> out;
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare(std::string("SELECT ") + kSummaryCols +
                                            " FROM programs WHERE id = ?1"));
  std::optional<ProgramId> next = id;
  std::set<ProgramId> seen;
  while (next) {
    if (!seen.insert(*next).second) {
      return Status::Internal("archive: lineage of #" + std::to_string(id) + " has a cycle");
    }
    KEVO_RETURN_IF_ERROR(st.reset());
    st.bind(1, *next);
    KEVO_ASSIGN_OR_RETURN(auto rows, read_summaries(st));
    if (rows.empty()) {
      if (out.empty()) return Status::NotFound("no program #" + std::to_string(id) + " in the archive");
      return Status::Internal("archive: program #" + std::to_string(out.back().id) +
                              " names a missing parent #" + std::to_string(*next));
    }
    out.push_back(std::move(rows[0]));
    next = out.back().parent;
  }
  return out;
}

Result<std::vector<Event>> read_events(sql::Db& db, const std::string& kind, int limit) {
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare(kind.empty() ? "SELECT id, time, kind, message FROM "
                                                            "events WHERE ?1 = '' ORDER BY id "
                                                            "DESC LIMIT ?2"
                                                          : "SELECT id, time, kind, message FROM "
                                                            "events WHERE kind = ?1 ORDER BY id "
                                                            "DESC LIMIT ?2"));
  st.bind(1, kind).bind(2, limit);
  std::vector<Event> out;
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    out.push_back({st.int64(0), st.real(1), st.text(2), parse_json(st.text(3))});
  }
  std::reverse(out.begin(), out.end());  // chronological
  return out;
}

}  // namespace kevo::archive_internal
