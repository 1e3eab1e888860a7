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
  // "openai" (any OpenAI-compatible server), "anthropic", or "command" (a program that reads the
  // prompt on stdin and writes the reply on stdout: a coding-agent CLI, a local script).
  std::string provider = "openai";
  std::string base_url = "https://api.openai.com/v1";
  std::string model;  // the model's name; for a command, the label its calls are recorded under
  std::string api_key_env = "OPENAI_API_KEY";  // the variable's name; the key never enters a file
  double weight = 1.0;                         // share of requests in a weighted ensemble
  double temperature = 0.8;                    // diversity matters more than the single best reply
  int max_tokens = 16384;                      // a whole kernel file fits with room to reason
  std::string reasoning_effort;                // for reasoning models ("low", "medium", "high")
  // Reasoning models (OpenAI o-series, gpt-5...) refuse `temperature` and `max_tokens`: when true,
  // the request sends `max_completion_tokens` and no temperature (Anthropic: no temperature).
  bool reasoning_model = false;
  // Prices per million tokens, for cost accounting and the max_cost_usd budget. A model whose
  // prices are not written cannot be held to a budget: that is a config error while
  // run.max_cost_usd is set (write 0 for a local server).
  double usd_per_mtok_in = 0;
  double usd_per_mtok_out = 0;
  bool prices_known = false;  // set when the config writes either price
  // provider: command. argv of the program (no shell), run in an empty temporary folder with
  // kevo's environment; llm.timeout_s bounds each call. `command_input: json` sends
  // {"system": ..., "messages": [{"role", "content"}...]} instead of plain text.
  std::vector<std::string> command;
  std::string command_input = "text";
  // Requests of this model in flight at once, under llm.max_in_flight (0: no cap of its own). A
  // coding agent on this machine is a process with its own appetite: 2 keeps it civil.
  int max_in_flight = 0;
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

  // ---- Spending: every request counts, answered or not ----
  // Requests the run may send in all (retries included; a resumed run counts its earlier ones).
  // 0: 3 x run.max_evaluations, room for a retry per child and replies that give nothing.
  int max_requests = 0;
  // A model whose last `breaker_window` replies gave no child (no usable edit, no match, a
  // compile error, a failed request) pauses for breaker_pause_s, doubling up to
  // breaker_max_pause_s each time it trips again without a child in between.
  int breaker_window = 12;
  double breaker_pause_s = 60;
  double breaker_max_pause_s = 1800;
  // A parent whose last `parent_max_failures` asks all failed rests for parent_rest_s (doubling
  // each time), and selection takes another elite: 71% of one run's requests went to one parent.
  int parent_max_failures = 4;
  double parent_rest_s = 300;
  // Share of requests that ask for the whole file rewritten rather than SEARCH/REPLACE blocks:
  // larger moves (new kernels, another plan) at a higher price per reply.
  double whole_file_share = 0.2;
};

// The request bound in effect: max_requests, or 3 x max_evaluations when it is 0.
int effective_max_requests(const LlmConfig& llm, int max_evaluations);

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
  // This host's GPUs to evaluate on, one runner each: "all" or indices ("0,2"). A GPU listed
  // twice (two runners on one GPU) only tests the multi-runner path: it needs
  // KEVO_ALLOW_SHARED_GPU=1.
  std::string gpus = "all";
  // Speedups measured on different GPU models are not comparable: such GPUs are refused together
  // unless this is set, and then each model gets islands of its own (results never compete).
  bool allow_mixed_gpus = false;
};

void bind(YamlSection& s, RunConfig& c);

// A run whose GPUs are `kevo worker` processes (a PostgreSQL archive, or `kevo run --workers`).
struct QueueConfig {
  // The GPU model the run's tasks are for (a worker's GPU name, "NVIDIA H200"); "" takes the model
  // of the workers that register, and keeps it for the run.
  std::string gpu_model;
  // Workers a candidate may take down (a worker killed, a host lost mid-evaluation) before it is
  // recorded as crash: one loss can be bad luck, two in a row is the candidate.
  int max_claims = 2;
  // Evaluations waited on at once: at least the workers' GPUs in all.
  int slots = 64;
};

void bind(YamlSection& s, QueueConfig& c);

struct KevoConfig {
  RunConfig run;
  LlmConfig llm;
  EvaluatorConfig evaluator;
  SandboxConfig sandbox;
  ArchiveConfig archive;
  QueueConfig queue;
};

void bind(YamlSection& s, KevoConfig& c);

// Loads a config file; InvalidArgument with "file:line: key 'a.b': what" on any problem.
Result<KevoConfig> load_config(const std::string& path);

}  // namespace kevo
