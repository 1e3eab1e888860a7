// `kevo status`'s workers section (status_sections.h): read from the queue's tables, so that one
// look at a shared run shows which GPU hosts are working and which went quiet.
#include <cstdio>

#include "archive/queue.h"
#include "orchestrator/cli/status_sections.h"

namespace kevo::cli {

WorkersStatus workers_status(const std::string& location) {
  WorkersStatus out;
  // Only a shared archive has workers; a SQLite file is left alone (status must stay safe on a
  // read-only copy, and WorkQueue opens it for writing).
  if (!is_postgres_location(location)) return out;
  auto q = WorkQueue::open(location);
  if (!q.ok()) return out;
  auto workers = (*q)->workers();
  auto counts = (*q)->counts();
  if (!workers.ok() || !counts.ok() || workers->empty()) return out;
  constexpr double kAlive_s = 60;  // two missed leases of the default 30 s
  int live = 0;
  out.json = {{"workers", nlohmann::json::array()},
              {"tasks", counts->by_state},
              {"requeued", counts->requeued}};
  for (const auto& w : *workers) {
    const bool up = w.state == "running" && w.heartbeat_age_s <= kAlive_s;
    live += up;
    out.json["workers"].push_back(
        {{"id", w.id},
         {"host", w.host},
         {"pid", w.pid},
         {"gpu_model", w.gpu_model},
         {"gpus", w.gpus},
         {"state", up ? w.state : (w.state == "running" ? "silent" : w.state)},
         {"evaluations", w.evaluations},
         {"busy_s", w.busy_s},
         {"heartbeat_age_s", w.heartbeat_age_s}});
  }
  auto n = [&](const char* s) {
    auto it = counts->by_state.find(s);
    return it == counts->by_state.end() ? int64_t{0} : it->second;
  };
  char line[512];
  std::snprintf(line, sizeof line,
                "workers      %d live of %zu; tasks: %lld queued, %lld running, %lld done, %lld "
                "recorded (%lld claimed more than once)",
                live, workers->size(), static_cast<long long>(n("queued")),
                static_cast<long long>(n("running")), static_cast<long long>(n("done")),
                static_cast<long long>(n("recorded")), static_cast<long long>(counts->requeued));
  out.lines.push_back(line);
  for (const auto& j : out.json["workers"]) {
    std::snprintf(
        line, sizeof line,
        "  #%-4lld %s pid %lld  %s x%d  %-8s %lld evaluations, "
        "heartbeat %.0f s ago",
        static_cast<long long>(j["id"].get<int64_t>()), j["host"].get<std::string>().c_str(),
        static_cast<long long>(j["pid"].get<int64_t>()), j["gpu_model"].get<std::string>().c_str(),
        j["gpus"].get<int>(), j["state"].get<std::string>().c_str(),
        static_cast<long long>(j["evaluations"].get<int64_t>()),
        j["heartbeat_age_s"].get<double>());
    out.lines.push_back(line);
  }
  return out;
}

}  // namespace kevo::cli
