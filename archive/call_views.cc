// RunViews: LLM calls as a listing, one call, and every call for the report. Reads the v4 columns
// (tag, parent_id, outcome, child_id) when the file has them; otherwise derives the outcome.
#include <algorithm>
#include <iterator>
#include <map>

#include "archive/internal.h"
#include "archive/run_views_internal.h"

namespace kevo {

using namespace archive_internal;
using sql::Txn;

namespace {

std::string column_or(const std::set<std::string>& cols, const std::string& name,
                      const std::string& fallback) {
  return cols.count(name) ? name : fallback;
}

// The listing's columns: small ones only (prompt and reply stay on their overflow pages).
std::string row_select(const std::set<std::string>& c) {
  return "SELECT id, created_at, model, provider, tokens_in, tokens_out, cost_usd, latency_s, "
         "status, substr(error, 1, 300), " +
         column_or(c, "tag", "''") + ", " + column_or(c, "parent_id", "NULL") + ", " +
         column_or(c, "outcome", "''") + ", " + column_or(c, "child_id", "NULL") +
         " FROM llm_calls ";
}

LlmCallRow read_row(const sql::Stmt& st) {
  LlmCallRow r;
  r.id = st.int64(0);
  r.created_at = st.real(1);
  r.model = st.text(2);
  r.provider = st.text(3);
  r.tokens_in = st.int64(4);
  r.tokens_out = st.int64(5);
  r.cost_usd = st.real(6);
  r.latency_s = st.real(7);
  r.status = st.text(8);
  r.error = st.text(9);
  r.tag = st.text(10);
  r.parent = st.opt_int64(11);
  r.outcome = st.text(12);
  r.child = st.opt_int64(13);
  return r;
}

Result<std::vector<LlmCallRow>> read_rows(sql::Stmt& st) {
  std::vector<LlmCallRow> out;
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return out;
    out.push_back(read_row(st));
  }
}

// Clock steps the time bounds below tolerate (rows are stamped with the wall clock).
constexpr double kClockSlack_s = 300;

// The first id of `table` whose `time_col` is >= t, by binary search over the rowid: rows are
// inserted in time order (give or take kClockSlack_s, which callers subtract). 1 if none earlier.
Result<int64_t> first_id_at(sql::Db& db, const std::string& table, const std::string& time_col,
                            double t) {
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("SELECT id, " + time_col + " FROM " + table +
                                            " WHERE id >= ?1 ORDER BY id LIMIT 1"));
  KEVO_ASSIGN_OR_RETURN(int64_t hi, db.query_int("SELECT coalesce(max(id), 0) + 1 FROM " + table));
  int64_t lo = 1;  // invariant: every row below lo is before t; the answer is in [lo, hi]
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    KEVO_RETURN_IF_ERROR(st.reset());
    st.bind(1, mid);
    KEVO_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) {
      hi = mid;
      continue;
    }
    if (st.real(1) >= t) {
      hi = mid;
    } else {
      lo = st.int64(0) + 1;
    }
  }
  return lo;
}

// Child status for stored child ids; for files without the v4 columns, the child (a program
// naming the call), the rejection (an edit_rejected event naming it) and the derived outcome.
// `rows` may be in any order; `known_child`, when given, is the program that names the one row
// (the program page knows it). Before v4 programs.llm_call_id has no index: programs made by the
// calls are looked for from the first one created after the earliest call (a program names a
// call recorded before it), so recent calls cost a short scan and the oldest a whole one.
Status complete_rows_of_kind(sql::Db& db, bool stored, std::vector<LlmCallRow>& rows,
                            std::optional<std::pair<ProgramId, std::string>> known_child = {}) {
  if (rows.empty()) return Status::Ok();
  auto [lo_it, hi_it] = std::minmax_element(
      rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  const LlmCallId lo = lo_it->id, hi = hi_it->id;
  const double since = lo_it->created_at - kClockSlack_s;
  KEVO_ASSIGN_OR_RETURN(auto status_of, db.prepare("SELECT status FROM programs WHERE id = ?1"));
  if (stored) {
    for (LlmCallRow& r : rows) {
      if (!r.child) continue;
      KEVO_RETURN_IF_ERROR(status_of.reset());
      status_of.bind(1, *r.child);
      KEVO_ASSIGN_OR_RETURN(bool row, status_of.step());
      if (row) r.child_status = status_of.text(0);
    }
    return Status::Ok();
  }
  if (known_child && rows.size() == 1) {
    rows[0].outcome_derived = true;
    rows[0].child = known_child->first;
    rows[0].child_status = known_child->second;
    rows[0].outcome = rows[0].status != "ok" ? "request_failed" : "child";
    return Status::Ok();
  }
  std::map<LlmCallId, std::pair<ProgramId, std::string>> child;
  KEVO_ASSIGN_OR_RETURN(int64_t first_program, first_id_at(db, "programs", "created_at", since));
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("SELECT llm_call_id, id, status FROM programs WHERE "
                                            "id >= ?3 AND llm_call_id BETWEEN ?1 AND ?2 "
                                            "ORDER BY id"));
  st.bind(1, lo).bind(2, hi).bind(3, first_program);
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    child.emplace(st.int64(0), std::make_pair(st.int64(1), st.text(2)));  // the first one
  }
  std::map<LlmCallId, std::string> rejected;
  // Rejections come after their call too; events_by_kind (kind, id) bounds the scan.
  KEVO_ASSIGN_OR_RETURN(int64_t first_event, first_id_at(db, "events", "time", since));
  KEVO_ASSIGN_OR_RETURN(auto ev, db.prepare("SELECT message FROM events WHERE kind = "
                                            "'edit_rejected' AND id >= ?1"));
  ev.bind(1, first_event);
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool row, ev.step());
    if (!row) break;
    nlohmann::json m = parse_json(ev.text(0));
    if (!m.is_object() || !m.contains("llm_call") || !m["llm_call"].is_number_integer()) continue;
    LlmCallId id = m["llm_call"].get<LlmCallId>();
    if (id < lo || id > hi) continue;
    rejected[id] = m.contains("message") && m["message"].is_string()
                       ? m["message"].get<std::string>().substr(0, 600)
                       : std::string("rejected");
  }
  for (LlmCallRow& r : rows) {
    r.outcome_derived = true;
    if (auto c = child.find(r.id); c != child.end()) {
      r.child = c->second.first;
      r.child_status = c->second.second;
    }
    if (auto j = rejected.find(r.id); j != rejected.end()) r.rejection = j->second;
    r.outcome = r.status != "ok"       ? "request_failed"
                : r.child              ? "child"
                : !r.rejection.empty() ? "rejected"
                                       : "no_child";
  }
  return Status::Ok();
}

// Rows with a stored outcome are read as they are; rows without one (a file before v4, or a call
// the loop never judged: recorded by a kevo that did not set outcomes, or a crash mid-reply) get
// the derived outcome.
Status complete_rows(sql::Db& db, bool stored, std::vector<LlmCallRow>& rows,
                     std::optional<std::pair<ProgramId, std::string>> known_child = {}) {
  if (!stored) return complete_rows_of_kind(db, false, rows, known_child);
  const bool ascending = rows.size() < 2 || rows.front().id < rows.back().id;
  std::vector<LlmCallRow> judged, unjudged;
  for (auto& r : rows) (r.outcome.empty() ? unjudged : judged).push_back(std::move(r));
  KEVO_RETURN_IF_ERROR(complete_rows_of_kind(db, true, judged, known_child));
  KEVO_RETURN_IF_ERROR(complete_rows_of_kind(db, false, unjudged, known_child));
  rows = std::move(judged);
  rows.insert(rows.end(), std::make_move_iterator(unjudged.begin()),
              std::make_move_iterator(unjudged.end()));
  std::sort(rows.begin(), rows.end(), [&](const auto& a, const auto& b) {
    return ascending ? a.id < b.id : a.id > b.id;
  });
  return Status::Ok();
}

}  // namespace

Result<LlmCallPage> RunViews::llm_calls(const LlmCallQuery& q) {
  sql::Db& db = impl_->db;
  const bool stored = has_call_outcomes();
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kRead));
  KEVO_ASSIGN_OR_RETURN(int64_t max_id, db.query_int("SELECT coalesce(max(id), 0) FROM llm_calls"));
  const int64_t before = q.before ? std::min(*q.before, max_id + 1) : max_id + 1;
  // Call ids are dense (calls are never deleted), so an id window bounds the rows scanned.
  const int64_t floor = std::max<int64_t>(1, before - std::max(1, q.max_scan));
  std::string sql = row_select(impl_->call_columns) +
                    "WHERE id < ?1 AND id >= ?2 AND (?3 = '' OR status = ?3) AND (?5 = '' OR "
                    "model = ?5)" +
                    (stored ? " AND (?4 = '' OR outcome IN (?4, '')) AND (parent_id = ?6 "
                              "OR ?6 IS NULL)"
                            : "") +
                    " ORDER BY id DESC";
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare(sql));
  st.bind(1, before).bind(2, floor).bind(3, q.status).bind(5, q.model);
  if (stored) st.bind(4, q.outcome).bind(6, q.parent);
  KEVO_ASSIGN_OR_RETURN(auto rows, read_rows(st));
  LlmCallPage page;
  page.scanned = std::max<int64_t>(0, before - floor);
  // A stored outcome filters in SQL; rows without one are derived first, then filtered.
  const bool filter_after = !q.outcome.empty();
  if (filter_after) {
    KEVO_RETURN_IF_ERROR(complete_rows(db, stored, rows));
    std::erase_if(rows, [&](const LlmCallRow& r) { return r.outcome != q.outcome; });
  }
  const size_t limit = static_cast<size_t>(std::max(1, q.limit));
  const bool more = rows.size() > limit;
  if (more) rows.resize(limit);
  if (!filter_after) KEVO_RETURN_IF_ERROR(complete_rows(db, stored, rows));
  if (more) {
    page.next_before = rows.back().id;
  } else if (floor > 1) {
    page.next_before = floor;
  }
  page.rows = std::move(rows);
  return page;
}

Result<LlmCallDetail> RunViews::llm_call(LlmCallId id, std::optional<ProgramId> child) {
  sql::Db& db = impl_->db;
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kRead));
  LlmCallDetail d;
  KEVO_ASSIGN_OR_RETURN(d.call, read_llm_call(db, id));
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare(row_select(impl_->call_columns) + "WHERE id = ?1"));
  st.bind(1, id);
  KEVO_ASSIGN_OR_RETURN(auto rows, read_rows(st));
  if (rows.empty()) {
    return Status::NotFound("no LLM call #" + std::to_string(id) + " in the archive");
  }
  std::optional<std::pair<ProgramId, std::string>> known;
  if (child) {
    KEVO_ASSIGN_OR_RETURN(auto named, db.prepare("SELECT status FROM programs WHERE id = ?1 AND "
                                                 "llm_call_id = ?2"));
    named.bind(1, *child).bind(2, id);
    KEVO_ASSIGN_OR_RETURN(bool row, named.step());
    if (row) known = std::make_pair(*child, named.text(0));
  }
  KEVO_RETURN_IF_ERROR(complete_rows(db, has_call_outcomes(), rows, known));
  d.row = std::move(rows[0]);
  return d;
}

Result<std::vector<LlmCallRow>> RunViews::all_llm_calls() {
  sql::Db& db = impl_->db;
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kRead));
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare(row_select(impl_->call_columns) + "ORDER BY id"));
  KEVO_ASSIGN_OR_RETURN(auto rows, read_rows(st));
  KEVO_RETURN_IF_ERROR(complete_rows(db, has_call_outcomes(), rows));
  return rows;
}

}  // namespace kevo
