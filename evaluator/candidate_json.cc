// JSON forms of Candidate and CompileOutcome: what compile workers send back over their pipe
// and what the compile cache stores. The CUBIN travels as base64.
#include "common/base64.h"
#include "evaluator/evaluator.h"

namespace kevo {

nlohmann::json to_json(const Candidate& c) {
  return {{"name", c.name}, {"source", c.source}, {"params", c.params}};
}

Result<Candidate> candidate_from_json(const nlohmann::json& j) {
  try {
    Candidate c;
    c.name = j.value("name", "");
    c.source = j.at("source").get<std::string>();
    if (j.contains("params")) c.params = j.at("params").get<std::map<std::string, int64_t>>();
    return c;
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("malformed candidate: ") + e.what());
  }
}

nlohmann::json to_json(const CompileOutcome& o) {
  nlohmann::json kernels = nlohmann::json::array();
  for (const auto& k : o.kernels) {
    kernels.push_back({{"name", k.name}, {"registers", k.registers}, {"smem_bytes", k.smem_bytes},
                       {"local_bytes", k.local_bytes}, {"spill_stores", k.spill_stores},
                       {"spill_loads", k.spill_loads}});
  }
  return {{"status", eval_status_name(o.status)}, {"message", o.message},
          {"cubin_base64", base64_encode(o.cubin)}, {"log", o.log},
          {"compile_ms", o.compile_ms}, {"cache_hit", o.cache_hit},
          {"params", o.params}, {"kernels", kernels}};
}

Result<CompileOutcome> compile_outcome_from_json(const nlohmann::json& j) {
  try {
    CompileOutcome o;
    auto st = parse_eval_status(j.at("status").get<std::string>());
    if (!st) return Status::InvalidArgument("malformed compile outcome: unknown status " + j.at("status").dump());
    o.status = *st;
    o.message = j.value("message", "");
    auto cubin = base64_decode(j.value("cubin_base64", ""));
    if (!cubin.ok()) return Status::InvalidArgument("malformed compile outcome: cubin_base64: " + cubin.status().message());
    o.cubin = std::move(cubin).value();
    o.log = j.value("log", "");
    o.compile_ms = j.value("compile_ms", 0.0);
    o.cache_hit = j.value("cache_hit", false);
    if (j.contains("params")) o.params = j.at("params").get<std::map<std::string, int64_t>>();
    if (j.contains("kernels")) {
      for (const auto& k : j.at("kernels")) {
        o.kernels.push_back({k.at("name").get<std::string>(), k.value("registers", 0),
                             k.value("smem_bytes", 0), k.value("local_bytes", 0),
                             k.value("spill_stores", 0), k.value("spill_loads", 0)});
      }
    }
    return o;
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("malformed compile outcome: ") + e.what());
  }
}

}  // namespace kevo
