// Methods: the seed each program descends from (walked from the parent links, read from an index
// only), and when a run was active (from its events).
#include <algorithm>
#include <filesystem>

#include "archive/internal.h"

namespace kevo::archive_internal {

using nlohmann::json;

ProgramId MethodMap::seed_of(ProgramId id) const {
  auto it = std::lower_bound(of.begin(), of.end(), std::make_pair(id, ProgramId{0}));
  return it != of.end() && it->first == id ? it->second : 0;
}

namespace {

// "seeds/hash_topk.cu" -> "hash_topk": how a seed given as a path reads in a table.
std::string display_name(const std::string& seed) {
  std::string stem = std::filesystem::path(seed).stem().string();
  return stem.empty() ? seed : stem;
}

// Names for the seeds (the programs without a parent). A run records them in its
// "seeds_added" event: {"programs": [{"id", "name"}]}; runs written before that list only the
// names ({"seeds": [...]}), in the order the seeds were inserted, which is id order.
void name_seeds(sql::Db& db, std::map<ProgramId, std::string>& names) {
  auto events = read_events(db, "seeds_added", 16);
  if (!events.ok()) return;
  std::vector<std::string> listed;
  for (const Event& e : *events) {
    const json& m = e.message;
    if (!m.is_object()) continue;
    if (m.contains("programs") && m["programs"].is_array()) {
      for (const json& p : m["programs"]) {
        if (!p.is_object() || !p.contains("id") || !p["id"].is_number_integer()) continue;
        auto it = names.find(p["id"].get<ProgramId>());
        if (it != names.end() && p.contains("name") && p["name"].is_string()) {
          it->second = display_name(p["name"].get<std::string>());
        }
      }
    } else if (m.contains("seeds") && m["seeds"].is_array()) {
      for (const json& s : m["seeds"]) {
        if (s.is_string()) listed.push_back(display_name(s.get<std::string>()));
      }
    }
  }
  if (!listed.empty() && listed.size() == names.size()) {
    size_t i = 0;
    for (auto& [id, name] : names) {
      if (name.empty()) name = listed[i];
      ++i;
    }
  }
  for (auto& [id, name] : names) {
    if (name.empty()) name = "seed #" + std::to_string(id);
  }
}

}  // namespace

Result<MethodMap> read_method_map(sql::Db& db) {
  MethodMap m;
  // Read from the (parent_id, id) index alone: a few megabytes at 100,000 programs.
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("SELECT id, parent_id FROM programs"));
  std::vector<std::pair<ProgramId, ProgramId>> links;  // (id, parent or 0)
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    links.emplace_back(st.int64(0), st.is_null(1) ? 0 : st.int64(1));
  }
  std::sort(links.begin(), links.end());
  m.of.reserve(links.size());
  // A parent is always inserted before its children, so in id order its seed is known first.
  for (const auto& [id, parent] : links) {
    ProgramId seed = parent == 0 ? id : m.seed_of(parent);
    m.of.emplace_back(id, seed);
    if (parent == 0) m.names[id] = "";
  }
  name_seeds(db, m.names);
  return m;
}

Result<std::vector<MethodSummary>> read_methods(sql::Db& db) {
  KEVO_ASSIGN_OR_RETURN(MethodMap map, read_method_map(db));
  std::map<ProgramId, MethodSummary> by_seed;
  for (const auto& [id, name] : map.names) {
    by_seed[id].name = name;
    by_seed[id].seed = id;
  }
  // Statuses and fitness from the (status, island, fitness, id) index alone.
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("SELECT id, status, fitness FROM programs"));
  std::map<ProgramId, std::pair<double, ProgramId>> best;  // seed -> (fitness, program)
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    const ProgramId id = st.int64(0);
    auto it = by_seed.find(map.seed_of(id));
    if (it == by_seed.end()) continue;  // written after the map was read: next time
    const std::string status = st.text(1);
    if (status == kPending) {
      ++it->second.pending;
      continue;
    }
    ++it->second.evaluated;
    ++it->second.by_status[status];
    if (status != "ok" || st.is_null(2)) continue;
    const double f = st.real(2);
    auto b = best.find(it->first);
    if (b == best.end() || f > b->second.first || (f == b->second.first && id < b->second.second)) {
      best[it->first] = {f, id};
    }
  }
  KEVO_ASSIGN_OR_RETURN(
      auto one, db.prepare(std::string("SELECT ") + kSummaryCols + " FROM programs WHERE id = ?1"));
  std::vector<MethodSummary> out;
  for (auto& [seed, m] : by_seed) {
    auto b = best.find(seed);
    if (b != best.end()) {
      KEVO_RETURN_IF_ERROR(one.reset());
      one.bind(1, b->second.second);
      KEVO_ASSIGN_OR_RETURN(auto rows, read_summaries(one));
      if (!rows.empty()) m.best = std::move(rows[0]);
    }
    out.push_back(std::move(m));
  }
  return out;
}

Result<RunActivity> read_activity(sql::Db& db, const RunInfo& run, bool writer_active) {
  RunActivity a;
  a.writer_active = writer_active;
  // The newest evaluations are among the newest programs (results arrive about in id order).
  KEVO_ASSIGN_OR_RETURN(auto last, db.prepare("SELECT max(evaluated_at) FROM (SELECT evaluated_at "
                                              "FROM programs ORDER BY id DESC LIMIT 256) AS recent"));
  KEVO_ASSIGN_OR_RETURN(bool row, last.step());
  if (row && !last.is_null(0)) a.last_evaluation = last.real(0);
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("SELECT time, kind, message FROM events WHERE kind IN "
                                            "('resumed', 'stopped') ORDER BY id"));
  double start = run.created_at;
  bool open = true;
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool r, st.step());
    if (!r) break;
    const double t = st.real(0);
    if (st.text(1) == "stopped") {
      if (open) a.active_s += std::max(0.0, t - start);
      open = false;
      json m = parse_json(st.text(2));
      a.stop_reason = m.is_object() && m.contains("reason") && m["reason"].is_string()
                          ? m["reason"].get<std::string>()
                          : "stopped";
    } else {
      if (open) a.active_s += std::max(0.0, std::max(a.last_evaluation, start) - start);
      start = t;
      open = true;
      ++a.sessions;
      a.stop_reason.clear();
    }
  }
  if (open) {
    // Still running (until now) or ended without a stop event (until its last evaluation).
    const double end = a.writer_active ? now_unix() : std::max(a.last_evaluation, start);
    a.active_s += std::max(0.0, end - start);
  }
  return a;
}

}  // namespace kevo::archive_internal
