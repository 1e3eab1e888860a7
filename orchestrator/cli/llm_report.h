// The LLM part of `kevo status` (text and JSON), read from the archive: requests, children and
// rejections by reason per model, accept rates, tokens, cost (or "price unknown"), and which
// models a breaker holds or why requests stopped.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "archive/archive.h"

namespace kevo::cli {

struct LlmReport {
  struct Model {
    std::string name;
    int64_t requests = 0, children = 0, rejected = 0, pending = 0;
    std::map<std::string, int64_t> outcomes;  // every outcome, "child" included
    int64_t tokens_in = 0, tokens_out = 0;
    double cost_usd = 0;
    bool price_known = true;
    std::string paused;  // "until 12:03:04 UTC: no SEARCH/REPLACE blocks" while paused
  };
  std::vector<Model> models;
  int64_t requests = 0, children = 0, rejected = 0;
  std::string stopped;  // why no more requests go out, from the run's events
};

// `run_config` is the run's stored configuration text (for prices). `now` in unix seconds.
Result<LlmReport> read_llm_report(ArchiveReader& reader, const std::string& run_config,
                                  double now);
std::string llm_report_text(const LlmReport& r);
nlohmann::json llm_report_json(const LlmReport& r);

}  // namespace kevo::cli
