#include "orchestrator/config/config.h"

#include <cmath>
#include <cstdio>
#include <limits>

namespace kevo {

void bind(YamlSection& s, LlmModelConfig& c) {
  s.field("provider", c.provider);
  s.field("base_url", c.base_url);
  s.field("model", c.model);
  s.field("api_key_env", c.api_key_env);
  s.field("weight", c.weight);
  s.field("temperature", c.temperature);
  s.field("max_tokens", c.max_tokens);
  s.field("reasoning_effort", c.reasoning_effort);
  s.field("reasoning_model", c.reasoning_model);
  // Read into "absent" sentinels, so that a written 0 (a local server) is told from no price.
  const double absent = std::numeric_limits<double>::quiet_NaN();
  // Start from the struct's prices, so that printing the resolved config writes them (and an
  // unknown price as null, which reads back as unknown).
  double in = c.prices_known ? c.usd_per_mtok_in : absent;
  double out = c.prices_known ? c.usd_per_mtok_out : absent;
  s.field("usd_per_mtok_in", in);
  s.field("usd_per_mtok_out", out);
  if (!std::isnan(in) || !std::isnan(out)) {
    c.prices_known = true;
    c.usd_per_mtok_in = std::isnan(in) ? 0 : in;
    c.usd_per_mtok_out = std::isnan(out) ? 0 : out;
  }
  s.field("command", c.command);
  s.field("command_input", c.command_input);
  s.field("max_in_flight", c.max_in_flight);
  if (c.provider != "openai" && c.provider != "anthropic" && c.provider != "command") {
    s.error("provider", "must be 'openai' (any OpenAI-compatible server), 'anthropic' or 'command'");
  }
  if (c.provider == "command") {
    if (c.command.empty() || c.command[0].empty()) {
      s.error("command", "is required for provider 'command': the program and its arguments, "
                         "e.g. [\"my-agent\", \"--print\"]");
    }
    if (c.model.empty() && !c.command.empty()) c.model = c.command[0];
  } else if (!c.command.empty()) {
    s.error("command", "is only read for provider 'command'");
  }
  if (c.command_input != "text" && c.command_input != "json") {
    s.error("command_input", "must be 'text' or 'json'");
  }
  if (c.model.empty()) s.error("model", "is required");
  if (c.weight <= 0) s.error("weight", "must be > 0");
  if (c.max_in_flight < 0) s.error("max_in_flight", "must be >= 0 (0: only llm.max_in_flight)");
}

void bind(YamlSection& s, LlmConfig& c) {
  s.section_list("models", c.models);
  s.field("max_in_flight", c.max_in_flight);
  s.field("timeout_s", c.timeout_s);
  s.field("connect_timeout_s", c.connect_timeout_s);
  s.field("max_retries", c.max_retries);
  s.field("backoff_initial_s", c.backoff_initial_s);
  s.field("backoff_max_s", c.backoff_max_s);
  s.field("replay_from", c.replay_from);
  s.field("max_requests", c.max_requests);
  s.field("breaker_window", c.breaker_window);
  s.field("breaker_pause_s", c.breaker_pause_s);
  s.field("breaker_max_pause_s", c.breaker_max_pause_s);
  s.field("parent_max_failures", c.parent_max_failures);
  s.field("parent_rest_s", c.parent_rest_s);
  s.field("whole_file_share", c.whole_file_share);
  if (c.max_in_flight < 1) s.error("max_in_flight", "must be >= 1");
  if (c.timeout_s <= 0) s.error("timeout_s", "must be > 0");
  if (c.connect_timeout_s <= 0) s.error("connect_timeout_s", "must be > 0");
  if (c.max_retries < 0) s.error("max_retries", "must be >= 0");
  if (c.max_requests < 0) s.error("max_requests", "must be >= 0 (0: 3 x run.max_evaluations)");
  if (c.breaker_window < 1) s.error("breaker_window", "must be >= 1");
  if (c.breaker_pause_s <= 0) s.error("breaker_pause_s", "must be > 0");
  if (c.breaker_max_pause_s < c.breaker_pause_s) {
    s.error("breaker_max_pause_s", "must be >= breaker_pause_s");
  }
  if (c.parent_max_failures < 1) s.error("parent_max_failures", "must be >= 1");
  if (c.parent_rest_s < 0) s.error("parent_rest_s", "must be >= 0");
  if (c.whole_file_share < 0 || c.whole_file_share > 1) {
    s.error("whole_file_share", "must be between 0 and 1");
  }
}

int effective_max_requests(const LlmConfig& llm, int max_evaluations) {
  return llm.max_requests > 0 ? llm.max_requests : 3 * max_evaluations;
}

void bind(YamlSection& s, RunConfig& c) {
  s.field("name", c.name);
  s.field("runs_dir", c.runs_dir);
  s.field("seed", c.seed);
  s.field("seeds", c.seeds);
  s.field("max_evaluations", c.max_evaluations);
  s.field("max_cost_usd", c.max_cost_usd);
  s.field("max_wall_minutes", c.max_wall_minutes);
  s.field("tuner_share", c.tuner_share);
  s.field("gpus", c.gpus);
  s.field("allow_mixed_gpus", c.allow_mixed_gpus);
  if (c.gpus.empty()) s.error("gpus", "must be 'all' or GPU indices such as 0,2");
  if (c.name.empty() || c.name.find('/') != std::string::npos) {
    s.error("name", "must be a non-empty name without '/'");
  }
  if (c.max_evaluations < 1) s.error("max_evaluations", "must be >= 1");
  if (c.tuner_share < 0 || c.tuner_share > 1) s.error("tuner_share", "must be between 0 and 1");
}

void bind(YamlSection& s, QueueConfig& c) {
  s.field("gpu_model", c.gpu_model);
  s.field("max_claims", c.max_claims);
  s.field("slots", c.slots);
  if (c.max_claims < 1) s.error("max_claims", "must be >= 1");
  if (c.slots < 1) s.error("slots", "must be >= 1");
}

void bind(YamlSection& s, KevoConfig& c) {
  s.section("run", c.run);
  s.section("llm", c.llm);
  s.section("evaluator", c.evaluator);
  s.section("sandbox", c.sandbox);
  s.section("archive", c.archive);
  s.section("queue", c.queue);
}

Result<KevoConfig> load_config(const std::string& path) {
  KevoConfig c;
  KEVO_RETURN_IF_ERROR(load_yaml_config_file(path, c));
  return c;
}

}  // namespace kevo
