// Archive: claiming programs for evaluation, recording results into the MAP-Elites grid.
#include <cmath>

#include "archive/internal.h"

namespace kevo {

using namespace archive_internal;
using nlohmann::json;
using sql::Txn;

namespace {

std::optional<double> finite_metric(const json& metrics, const std::string& name) {
  auto it = metrics.find(name);
  if (it == metrics.end() || !it->is_number()) return std::nullopt;
  double v = it->get<double>();
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

// The cell of an ok program, or "" when a feature metric is missing or not finite.
std::string cell_of(const ArchiveConfig& config, const json& metrics) {
  std::vector<int> bins;
  for (const auto& axis : config.features) {
    auto v = finite_metric(metrics, axis.metric);
    if (!v) return "";
    bins.push_back(bin_index(axis, *v));
  }
  return cell_key(bins);
}

std::string artifact(const json& result, const char* name) {
  auto a = result.find("artifacts");
  if (a == result.end() || !a->is_object()) return "";
  auto it = a->find(name);
  return it != a->end() && it->is_string() ? it->get<std::string>() : "";
}

Result<std::optional<double>> best_fitness(sql::Db& db, std::optional<int> island) {
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("SELECT max(fitness) FROM cells "
                                            "WHERE island = ?1 OR ?1 IS NULL"));
  st.bind(1, island);
  KEVO_ASSIGN_OR_RETURN(bool row, st.step());
  return row ? st.opt_real(0) : std::nullopt;
}

}  // namespace

Result<BeginResult> Archive::begin_evaluation(const NewProgram& p) {
  if (p.island < 0 || p.island >= impl_->config.islands) {
    return Status::InvalidArgument("archive: island " + std::to_string(p.island) +
                                   " is outside 0.." + std::to_string(impl_->config.islands - 1));
  }
  if (p.origin.empty()) return Status::InvalidArgument("archive: a program needs an origin");
  std::string source = normalize_source(p.source);
  BeginResult out;
  out.hash = program_hash(source, p.params);

  std::lock_guard lock(impl_->mu);
  sql::Db& db = impl_->db;
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kWrite));
  KEVO_ASSIGN_OR_RETURN(auto find, db.prepare("SELECT id, status FROM programs WHERE hash = ?1"));
  find.bind(1, out.hash);
  KEVO_ASSIGN_OR_RETURN(bool found, find.step());
  if (found) {
    out.id = find.int64(0);
    out.duplicate = true;
    out.status = find.text(1);
    return out;  // nothing written; the transaction rolls back
  }
  int generation = 0;
  if (p.parent) {
    KEVO_ASSIGN_OR_RETURN(auto par, db.prepare("SELECT generation FROM programs WHERE id = ?1"));
    par.bind(1, *p.parent);
    KEVO_ASSIGN_OR_RETURN(bool row, par.step());
    if (!row) return Status::NotFound("archive: parent #" + std::to_string(*p.parent) + " unknown");
    generation = static_cast<int>(par.int64(0)) + 1;
  }
  KEVO_ASSIGN_OR_RETURN(
      auto ins, db.prepare("INSERT INTO programs (run_id, hash, parent_id, island, generation, "
                           "origin, llm_call_id, status, created_at, params, source) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?9, ?10) "
                           "RETURNING id"));
  ins.bind(1, impl_->run_id).bind(2, out.hash).bind(3, p.parent).bind(4, p.island)
      .bind(5, generation).bind(6, p.origin).bind(7, p.llm_call).bind(8, now_unix())
      .bind(9, dump_json(json(p.params))).bind(10, source);
  KEVO_ASSIGN_OR_RETURN(out.id, returned_id(ins));
  out.status = kPending;
  KEVO_RETURN_IF_ERROR(kv_add(db, count_key(kPending), 1).status());
  KEVO_RETURN_IF_ERROR(txn.commit());
  return out;
}

Result<RecordOutcome> Archive::record_result(ProgramId id, const json& result) {
  if (!result.is_object() || !result.contains("status") || !result["status"].is_string()) {
    return Status::InvalidArgument("archive: an evaluation result needs a string 'status'");
  }
  const std::string status = result["status"].get<std::string>();
  if (status.empty() || status == kPending) {
    return Status::InvalidArgument("archive: '" + status + "' is not an evaluation status");
  }
  json metrics = result.value("metrics", json::object());
  if (!metrics.is_object()) return Status::InvalidArgument("archive: 'metrics' must be an object");
  std::string message = result.contains("message") && result["message"].is_string()
                            ? result["message"].get<std::string>()
                            : "";
  const ArchiveConfig& cfg = impl_->config;
  RecordOutcome out;
  if (status == "ok") out.fitness = finite_metric(metrics, cfg.fitness);
  if (out.fitness) out.cell = cell_of(cfg, metrics);
  json stored = result;
  stored.erase("artifacts");  // kept in their own columns

  std::lock_guard lock(impl_->mu);
  sql::Db& db = impl_->db;
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kWrite));
  KEVO_ASSIGN_OR_RETURN(auto cur, db.prepare("SELECT status, island FROM programs WHERE id = ?1"));
  cur.bind(1, id);
  KEVO_ASSIGN_OR_RETURN(bool row, cur.step());
  if (!row) return Status::NotFound("archive: no program #" + std::to_string(id));
  if (cur.text(0) != kPending) {
    return Status::InvalidArgument("archive: program #" + std::to_string(id) +
                                   " was already evaluated (" + cur.text(0) +
                                   "); a program is evaluated once");
  }
  const int island = static_cast<int>(cur.int64(1));
  KEVO_ASSIGN_OR_RETURN(
      auto up, db.prepare("UPDATE programs SET status = ?2, message = ?3, fitness = ?4, "
                          "cell = ?5, metrics = ?6, result = ?7, compile_log = ?8, "
                          "feedback = ?9, evaluated_at = ?10 WHERE id = ?1"));
  up.bind(1, id).bind(2, status).bind(3, message).bind(4, out.fitness);
  if (out.cell.empty()) {
    up.bind_null(5);
  } else {
    up.bind(5, out.cell);
  }
  KEVO_RETURN_IF_ERROR(up.bind(6, dump_json(metrics)).bind(7, dump_json(stored))
                           .bind(8, artifact(result, "compile_log"))
                           .bind(9, artifact(result, "feedback")).bind(10, now_unix()).run());
  KEVO_ASSIGN_OR_RETURN(int64_t evaluations, kv_add(db, kKeyEvaluations, 1));
  KEVO_RETURN_IF_ERROR(kv_add(db, count_key(kPending), -1).status());
  KEVO_RETURN_IF_ERROR(kv_add(db, count_key(status), 1).status());

  if (!out.cell.empty()) {
    KEVO_ASSIGN_OR_RETURN(auto island_best, best_fitness(db, island));
    KEVO_ASSIGN_OR_RETURN(auto global_best, best_fitness(db, std::nullopt));
    KEVO_ASSIGN_OR_RETURN(out.new_elite, offer_to_cell(db, island, out.cell, id, *out.fitness));
    out.new_island_best = out.new_elite && (!island_best || *out.fitness > *island_best);
    out.new_global_best = out.new_elite && (!global_best || *out.fitness > *global_best);
    if (out.new_global_best) {
      KEVO_RETURN_IF_ERROR(insert_event(db, "new_best", {{"program", id},
                                                         {"fitness", *out.fitness},
                                                         {"island", island},
                                                         {"cell", out.cell},
                                                         {"evaluations", evaluations}}));
    }
  }
  if (cfg.islands > 1 && cfg.migration_interval > 0 && cfg.migration_count > 0 &&
      evaluations % cfg.migration_interval == 0) {
    KEVO_RETURN_IF_ERROR(migrate_ring(db, cfg));
    out.migrated = true;
  }
  KEVO_RETURN_IF_ERROR(txn.commit());
  return out;
}

Status Archive::record_holdout(ProgramId id, const json& result) {
  if (!result.is_object()) return Status::InvalidArgument("archive: holdout result is not an object");
  std::lock_guard lock(impl_->mu);
  sql::Db& db = impl_->db;
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("UPDATE programs SET holdout = ?2 "
                                            "WHERE id = ?1 AND status <> 'pending'"));
  KEVO_RETURN_IF_ERROR(st.bind(1, id).bind(2, dump_json(result)).run());
  if (db.changes() == 0) {
    return Status::NotFound("archive: no evaluated program #" + std::to_string(id));
  }
  return Status::Ok();
}

Status Archive::amend_result(ProgramId id, const json& result) {
  if (!result.is_object() || !result.contains("status") || !result["status"].is_string()) {
    return Status::InvalidArgument("archive: an evaluation result needs a string 'status'");
  }
  const std::string status = result["status"].get<std::string>();
  json stored = result;
  stored.erase("artifacts");  // kept in their own columns, as recorded
  std::lock_guard lock(impl_->mu);
  sql::Db& db = impl_->db;
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kWrite));
  KEVO_ASSIGN_OR_RETURN(auto cur, db.prepare("SELECT metrics FROM programs "
                                             "WHERE id = ?1 AND status = ?2"));
  cur.bind(1, id).bind(2, status);
  KEVO_ASSIGN_OR_RETURN(bool row, cur.step());
  if (!row) {
    return Status::NotFound("archive: no program #" + std::to_string(id) + " evaluated as " +
                            status);
  }
  if (parse_json(cur.text(0)) != result.value("metrics", json::object())) {
    return Status::InvalidArgument("archive: program #" + std::to_string(id) +
                                   ": an amended result must keep the recorded metrics");
  }
  KEVO_ASSIGN_OR_RETURN(auto up, db.prepare("UPDATE programs SET result = ?2 WHERE id = ?1"));
  KEVO_RETURN_IF_ERROR(up.bind(1, id).bind(2, dump_json(stored)).run());
  return txn.commit();
}

Status Archive::cancel_evaluation(ProgramId id) {
  std::lock_guard lock(impl_->mu);
  sql::Db& db = impl_->db;
  KEVO_ASSIGN_OR_RETURN(auto txn, Txn::begin(db, Txn::Kind::kWrite));
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("DELETE FROM programs "
                                            "WHERE id = ?1 AND status = 'pending'"));
  KEVO_RETURN_IF_ERROR(st.bind(1, id).run());
  if (db.changes() == 0) {
    return Status::NotFound("archive: no pending program #" + std::to_string(id));
  }
  KEVO_RETURN_IF_ERROR(kv_add(db, count_key(kPending), -1).status());
  return txn.commit();
}

Result<std::vector<ProgramId>> Archive::pending_evaluations() {
  std::lock_guard lock(impl_->mu);
  KEVO_ASSIGN_OR_RETURN(auto st, impl_->db.prepare("SELECT id FROM programs "
                                                   "WHERE status = 'pending' ORDER BY id"));
  std::vector<ProgramId> out;
  while (true) {
    KEVO_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return out;
    out.push_back(st.int64(0));
  }
}

Result<std::optional<ProgramId>> Archive::lookup_by_hash(const std::string& hash) {
  std::lock_guard lock(impl_->mu);
  KEVO_ASSIGN_OR_RETURN(auto st, impl_->db.prepare("SELECT id FROM programs WHERE hash = ?1"));
  st.bind(1, hash);
  KEVO_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return std::optional<ProgramId>();
  return std::optional<ProgramId>(st.int64(0));
}

}  // namespace kevo
