// Run row, stored config and kv helpers shared by the writer and the readers.
#include <chrono>
#include <cmath>

#include "archive/internal.h"

namespace kevo::archive_internal {

using nlohmann::json;

double now_unix() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string dump_json(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json parse_json(const std::string& text) {
  if (text.empty()) return nullptr;
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? json(nullptr) : j;
}

std::map<std::string, int64_t> integer_params(const std::string& json_text) {
  std::map<std::string, int64_t> out;
  json params = parse_json(json_text);
  if (!params.is_object()) return out;
  for (const auto& [k, v] : params.items()) {
    if (v.is_number_integer()) out[k] = v.get<int64_t>();
  }
  return out;
}

json config_to_json(const ArchiveConfig& c) {
  json features = json::array();
  for (const auto& f : c.features) features.push_back({{"metric", f.metric}, {"bins", f.bins}});
  return {{"features", features},
          {"fitness", c.fitness},
          {"islands", c.islands},
          {"migration_interval", c.migration_interval},
          {"migration_count", c.migration_count},
          {"exploit_ratio", c.exploit_ratio},
          {"explore_ratio", c.explore_ratio},
          {"inspirations", c.inspirations},
          {"island_groups", c.island_groups}};
}

Result<ArchiveConfig> config_from_json(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::InvalidArgument("archive: stored grid config is not JSON");
  ArchiveConfig c;  // a key an older file lacks keeps its default
  try {
    if (j.contains("features")) {
      c.features.clear();
      for (const auto& f : j.at("features")) {
        c.features.push_back({f.at("metric").get<std::string>(), f.at("bins").get<std::vector<double>>()});
      }
    }
    c.fitness = j.value("fitness", c.fitness);
    c.islands = j.value("islands", c.islands);
    c.migration_interval = j.value("migration_interval", c.migration_interval);
    c.migration_count = j.value("migration_count", c.migration_count);
    c.exploit_ratio = j.value("exploit_ratio", c.exploit_ratio);
    c.explore_ratio = j.value("explore_ratio", c.explore_ratio);
    c.inspirations = j.value("inspirations", c.inspirations);
    c.island_groups = j.value("island_groups", c.island_groups);
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("archive: stored grid config: ") + e.what());
  }
  return c;
}

Status validate_config(const ArchiveConfig& c) {
  if (c.features.empty()) return Status::InvalidArgument("archive: at least one feature axis");
  for (const auto& f : c.features) {
    if (f.metric.empty()) return Status::InvalidArgument("archive: a feature axis has no metric");
    for (size_t i = 1; i < f.bins.size(); ++i) {
      if (!(f.bins[i - 1] < f.bins[i])) {
        return Status::InvalidArgument("archive: bins of '" + f.metric + "' must be ascending");
      }
    }
  }
  if (c.fitness.empty()) return Status::InvalidArgument("archive: no fitness metric");
  if (c.islands < 1) return Status::InvalidArgument("archive: islands must be at least 1");
  if (c.island_groups < 1 || c.islands % c.island_groups != 0) {
    return Status::InvalidArgument("archive: islands must be a multiple of the island groups");
  }
  if (c.exploit_ratio < 0 || c.explore_ratio < 0 || c.exploit_ratio + c.explore_ratio > 1) {
    return Status::InvalidArgument("archive: exploit_ratio + explore_ratio must be in [0, 1]");
  }
  if (c.inspirations < 0 || c.migration_count < 0) {
    return Status::InvalidArgument("archive: inspirations and migration_count must be >= 0");
  }
  return Status::Ok();
}

Result<std::pair<int64_t, RunInfo>> read_run(sql::Db& db) {
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("SELECT id, name, config, seed, status, created_at, "
                                            "updated_at FROM runs ORDER BY id LIMIT 1"));
  KEVO_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return Status::NotFound("archive: the file holds no run");
  RunInfo r;
  r.name = st.text(1);
  r.config = st.text(2);
  r.seed = static_cast<uint64_t>(st.int64(3));
  r.status = st.text(4);
  r.created_at = st.real(5);
  r.updated_at = st.real(6);
  return std::make_pair(st.int64(0), r);
}

Result<ArchiveConfig> read_archive_config(sql::Db& db) {
  KEVO_ASSIGN_OR_RETURN(std::string text,
                        db.query_text("SELECT archive_config FROM runs ORDER BY id LIMIT 1"));
  return config_from_json(text);
}

Result<std::optional<std::string>> kv_text(sql::Db& db, const std::string& key) {
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("SELECT value FROM kv WHERE key = ?1"));
  st.bind(1, key);
  KEVO_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row || st.is_null(0)) return std::optional<std::string>();
  return std::optional<std::string>(st.text(0));
}

Result<int64_t> kv_int(sql::Db& db, const std::string& key) {
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("SELECT value FROM kv WHERE key = ?1"));
  st.bind(1, key);
  KEVO_ASSIGN_OR_RETURN(bool row, st.step());
  return row ? st.int64(0) : 0;
}

Result<double> kv_real(sql::Db& db, const std::string& key) {
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("SELECT value FROM kv WHERE key = ?1"));
  st.bind(1, key);
  KEVO_ASSIGN_OR_RETURN(bool row, st.step());
  return row ? st.real(0) : 0.0;
}

namespace {
template <typename T>
Status kv_put(sql::Db& db, const std::string& key, T v) {
  KEVO_ASSIGN_OR_RETURN(auto st, db.prepare("INSERT INTO kv (key, value) VALUES (?1, ?2) "
                                            "ON CONFLICT (key) DO UPDATE SET value = ?2"));
  return st.bind(1, key).bind(2, v).run();
}
}  // namespace

Status kv_set(sql::Db& db, const std::string& key, int64_t v) { return kv_put(db, key, v); }
Status kv_set(sql::Db& db, const std::string& key, double v) { return kv_put(db, key, v); }
Status kv_set(sql::Db& db, const std::string& key, std::string_view v) {
  return kv_put(db, key, v);
}

Result<int64_t> kv_add(sql::Db& db, const std::string& key, int64_t delta) {
  KEVO_ASSIGN_OR_RETURN(int64_t v, kv_int(db, key));
  KEVO_RETURN_IF_ERROR(kv_set(db, key, v + delta));
  return v + delta;
}

Result<int64_t> returned_id(sql::Stmt& st) {
  KEVO_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return Status::Internal("archive: an insert returned no id");
  int64_t id = st.int64(0);
  KEVO_RETURN_IF_ERROR(st.run());
  return id;
}

Status insert_event(sql::Db& db, const std::string& kind, const json& message) {
  KEVO_ASSIGN_OR_RETURN(auto st,
                        db.prepare("INSERT INTO events (time, kind, message) VALUES (?1, ?2, ?3)"));
  return st.bind(1, now_unix()).bind(2, kind).bind(3, dump_json(message)).run();
}

}  // namespace kevo::archive_internal
