// The whole run configuration: one YAML file (configs/*.yaml) mapped onto these structs.
// Unknown keys and wrong types are errors naming the key and its line (common/yaml_config.h).
#pragma once

#include <string>
#include <vector>

#include "archive/config.h"
#include "common/yaml_config.h"
#include "evaluator/config.h"
#include "sandbox/config.h"

namespace kevo {

struct LlmModelConfig {
  std::string provider = "openai";  // "openai" (any OpenAI-compatible server) or "anthropic"
  std::string base_url = "https://api.openai.com/v1";
  std::string model;
  std::string api_key_env = "OPENAI_API_KEY";  // the variable's name; the key never enters a file
  double weight = 1.0;                         // share of requests in a weighted ensemble
  double temperature = 0.8;                    // diversity matters more than the single best reply
  int max_tokens = 16384;                      // a whole kernel file fits with room to reason
  std::string reasoning_effort;                // for reasoning models ("low", "medium", "high")
  // Reasoning models (OpenAI o-series, gpt-5...) refuse `temperature` and `max_tokens`: when true,
  // the request sends `max_completion_tokens` and no temperature (Anthropic: no temperature).
  bool reasoning_model = false;
  double usd_per_mtok_in = 0;                  // price table for cost accounting
  double usd_per_mtok_out = 0;
};

void bind(YamlSection& s, LlmModelConfig& c);

struct LlmConfig {
  std::vector<LlmModelConfig> models;  // empty: no LLM, the built-in tuner does everything
  // Many slow requests in flight keep the GPU busy (a reply takes 10-60 s, an evaluation ~1-3 s).
  int max_in_flight = 16;
  double timeout_s = 300;  // reasoning models can think for minutes
  double connect_timeout_s = 10;  // a server that does not accept in 10 s is down; retry instead
  int max_retries = 4;
  double backoff_initial_s = 2;
  double backoff_max_s = 60;
  std::string replay_from;  // path to a kevo.db whose recorded replies are replayed instead
};

void bind(YamlSection& s, LlmConfig& c);

struct RunConfig {
  std::string name = "quickstart";
  std::string runs_dir = "kevo-runs";
  uint64_t seed = 1;  // drives selection, tuner and workload data: same seed, same run
  std::vector<std::string> seeds = {"hash_topk", "quest_pages", "dense_flashdecode"};
  int max_evaluations = 200;
  double max_cost_usd = 10;
  double max_wall_minutes = 60;
  // Share of children made by the built-in tuner when an LLM is configured (1.0 without one).
  double tuner_share = 0.3;
};

void bind(YamlSection& s, RunConfig& c);

struct KevoConfig {
  RunConfig run;
  LlmConfig llm;
  EvaluatorConfig evaluator;
  SandboxConfig sandbox;
  ArchiveConfig archive;
};

void bind(YamlSection& s, KevoConfig& c);

// Loads a config file; InvalidArgument with "file:line: key 'a.b': what" on any problem.
Result<KevoConfig> load_config(const std::string& path);

}  // namespace kevo
