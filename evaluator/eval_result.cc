#include "evaluator/eval_result.h"

namespace kevo {

namespace {
struct StatusName {
  EvalStatus status;
  const char* name;
};
constexpr StatusName kNames[] = {
    {EvalStatus::kOk, "ok"},
    {EvalStatus::kRejectedSource, "rejected_source"},
    {EvalStatus::kCompileError, "compile_error"},
    {EvalStatus::kInvalidPlan, "invalid_plan"},
    {EvalStatus::kLaunchError, "launch_error"},
    {EvalStatus::kCrash, "crash"},
    {EvalStatus::kTimeout, "timeout"},
    {EvalStatus::kInaccurate, "inaccurate"},
    {EvalStatus::kCheatDetected, "cheat_detected"},
};
}  // namespace

const char* eval_status_name(EvalStatus s) {
  for (const auto& n : kNames) {
    if (n.status == s) return n.name;
  }
  return "unknown";
}

std::optional<EvalStatus> parse_eval_status(const std::string& name) {
  for (const auto& n : kNames) {
    if (name == n.name) return n.status;
  }
  return std::nullopt;
}

std::vector<EvalStatus> all_eval_statuses() {
  std::vector<EvalStatus> out;
  for (const auto& n : kNames) out.push_back(n.status);
  return out;
}

EvalResult EvalResult::failure(EvalStatus s, std::string message) {
  EvalResult r;
  r.status = s;
  r.message = std::move(message);
  return r;
}

nlohmann::json to_json(const EvalResult& r) {
  using nlohmann::json;
  json workloads = json::array();
  for (const auto& w : r.workloads) {
    json kernels = json::array();
    for (const auto& k : w.kernels) {
      json jk = {{"name", k.name},
                 {"us", k.us},
                 {"registers", k.registers},
                 {"smem_bytes", k.smem_bytes},
                 {"local_bytes", k.local_bytes}};
      if (k.counters) jk["counters"] = to_json(*k.counters);
      kernels.push_back(std::move(jk));
    }
    workloads.push_back({{"name", w.name},
                         {"B", w.B},
                         {"N", w.N},
                         {"Hq", w.Hq},
                         {"Hkv", w.Hkv},
                         {"D", w.D},
                         {"decode_us", w.decode_us},
                         {"dense_us", w.dense_us},
                         {"speedup", w.speedup},
                         {"mean_rel_err", w.mean_rel_err},
                         {"p99_rel_err", w.p99_rel_err},
                         {"max_rel_err", w.max_rel_err},
                         {"worst_call_err", w.worst_call_err},
                         {"build_us", w.build_us},
                         {"decode_spread", w.decode_spread},
                         {"dense_spread", w.dense_spread},
                         {"kernels", kernels}});
  }
  json metrics = json::object();
  for (const auto& [k, v] : r.metrics) metrics[k] = v;
  json out = {{"status", eval_status_name(r.status)},
              {"message", r.message},
              {"fitness", r.fitness},
              {"metrics", metrics},
              {"workloads", workloads},
              {"artifacts", {{"compile_log", r.compile_log}, {"feedback", r.feedback}}}};
  if (!r.gpu.empty()) out["gpu"] = r.gpu;  // provenance for exports (docs/design.md, Export)
  if (r.counters) {
    json c = {{"passes", r.counters->passes}, {"ms", r.counters->ms}};
    if (!r.counters->unavailable.empty()) c["unavailable"] = r.counters->unavailable;
    out["counters"] = c;
  }
  return out;
}

Result<EvalResult> eval_result_from_json(const nlohmann::json& j) {
  try {
    EvalResult r;
    auto st = parse_eval_status(j.at("status").get<std::string>());
    if (!st) return Status::InvalidArgument("unknown status '" + j.at("status").dump() + "'");
    r.status = *st;
    r.message = j.value("message", "");
    r.fitness = j.value("fitness", 0.0);
    if (j.contains("gpu") && j["gpu"].is_string()) r.gpu = j["gpu"].get<std::string>();
    if (j.contains("metrics")) {
      for (auto it = j["metrics"].begin(); it != j["metrics"].end(); ++it) {
        r.metrics[it.key()] = it.value().get<double>();
      }
    }
    if (j.contains("workloads")) {
      for (const auto& w : j["workloads"]) {
        WorkloadResult wr;
        wr.name = w.at("name").get<std::string>();
        wr.B = w.value("B", 0);
        wr.N = w.value("N", 0);
        wr.Hq = w.value("Hq", 0);
        wr.Hkv = w.value("Hkv", 0);
        wr.D = w.value("D", 0);
        wr.decode_us = w.value("decode_us", 0.0);
        wr.dense_us = w.value("dense_us", 0.0);
        wr.speedup = w.value("speedup", 0.0);
        wr.mean_rel_err = w.value("mean_rel_err", 0.0);
        wr.p99_rel_err = w.value("p99_rel_err", 0.0);
        wr.max_rel_err = w.value("max_rel_err", 0.0);
        wr.worst_call_err = w.value("worst_call_err", 0.0);
        wr.build_us = w.value("build_us", 0.0);
        wr.decode_spread = w.value("decode_spread", 0.0);
        wr.dense_spread = w.value("dense_spread", 0.0);
        if (w.contains("kernels")) {
          for (const auto& k : w["kernels"]) {
            wr.kernels.push_back({k.at("name").get<std::string>(), k.value("us", 0.0),
                                  k.value("registers", 0), k.value("smem_bytes", 0),
                                  k.value("local_bytes", 0)});
            if (k.contains("counters")) {
              auto c = kernel_counters_from_json(k["counters"]);
              if (!c.ok())
                return Status::InvalidArgument("kernel " + wr.kernels.back().name + ": " +
                                               c.status().message());
              wr.kernels.back().counters = std::move(c).value();
            }
          }
        }
        r.workloads.push_back(std::move(wr));
      }
    }
    if (j.contains("counters") && j["counters"].is_object()) {
      const auto& c = j["counters"];
      r.counters =
          CountersRun{c.value("passes", 0), c.value("ms", 0.0), c.value("unavailable", "")};
    }
    if (j.contains("artifacts")) {
      r.compile_log = j["artifacts"].value("compile_log", "");
      r.feedback = j["artifacts"].value("feedback", "");
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("malformed evaluation result: ") + e.what());
  }
}

void merge_counters(EvalResult& into, const EvalResult& from) {
  if (from.counters) into.counters = from.counters;
  for (const WorkloadResult& fw : from.workloads) {
    for (WorkloadResult& w : into.workloads) {
      if (w.name != fw.name) continue;
      for (size_t i = 0; i < w.kernels.size() && i < fw.kernels.size(); ++i) {
        if (w.kernels[i].name == fw.kernels[i].name && fw.kernels[i].counters) {
          w.kernels[i].counters = fw.kernels[i].counters;
        }
      }
    }
  }
}

}  // namespace kevo
