#include "sandbox/protocol.h"

namespace kevo::sandbox {

// Every field must cross the pipe: a field missing here would silently take its default in the
// runner. tests/sandbox_protocol_test.cc fails when EvaluatorConfig's size changes, as a reminder
// to list new fields. A name the struct does not have (yet) is skipped.
#define KEVO_EVALUATOR_CONFIG_FIELDS(X)                                                           \
  X(quick_suite)                                                                                  \
  X(suite) X(holdout_suite) X(max_mean_rel_err) X(index_cap_bytes_per_token) X(warmup_iterations) \
      X(min_iterations) X(max_iterations) X(target_spread) X(max_seconds_per_workload)            \
          X(kernel_timeout_s) X(arch) X(counters) X(counters_workloads)

namespace {
template <typename C>
nlohmann::json config_to_json(const C& c) {
  nlohmann::json j = nlohmann::json::object();
#define KEVO_TO(f) \
  if constexpr (requires { c.f; }) j[#f] = c.f;
  KEVO_EVALUATOR_CONFIG_FIELDS(KEVO_TO)
#undef KEVO_TO
  return j;
}

template <typename C>
void config_from_json(const nlohmann::json& j, C& c) {
#define KEVO_FROM(f) \
  if constexpr (requires { c.f; })  \
    if (j.contains(#f)) j.at(#f).get_to(c.f);
  KEVO_EVALUATOR_CONFIG_FIELDS(KEVO_FROM)
#undef KEVO_FROM
}
}  // namespace

nlohmann::json evaluator_config_to_json(const EvaluatorConfig& c) { return config_to_json(c); }

Result<EvaluatorConfig> evaluator_config_from_json(const nlohmann::json& j) {
  EvaluatorConfig c;
  try {
    config_from_json(j, c);
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("evaluator config: ") + e.what());
  }
  return c;
}

Result<nlohmann::json> parse_message(const std::string& line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    std::string head = line.substr(0, 120);
    return Status::InvalidArgument("not a JSON object: '" + head + (line.size() > 120 ? "...'" : "'"));
  }
  return j;
}

}  // namespace kevo::sandbox
