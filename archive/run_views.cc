// RunViews: points, methods and the evaluation rate. The LLM call views are in call_views.cc.
#include "archive/run_views.h"

#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "archive/internal.h"
#include "archive/run_views_internal.h"

namespace kevo {

using namespace archive_internal;
using sql::Txn;

RunViews::RunViews(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RunViews::~RunViews() = default;

Result<std::unique_ptr<RunViews>> RunViews::open(const std::string& path,
                                                 const ArchiveOptions& options) {
  auto impl = std::make_unique<Impl>();
  // The reader checks the file (exists, is a kevo archive, schema known) before we query it.
  KEVO_ASSIGN_OR_RETURN(impl->reader, ArchiveReader::open(path, options));
  if (sql::is_postgres_url(path)) {
    KEVO_ASSIGN_OR_RETURN(impl->db, sql::Db::connect(path, options.busy_timeout_ms));
    KEVO_RETURN_IF_ERROR(impl->db.exec("SET default_transaction_read_only = on"));
    impl->path = sql::redact_url(path);
  } else {
    KEVO_ASSIGN_OR_RETURN(
        impl->db, sql::Db::open(path, sql::Db::Mode::kReadOnly, options.busy_timeout_ms));
    impl->path = path;
  }
  KEVO_ASSIGN_OR_RETURN(
      auto st, impl->db.prepare(impl->db.postgres()
                                    ? "SELECT column_name FROM information_schema.columns WHERE "
                                      "table_schema = current_schema() AND "
                                      "table_name = 'llm_calls'"
                                    : "SELECT name FROM pragma_table_info('llm_calls')"));
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    impl->call_columns.insert(st.text(0));
  }
  return std::unique_ptr<RunViews>(new RunViews(std::move(impl)));
}

ArchiveReader& RunViews::reader() {
  return *impl_->reader;
}
const std::string& RunViews::path() const {
  return impl_->path;
}
bool RunViews::has_call_outcomes() const {
  return impl_->call_columns.count("outcome") && impl_->call_columns.count("child_id");
}

namespace {

// Parents of every program, from the programs_by_parent index alone (rowid + parent_id).
Result<std::unordered_map<ProgramId, std::optional<ProgramId>>> parents(sql::Db& db) {
  std::unordered_map<ProgramId, std::optional<ProgramId>> out;
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("SELECT id, parent_id FROM programs "
                                            "INDEXED BY programs_by_parent"));
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return out;
    out.emplace(st.int64(0), st.opt_int64(1));
  }
}

// Root of `id`: parents have smaller ids than their children, so walking ids in ascending order
// finds every parent's root already known. Falls back to walking for out-of-order rows.
ProgramId root_of(ProgramId id,
                  const std::unordered_map<ProgramId, std::optional<ProgramId>>& parent,
                  std::unordered_map<ProgramId, ProgramId>& memo) {
  std::vector<ProgramId> path;
  ProgramId at = id;
  while (true) {
    if (auto m = memo.find(at); m != memo.end()) {
      at = m->second;
      break;
    }
    path.push_back(at);
    auto p = parent.find(at);
    if (p == parent.end() || !p->second || path.size() > parent.size()) break;  // root (or cycle)
    at = *p->second;
  }
  for (ProgramId x : path) memo[x] = at;
  return at;
}

// Runs inside the caller's transaction.
Result<std::vector<EvalPoint>> read_points(sql::Db& db, ProgramId after) {
  KEVO_ASSIGN_OR_RETURN(auto parent, parents(db));
  // Covering index (status, island, fitness, id): no row of the table is read.
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("SELECT id, island, status, fitness FROM programs "
                                            "INDEXED BY programs_by_status_island "
                                            "WHERE status <> 'pending' AND id > ?1"));
  st.bind(1, after);
  std::vector<EvalPoint> out;
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    EvalPoint p;
    p.id = st.int64(0);
    p.island = static_cast<int>(st.int64(1));
    p.status = st.text(2);
    p.fitness = p.status == "ok" ? st.opt_real(3) : std::nullopt;
    out.push_back(std::move(p));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  std::unordered_map<ProgramId, ProgramId> memo;
  for (EvalPoint& p : out) {
    auto it = parent.find(p.id);
    if (it != parent.end()) p.parent = it->second;
    p.root = root_of(p.id, parent, memo);
  }
  return out;
}

}  // namespace

Result<std::vector<EvalPoint>> RunViews::points() {
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(impl_->db, Txn::Kind::kRead));
  return read_points(impl_->db, 0);
}

Result<RunViews::PointsPage> RunViews::points_after(ProgramId after) {
  sql::Db& db = impl_->db;
  // One snapshot: the points and the first pending program must agree, or one finishing in
  // between would fall through the gap.
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kRead));
  PointsPage page;
  KEVO_ASSIGN_OR_RETURN(page.points, read_points(db, after));
  page.next_after = page.points.empty() ? after : page.points.back().id;
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("SELECT min(id) FROM programs WHERE status = ?1"));
  st.bind(1, kPending);
  KEVO_ASSIGN_OR_RETURN(bool row, st.step());
  if (row && !st.is_null(0)) page.next_after = std::min(page.next_after, st.int64(0) - 1);
  return page;
}

Result<std::vector<Method>> RunViews::methods() {
  sql::Db& db = impl_->db;
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kRead));
  KEVO_ASSIGN_OR_RETURN(auto pts, read_points(db, 0));
  // Roots, with their origin and status (a handful of rows).
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("SELECT id, origin, status, fitness, source FROM "
                                            "programs WHERE parent_id IS NULL ORDER BY id"));
  std::vector<Method> out;
  std::vector<std::string> origins;
  std::vector<std::string> sources;
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    Method m;
    m.seed = st.int64(0);
    origins.push_back(st.text(1));
    m.seed_status = st.text(2);
    m.seed_fitness = st.opt_real(3);
    sources.push_back(st.text(4).substr(0, 400));
    out.push_back(std::move(m));
  }
  KEVO_ASSIGN_OR_RETURN(auto events, read_events(db, "seeds_added", 1000));
  name_methods(out, origins, sources, events);
  std::unordered_map<ProgramId, size_t> index;
  for (size_t i = 0; i < out.size(); ++i) index[out[i].seed] = i;
  for (const EvalPoint& p : pts) {
    auto it = index.find(p.root);
    if (it == index.end()) continue;
    Method& m = out[it->second];
    ++m.evaluated;
    if (p.status != "ok") continue;
    ++m.ok;
    if (p.fitness && (!m.best_fitness || *p.fitness > *m.best_fitness)) {
      m.best = p.id;
      m.best_fitness = p.fitness;
    }
  }
  return out;
}

Result<EvalRate> RunViews::rate(double window_s, double now) {
  sql::Db& db = impl_->db;
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kRead));
  KEVO_ASSIGN_OR_RETURN(auto run, read_run(db));
  KEVO_ASSIGN_OR_RETURN(int64_t evaluations, kv_int(db, kKeyEvaluations));
  // The latest evaluations by id (ids follow time closely enough for a rate), a bounded sample.
  constexpr int kSample = 5000;
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("SELECT evaluated_at FROM programs WHERE "
                                            "evaluated_at IS NOT NULL ORDER BY id DESC LIMIT ?1"));
  st.bind(1, kSample);
  std::vector<double> times;
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    times.push_back(st.real(0));
  }
  EvalRate r;
  if (times.empty()) return r;
  r.last_evaluated_at = *std::max_element(times.begin(), times.end());
  const double start = now - window_s;
  r.window_s = std::min(window_s, std::max(1.0, now - run.second.created_at));
  for (double t : times) r.in_window += t >= start && t <= now;
  if (r.in_window == static_cast<int64_t>(times.size()) && times.size() == kSample) {
    // Saturated sample: the rate over the span it covers.
    r.window_s = std::max(1.0, now - *std::min_element(times.begin(), times.end()));
  }
  r.recent_per_min = 60.0 * static_cast<double>(r.in_window) / r.window_s;
  double span = *r.last_evaluated_at - run.second.created_at;
  if (span > 0) r.overall_per_min = 60.0 * static_cast<double>(evaluations) / span;
  return r;
}

Result<std::vector<ProgramSummary>> RunViews::children(ProgramId id, int limit) {
  return read_children(impl_->db, id, limit);
}

Result<std::vector<ProgramMetrics>> RunViews::ok_metrics(const std::string& error_metric) {
  sql::Db& db = impl_->db;
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kRead));
  KEVO_ASSIGN_OR_RETURN(auto parent, parents(db));
  // The metric from the stored JSON, by the engine's own JSON functions (a number, else NULL).
  KEVO_ASSIGN_OR_RETURN(
      auto st, db.prepare(std::string("SELECT id, fitness, ") +
                          (db.postgres() ? "CASE WHEN jsonb_typeof(metrics::jsonb -> ?1) = "
                                           "'number' THEN (metrics::jsonb ->> ?1)::float8 END"
                                         : "json_extract(metrics, ?1)") +
                          " FROM programs WHERE status = 'ok' AND fitness IS NOT NULL "
                          "ORDER BY id"));
  std::string key = error_metric;
  key.erase(std::remove(key.begin(), key.end(), '"'), key.end());
  st.bind(1, db.postgres() ? key : "$.\"" + key + "\"");
  std::vector<ProgramMetrics> out;
  std::unordered_map<ProgramId, ProgramId> memo;
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return out;
    ProgramMetrics m;
    m.id = st.int64(0);
    m.fitness = st.real(1);
    m.error = st.opt_real(2);
    m.root = root_of(m.id, parent, memo);
    out.push_back(m);
  }
}

namespace archive_internal {

namespace {

// "hash_topk" from "// hash_topk: HashAttention-style ...", else "".
std::string name_from_comment(const std::string& source) {
  if (source.rfind("// ", 0) != 0) return "";
  size_t end = 3;
  while (end < source.size() && (std::isalnum(static_cast<unsigned char>(source[end])) ||
                                 source[end] == '_' || source[end] == '-')) {
    ++end;
  }
  if (end == 3 || end >= source.size() || source[end] != ':') return "";
  return source.substr(3, end - 3);
}

std::string seed_name(std::string name) {
  size_t slash = name.find_last_of('/');
  if (slash != std::string::npos) name = name.substr(slash + 1);
  if (name.size() > 3 && name.ends_with(".cu")) name.resize(name.size() - 3);
  return name;
}

}  // namespace

void name_methods(std::vector<Method>& methods, const std::vector<std::string>& origins,
                  const std::vector<std::string>& sources, const std::vector<Event>& seeds_added) {
  std::vector<std::string> names;
  for (const Event& e : seeds_added) {
    if (!e.message.is_object() || !e.message.contains("seeds")) continue;
    for (const auto& n : e.message["seeds"]) {
      if (n.is_string()) names.push_back(seed_name(n.get<std::string>()));
    }
  }
  size_t seeds = std::count(origins.begin(), origins.end(), std::string("seed"));
  size_t next = 0;
  for (size_t i = 0; i < methods.size(); ++i) {
    Method& m = methods[i];
    if (origins[i] == "seed" && seeds == names.size()) m.name = names[next++];
    if (m.name.empty()) m.name = name_from_comment(sources[i]);
    if (m.name.empty())
      m.name = (origins[i].empty() ? "seed" : origins[i]) + " #" + std::to_string(m.seed);
  }
}

}  // namespace archive_internal
}  // namespace kevo
