#include "orchestrator/config.h"

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
  s.field("usd_per_mtok_in", c.usd_per_mtok_in);
  s.field("usd_per_mtok_out", c.usd_per_mtok_out);
  if (c.provider != "openai" && c.provider != "anthropic") {
    s.error("provider", "must be 'openai' (any OpenAI-compatible server) or 'anthropic'");
  }
  if (c.model.empty()) s.error("model", "is required");
  if (c.weight <= 0) s.error("weight", "must be positive");
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
  if (c.max_in_flight < 1) s.error("max_in_flight", "must be at least 1");
  if (c.timeout_s <= 0) s.error("timeout_s", "must be positive");
  if (c.connect_timeout_s <= 0) s.error("connect_timeout_s", "must be positive");
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
  if (c.name.empty() || c.name.find('/') != std::string::npos) {
    s.error("name", "must be a non-empty name without '/'");
  }
  if (c.max_evaluations < 1) s.error("max_evaluations", "must be at least 1");
  if (c.tuner_share < 0 || c.tuner_share > 1) s.error("tuner_share", "must be between 0 and 1");
}

void bind(YamlSection& s, KevoConfig& c) {
  s.section("run", c.run);
  s.section("llm", c.llm);
  s.section("evaluator", c.evaluator);
  s.section("sandbox", c.sandbox);
  s.section("archive", c.archive);
}

Result<KevoConfig> load_config(const std::string& path) {
  KevoConfig c;
  KEVO_RETURN_IF_ERROR(load_yaml_config_file(path, c));
  return c;
}

}  // namespace kevo
