#include "orchestrator/evolution/backend.h"

#include "common/log.h"

namespace kevo {

Result<std::unique_ptr<SandboxBackend>> SandboxBackend::start(const KevoConfig& config,
                                                              const std::vector<GpuInfo>& gpus,
                                                              const std::string& compile_cache_dir) {
  if (gpus.empty()) return Status::Unavailable("no GPU: evolution needs at least one");
  auto backend = std::unique_ptr<SandboxBackend>(new SandboxBackend());
  CompileOptions opt;
  opt.arch = config.evaluator.arch == "auto" ? gpus.front().arch() : config.evaluator.arch;
  opt.cache_dir = compile_cache_dir;
  opt.timeout_s = config.sandbox.compile_timeout_s;
  KEVO_ASSIGN_OR_RETURN(backend->pool_, CompilePool::start(config.sandbox, opt));
  for (const GpuInfo& g : gpus) {
    KEVO_ASSIGN_OR_RETURN(auto runner, GpuRunner::start(g.index, config.sandbox, config.evaluator));
    backend->runners_.push_back(std::move(runner));
  }
  return backend;
}

std::future<CompileOutcome> SandboxBackend::compile(Candidate candidate) {
  return pool_->submit(std::move(candidate));
}

EvalResult SandboxBackend::evaluate(int gpu, const Candidate& candidate,
                                    const CompileOutcome& compiled, const std::string& suite) {
  return runners_.at(gpu)->evaluate(candidate, compiled, suite);
}

EvalResult SandboxBackend::measure_counters(int gpu, const Candidate& candidate,
                                            const CompileOutcome& compiled,
                                            const std::string& suite) {
  EvalOptions options;
  options.counters_only = true;
  return runners_.at(gpu)->evaluate(candidate, compiled, suite, options);
}

void ArchiveCallRecorder::record(const LlmCallRecord& c) {
  LlmCall call;
  call.model = c.model;
  call.provider = c.provider;
  nlohmann::json messages = nlohmann::json::array();
  for (const ChatMessage& m : c.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
  // Replace, never throw: a prompt may carry bytes of a compile log that are not UTF-8.
  call.prompt = nlohmann::json{{"system", c.system}, {"messages", messages}, {"tag", c.tag}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  call.tag = c.tag;
  if (c.parent > 0) call.parent = c.parent;
  call.attempt = c.attempt;
  if (c.code != StatusCode::kOk) {
    call.outcome = c.code == StatusCode::kCancelled ? "cancelled" : "request_failed";
  }
  call.response = c.response;
  call.tokens_in = c.tokens_in;
  call.tokens_out = c.tokens_out;
  call.cost_usd = c.cost_usd;
  call.latency_s = c.latency_s;
  call.status = c.code == StatusCode::kOk ? "ok" : status_code_name(c.code);
  call.error = c.error;
  auto id = archive_.record_llm_call(call);
  if (!id.ok()) {
    spdlog::error("archive: recording an LLM call: {}", id.status().message());
    return;
  }
  std::lock_guard lock(mu_);
  ids_by_tag_[c.tag] = *id;
}

std::optional<LlmCallId> ArchiveCallRecorder::take_id(const std::string& tag) {
  std::lock_guard lock(mu_);
  auto it = ids_by_tag_.find(tag);
  if (it == ids_by_tag_.end()) return std::nullopt;
  LlmCallId id = it->second;
  ids_by_tag_.erase(it);
  return id;
}

Result<std::vector<LlmCallRecord>> load_recorded_calls(const std::string& db_path) {
  KEVO_ASSIGN_OR_RETURN(auto reader, ArchiveReader::open(db_path));
  std::vector<LlmCallRecord> out;
  for (LlmCallId id = 1;; ++id) {
    auto call = reader->llm_call(id);
    if (!call.ok()) break;
    if (call->provider == "replay") continue;  // a replayed run's own records: use the originals
    LlmCallRecord r;
    r.provider = call->provider;
    r.model = call->model;
    auto prompt = nlohmann::json::parse(call->prompt, nullptr, false);
    if (prompt.is_object()) {
      r.system = prompt.value("system", "");
      r.tag = prompt.value("tag", "");
      if (prompt.contains("messages") && prompt["messages"].is_array()) {
        for (const auto& m : prompt["messages"]) {
          if (m.is_object()) r.messages.push_back({m.value("role", ""), m.value("content", "")});
        }
      } else if (prompt.contains("user")) {  // archives of schema 3 and before
        r.messages.push_back({"user", prompt.value("user", "")});
      }
    }
    r.parent = call->parent.value_or(0);
    r.attempt = call->attempt;
    r.response = call->response;
    r.tokens_in = call->tokens_in;
    r.tokens_out = call->tokens_out;
    r.cost_usd = call->cost_usd;
    r.latency_s = call->latency_s;
    r.code = call->status == "ok" ? StatusCode::kOk : StatusCode::kUnavailable;
    r.error = call->error;
    out.push_back(std::move(r));
  }
  if (out.empty()) return Status::NotFound("no recorded LLM calls in '" + db_path + "' to replay");
  return out;
}

}  // namespace kevo
