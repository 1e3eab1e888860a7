#include "orchestrator/cli/doctor_llm.h"

#include <cstdio>
#include <cstdlib>

#include "orchestrator/config/config.h"
#include "orchestrator/llm/llm_client.h"

namespace kevo::cli {
namespace {

using nlohmann::json;

bool loopback(const std::string& url) {
  return url.find("://127.") != std::string::npos ||
         url.find("://localhost") != std::string::npos || url.find("://[::1]") != std::string::npos;
}

// One short request, no retries: a doctor says what is wrong now rather than waiting it out.
json probe_model(const LlmModelConfig& model) {
  LlmModelConfig m = model;
  m.max_tokens = 16;  // "OK" and room for a reasoning model's preamble
  LlmClientOptions options;
  options.max_retries = 0;
  options.connect_timeout_s = 10;
  options.timeout_s = 60;
  auto client = make_model_client(m, options);
  if (!client.ok()) return {{"ok", false}, {"error", client.status().message()}};
  auto reply = (*client)->complete(
      LlmRequest::single("You are a connectivity probe.", "Reply with the word OK.", "doctor-probe"));
  if (!reply.ok()) return {{"ok", false}, {"error", reply.status().message()}};
  std::string text = reply->text.substr(0, 40);
  for (char& c : text) c = c == '\n' ? ' ' : c;
  return {{"ok", true},
          {"latency_s", reply->latency_s},
          {"reply", text},
          {"tokens_in", reply->tokens_in},
          {"tokens_out", reply->tokens_out}};
}

}  // namespace

json llm_report(const std::string& config_path, bool probe) {
  json out = {{"configured", false}, {"models", json::array()}};
  std::vector<LlmModelConfig> models;
  if (!config_path.empty()) {
    auto cfg = load_config(config_path);
    if (!cfg.ok()) {
      out["error"] = cfg.status().message();
      return out;
    }
    models = cfg->llm.models;
  } else if (const char* key = std::getenv("OPENAI_API_KEY"); key && *key) {
    // What `kevo run` uses when the config names no model and OPENAI_API_KEY is set.
    LlmModelConfig m;
    m.model = "gpt-4.1-mini";
    models.push_back(m);
  }
  for (const auto& m : models) {
    const char* key = m.api_key_env.empty() ? nullptr : std::getenv(m.api_key_env.c_str());
    const bool key_set = key && *key;
    const bool needed = !m.api_key_env.empty();
    json row = {{"provider", m.provider},       {"model", m.model},   {"base_url", m.base_url},
                {"api_key_env", m.api_key_env}, {"key_set", key_set}, {"key_needed", needed}};
    if (probe) row["probe"] = probe_model(m);
    if (key_set || !needed || loopback(m.base_url)) out["configured"] = true;
    out["models"].push_back(row);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> llm_rows(const json& report) {
  std::vector<std::pair<std::string, std::string>> rows;
  if (report.contains("error")) {
    rows.push_back({"LLM", "config error: " + report["error"].get<std::string>()});
    return rows;
  }
  if (report["models"].empty()) {
    rows.push_back({"LLM",
                    "none: runs use the built-in tuner (set OPENAI_API_KEY, or list models "
                    "under llm: in a config and pass --config)"});
    return rows;
  }
  int i = 0;
  for (const auto& m : report["models"]) {
    std::string key;
    if (!m["key_needed"].get<bool>()) {
      key = "no key (api_key_env is empty)";
    } else {
      key = "key $" + m["api_key_env"].get<std::string>() +
            (m["key_set"].get<bool>() ? " set" : " NOT SET");
    }
    rows.push_back({"LLM model " + std::to_string(++i),
                    m["model"].get<std::string>() + " (" + m["provider"].get<std::string>() + ", " +
                        m["base_url"].get<std::string>() + "): " + key});
    if (!m.contains("probe")) continue;
    const json& p = m["probe"];
    if (p["ok"].get<bool>()) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.2f s", p["latency_s"].get<double>());
      rows.push_back({"  probe", std::string("ok in ") + buf + ", replied \"" +
                                     p["reply"].get<std::string>() + "\""});
    } else {
      rows.push_back({"  probe", "FAILED: " + p["error"].get<std::string>()});
    }
  }
  return rows;
}

}  // namespace kevo::cli
