// Archive: parent selection, inspirations and ring migration. Deterministic for a given seed:
// every random draw comes from the archive's PRNG, whose state lives in the file, and every list
// drawn from has a fixed order (island, cell key; fitness ties broken by program id).
#include <algorithm>
#include <set>

#include "archive/internal.h"
#include "archive/rng.h"

namespace kevo {

using namespace archive_internal;
using nlohmann::json;
using sql::Txn;

namespace {

bool better(const Elite& a, const Elite& b) {
  if (a.fitness != b.fitness) return a.fitness > b.fitness;
  if (a.program != b.program) return a.program < b.program;
  return a.island < b.island;
}

const Elite* best_of(const std::vector<const Elite*>& v) {
  const Elite* best = nullptr;
  for (const Elite* e : v) {
    if (!best || better(*e, *best)) best = e;
  }
  return best;
}

// Draws up to `want` elites from `pool` (in random order) whose program is not in `taken` and
// whose cell is not in `cells`: inspirations that show other kinds of solution.
void draw_diverse(Rng& rng, std::vector<const Elite*> pool, size_t want, std::set<ProgramId>& taken,
                  std::set<std::string>& cells, std::vector<ProgramId>& out) {
  while (out.size() < want && !pool.empty()) {
    size_t k = rng.below(pool.size());
    const Elite* e = pool[k];
    pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(k));
    if (taken.count(e->program) || cells.count(e->cell)) continue;
    taken.insert(e->program);
    cells.insert(e->cell);
    out.push_back(e->program);
  }
}

}  // namespace

Result<Selection> Archive::select(std::optional<int> island) {
  const ArchiveConfig& cfg = impl_->config;
  if (island && (*island < 0 || *island >= cfg.islands)) {
    return Status::InvalidArgument("archive: island " + std::to_string(*island) + " is outside 0.." +
                                   std::to_string(cfg.islands - 1));
  }
  std::lock_guard lock(impl_->mu);
  sql::Db& db = impl_->db;
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kWrite));
  KEVO_ASSIGN_OR_RETURN(std::vector<Elite> all, read_elites(db, std::nullopt));
  if (all.empty()) {
    return Status::NotFound("archive: no program has status ok yet; evaluate the seeds first");
  }
  KEVO_ASSIGN_OR_RETURN(auto state, kv_text(db, kKeyRng));
  if (!state) return Status::Internal("archive: the PRNG state is missing from the file");
  KEVO_ASSIGN_OR_RETURN(Rng rng, Rng::from_state(*state));

  Selection s;
  if (island) {
    s.island = *island;
  } else {
    KEVO_ASSIGN_OR_RETURN(int64_t next, kv_int(db, kKeyNextIsland));
    s.island = static_cast<int>(next % cfg.islands);
    KEVO_RETURN_IF_ERROR(kv_set(db, kKeyNextIsland, next + 1));
  }
  // "everyone": the islands of this island's group (all of them unless GPU models are kept
  // apart), where the global best comes from.
  std::vector<const Elite*> mine, everyone, anywhere;
  const int groups = std::max(1, cfg.island_groups);
  for (const Elite& e : all) {
    anywhere.push_back(&e);
    if (e.island % groups == s.island % groups) everyone.push_back(&e);
    if (e.island == s.island) mine.push_back(&e);
  }
  if (everyone.empty()) everyone = anywhere;  // a group not yet populated starts from any best

  const double r = rng.uniform();
  const Elite* parent;
  if (mine.empty()) {
    s.mode = "global";  // an island not yet populated starts from the global best
    parent = best_of(everyone);
  } else if (r < cfg.exploit_ratio) {
    s.mode = "exploit";
    parent = best_of(mine);
  } else if (r < cfg.exploit_ratio + cfg.explore_ratio) {
    s.mode = "explore";
    parent = mine[rng.below(mine.size())];
  } else {
    s.mode = "global";
    parent = best_of(everyone);
  }
  s.parent = parent->program;

  // Inspirations: first the island's best other elites (what works here), then random elites of
  // cells not yet shown (other trade-offs), from this island and then from the others.
  const size_t want = static_cast<size_t>(std::max(cfg.inspirations, 0));
  std::set<ProgramId> taken = {s.parent};
  std::set<std::string> cells = {parent->cell};
  std::vector<const Elite*> ranked = mine;
  std::sort(ranked.begin(), ranked.end(), [](const Elite* a, const Elite* b) {
    return better(*a, *b);
  });
  for (const Elite* e : ranked) {
    if (s.inspirations.size() >= (want + 1) / 2) break;
    if (!taken.insert(e->program).second) continue;
    cells.insert(e->cell);
    s.inspirations.push_back(e->program);
  }
  draw_diverse(rng, mine, want, taken, cells, s.inspirations);
  std::vector<const Elite*> others;
  for (const Elite* e : anywhere) {
    if (e->island != s.island) others.push_back(e);
  }
  draw_diverse(rng, others, want, taken, cells, s.inspirations);

  KEVO_RETURN_IF_ERROR(kv_set(db, kKeyRng, std::string_view(rng.state())));
  KEVO_RETURN_IF_ERROR(txn.commit());
  return s;
}

namespace archive_internal {

Result<bool> offer_to_cell(sql::Db& db, int island, const std::string& cell, ProgramId id,
                           double fitness) {
  KEVO_ASSIGN_OR_RETURN(auto cur, db.prepare("SELECT program_id, fitness FROM cells "
                                             "WHERE island = ?1 AND cell = ?2"));
  cur.bind(1, island).bind(2, cell);
  KEVO_ASSIGN_OR_RETURN(bool row, cur.step());
  // The incumbent stays unless strictly beaten: ties keep the older program, which has already
  // had children, and a re-offer of the same program changes nothing.
  if (row && (cur.int64(0) == id || !(fitness > cur.real(1)))) return false;
  KEVO_ASSIGN_OR_RETURN(auto put, db.prepare("INSERT INTO cells (island, cell, program_id, fitness, "
                                             "updated_at) VALUES (?1, ?2, ?3, ?4, ?5) "
                                             "ON CONFLICT (island, cell) DO UPDATE SET "
                                             "program_id = ?3, fitness = ?4, updated_at = ?5"));
  KEVO_RETURN_IF_ERROR(
      put.bind(1, island).bind(2, cell).bind(3, id).bind(4, fitness).bind(5, now_unix()).run());
  return true;
}

Status migrate_ring(sql::Db& db, const ArchiveConfig& config) {
  KEVO_ASSIGN_OR_RETURN(std::vector<Elite> all, read_elites(db, std::nullopt));
  // Choose every island's emigrants before placing any, so an elite moves one step per round.
  std::vector<std::vector<Elite>> emigrants(config.islands);
  std::vector<Elite> sorted = all;
  std::sort(sorted.begin(), sorted.end(), better);
  for (const Elite& e : sorted) {
    auto& list = emigrants[e.island];
    if (static_cast<int>(list.size()) < config.migration_count) list.push_back(e);
  }
  json moves = json::array();
  // The ring runs through the islands of one group: i -> i + groups.
  const int groups = std::max(1, config.island_groups);
  for (int from = 0; from < config.islands; ++from) {
    int to = (from + groups) % config.islands;
    if (to == from) continue;
    json sent = json::array(), placed = json::array();
    for (const Elite& e : emigrants[from]) {
      sent.push_back(e.program);
      KEVO_ASSIGN_OR_RETURN(bool ok, offer_to_cell(db, to, e.cell, e.program, e.fitness));
      if (ok) placed.push_back(e.program);
    }
    moves.push_back({{"from", from}, {"to", to}, {"programs", sent}, {"placed", placed}});
  }
  KEVO_ASSIGN_OR_RETURN(int64_t evaluations, kv_int(db, kKeyEvaluations));
  return insert_event(db, "migration", {{"evaluations", evaluations}, {"moves", moves}});
}

}  // namespace archive_internal
}  // namespace kevo
