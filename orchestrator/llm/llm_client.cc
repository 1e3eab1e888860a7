// Factories, the weighted ensemble and the replay client (see llm_client.h).
#include "orchestrator/llm/llm_client.h"

#include <mutex>
#include <random>

#include "orchestrator/llm/anthropic_client.h"
#include "orchestrator/llm/command_client.h"
#include "orchestrator/llm/openai_client.h"

namespace kevo {
namespace {

class EnsembleClient : public LlmClient {
 public:
  EnsembleClient(std::vector<std::pair<std::unique_ptr<LlmClient>, double>> members, uint64_t seed)
      : members_(std::move(members)), rng_(seed) {
    for (const auto& m : members_) {
      assert(m.first && m.second > 0 && "ensemble members need a client and a positive weight");
      total_ += m.second;
    }
    assert(!members_.empty());
  }

  Result<LlmReply> complete(const LlmRequest& request) override {
    return pick().complete(request);
  }

 private:
  LlmClient& pick() {
    if (members_.size() == 1) return *members_[0].first;
    double u;
    {
      std::lock_guard<std::mutex> lock(mu_);
      u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;  // [0, 1), same on every platform
    }
    double x = u * total_;
    for (auto& m : members_) {
      if (x < m.second) return *m.first;
      x -= m.second;
    }
    return *members_.back().first;  // rounding at the top end
  }

  std::vector<std::pair<std::unique_ptr<LlmClient>, double>> members_;
  double total_ = 0;
  std::mutex mu_;
  std::mt19937_64 rng_;
};

class ReplayClient : public LlmClient {
 public:
  ReplayClient(std::vector<LlmCallRecord> records, CallRecorder* recorder)
      : records_(std::move(records)), recorder_(recorder) {}

  Result<LlmReply> complete(const LlmRequest& request) override {
    size_t i;
    {
      std::lock_guard<std::mutex> lock(mu_);
      i = next_++;
    }
    if (i >= records_.size()) {
      Result<LlmReply> r = Status::NotFound("replay exhausted: all " +
                                            std::to_string(records_.size()) +
                                            " recorded calls were used");
      record(request, nullptr, r);
      return r;
    }
    const LlmCallRecord& rec = records_[i];
    Result<LlmReply> r = Status::Internal("unset");
    if (rec.code == StatusCode::kOk) {
      LlmReply reply;
      reply.text = rec.response;
      reply.model = rec.model;
      reply.finish_reason = rec.finish_reason;
      reply.tokens_in = rec.tokens_in;
      reply.tokens_out = rec.tokens_out;
      reply.cost_usd = rec.cost_usd;  // what the original call cost; budgets replay identically
      reply.latency_s = 0;
      reply.http_status = rec.http_status;
      reply.attempts = rec.attempts;
      r = std::move(reply);
    } else {
      r = Status(rec.code, rec.error.empty() ? std::string("recorded failure") : rec.error);
    }
    record(request, &rec, r);
    return r;
  }

 private:
  void record(const LlmRequest& request, const LlmCallRecord* rec, const Result<LlmReply>& r) {
    if (!recorder_) return;
    LlmCallRecord c = call_record(request, r);
    c.provider = "replay";
    c.model = rec ? rec->model : "";
    recorder_->record(c);
  }

  std::vector<LlmCallRecord> records_;
  CallRecorder* recorder_;
  std::mutex mu_;
  size_t next_ = 0;
};

}  // namespace

LlmRequest LlmRequest::single(std::string system, std::string user, std::string tag) {
  LlmRequest r;
  r.system = std::move(system);
  r.messages.push_back({"user", std::move(user)});
  r.tag = std::move(tag);
  return r;
}

const std::string& LlmRequest::last_user() const {
  static const std::string kNone;
  for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
    if (it->role == "user") return it->content;
  }
  return kNone;
}

LlmClientOptions client_options_from_config(const LlmConfig& config) {
  LlmClientOptions o;
  o.connect_timeout_s = config.connect_timeout_s;
  o.timeout_s = config.timeout_s;
  o.max_retries = config.max_retries;
  o.backoff_initial_s = config.backoff_initial_s;
  o.backoff_max_s = config.backoff_max_s;
  return o;
}

Result<std::unique_ptr<LlmClient>> make_model_client(const LlmModelConfig& model,
                                                     const LlmClientOptions& options) {
  if (model.provider == "openai") return make_openai_client(model, options);
  if (model.provider == "anthropic") return make_anthropic_client(model, options);
  if (model.provider == "command") return make_command_client(model, options);
  return Status::InvalidArgument("model '" + model.model + "': unknown provider '" +
                                 model.provider + "' (expected openai, anthropic or command)");
}

std::unique_ptr<LlmClient> make_ensemble_client(
    std::vector<std::pair<std::unique_ptr<LlmClient>, double>> members, uint64_t seed) {
  return std::make_unique<EnsembleClient>(std::move(members), seed);
}

Result<std::vector<std::unique_ptr<LlmClient>>> make_model_clients(
    const LlmConfig& config, CallRecorder* recorder, uint64_t seed,
    const std::atomic<bool>* cancel) {
  if (config.models.empty()) {
    return Status::InvalidArgument("no LLM model is configured (llm.models is empty)");
  }
  LlmClientOptions options = client_options_from_config(config);
  options.recorder = recorder;
  options.cancel = cancel;
  options.jitter_seed = seed;
  std::vector<std::unique_ptr<LlmClient>> out;
  for (const auto& m : config.models) {
    if (m.weight <= 0) {
      return Status::InvalidArgument("model '" + m.model + "': weight must be positive");
    }
    KEVO_ASSIGN_OR_RETURN(auto client, make_model_client(m, options));
    out.push_back(std::move(client));
  }
  return out;
}

Result<std::unique_ptr<LlmClient>> make_llm_client(const LlmConfig& config, CallRecorder* recorder,
                                                   uint64_t seed,
                                                   const std::atomic<bool>* cancel) {
  KEVO_ASSIGN_OR_RETURN(auto clients, make_model_clients(config, recorder, seed, cancel));
  std::vector<std::pair<std::unique_ptr<LlmClient>, double>> members;
  for (size_t i = 0; i < clients.size(); ++i) {
    members.emplace_back(std::move(clients[i]), config.models[i].weight);
  }
  return make_ensemble_client(std::move(members), seed);
}

LlmCallRecord call_record(const LlmRequest& request, const Result<LlmReply>& outcome) {
  LlmCallRecord c;
  c.tag = request.tag;
  c.system = request.system;
  c.messages = request.messages;
  c.parent = request.parent;
  c.attempt = request.attempt;
  if (outcome.ok()) {
    c.response = outcome->text;
    c.tokens_in = outcome->tokens_in;
    c.tokens_out = outcome->tokens_out;
    c.cost_usd = outcome->cost_usd;
    c.http_status = outcome->http_status;
    c.attempts = outcome->attempts;
    c.finish_reason = outcome->finish_reason;
  } else {
    c.code = outcome.status().code();
    c.error = outcome.status().message();
  }
  return c;
}

std::unique_ptr<LlmClient> make_replay_client(std::vector<LlmCallRecord> records,
                                              CallRecorder* recorder) {
  return std::make_unique<ReplayClient>(std::move(records), recorder);
}

}  // namespace kevo
