#include "orchestrator/llm/model_client.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "common/utf8.h"

namespace kevo {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Overwrites a string's bytes before it is freed, so the key does not linger in freed heap.
void wipe(std::string& s) {
  volatile char* p = s.data();
  for (size_t i = 0; i < s.size(); ++i) p[i] = 0;
  s.clear();
}

std::string fmt_s(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

}  // namespace

std::string error_detail(const std::string& body) {
  constexpr size_t kMax = 300;
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("error")) {
    const auto& e = j["error"];
    if (e.is_object() && e.contains("message") && e["message"].is_string()) {
      return e["message"].get<std::string>().substr(0, kMax);
    }
    if (e.is_string()) return e.get<std::string>().substr(0, kMax);
  }
  std::string s = body.substr(0, kMax);
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s.empty() ? "(empty body)" : s;
}

Result<nlohmann::json> parse_json_object(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    std::string start = body.substr(0, 80);
    for (char& c : start) {
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    }
    const char* what = j.is_discarded() ? "is not valid JSON (garbage or truncated)"
                                        : "is JSON but not an object";
    return Status::InvalidArgument(std::string("the reply body ") + what + ": " +
                                   std::to_string(body.size()) + " bytes starting '" + start + "'");
  }
  return j;
}

std::string join_url(const std::string& base_url, const std::string& suffix) {
  std::string b = base_url;
  while (!b.empty() && b.back() == '/') b.pop_back();
  return b + suffix;
}

std::string redact(std::string a, const std::string& secret) {
  if (secret.empty()) return a;
  for (size_t pos = a.find(secret); pos != std::string::npos; pos = a.find(secret, pos)) {
    a.replace(pos, secret.size(), "[redacted]");
    pos += 10;
  }
  return a;
}

struct HttpModelClient::Attempt {
  Result<WireReply> reply = Status::Internal("no attempt made");
  int http_status = 0;
  bool retryable = false;
  std::optional<double> retry_after_s;
};

HttpModelClient::HttpModelClient(LlmModelConfig model, LlmClientOptions options,
                                 std::unique_ptr<WireFormat> wire)
    : model_(std::move(model)),
      options_(options),
      wire_(std::move(wire)),
      rng_(options.jitter_seed ^ std::hash<std::string>{}(model_.model)) {}

HttpModelClient::Attempt HttpModelClient::attempt(const LlmRequest& request,
                                                  const std::string& key) const {
  Attempt a;
  http::Request req;
  req.url = wire_->url(model_);
  req.headers = wire_->headers(key);
  req.body = wire_->body(model_, request);
  req.connect_timeout_s = options_.connect_timeout_s;
  req.timeout_s = options_.timeout_s;
  req.max_response_bytes = options_.max_response_bytes;
  req.cancel = options_.cancel;
  http::Outcome out = http::post(req);
  for (auto& h : req.headers) wipe(h);

  switch (out.failure) {
    case http::Failure::kNone:
      break;
    case http::Failure::kTimeout:
      a.reply = Status::Timeout("no complete reply within " + fmt_s(options_.timeout_s));
      a.retryable = true;
      return a;
    case http::Failure::kConnection:
      a.reply = Status::Unavailable("connection to " + req.url + " failed: " + out.error);
      a.retryable = true;
      return a;
    case http::Failure::kTooLarge:
      a.reply = Status::InvalidArgument(out.error);
      return a;
    case http::Failure::kCancelled:
      a.reply = Status::Cancelled("the call was cancelled");
      return a;
    case http::Failure::kOther:
      a.reply = Status::Unavailable("HTTP call to " + req.url + " failed: " + out.error);
      return a;
  }
  const auto& resp = out.response;
  a.http_status = static_cast<int>(resp.status);
  if (resp.retry_after) {
    a.retry_after_s = http::parse_retry_after(*resp.retry_after, std::time(nullptr));
  }
  std::string detail = resp.status >= 300 ? error_detail(resp.body) : "";
  std::string code = "HTTP " + std::to_string(resp.status);
  if (resp.status >= 200 && resp.status < 300) {
    a.reply = wire_->parse(resp.body);
    if (!a.reply.ok()) {
      a.reply = Status::InvalidArgument("malformed reply from " + model_.model + ": " +
                                        a.reply.status().message());
    }
  } else if (resp.status == 429) {
    a.reply = Status::Unavailable("rate limited (" + code + "): " + detail);
    a.retryable = true;
  } else if (resp.status >= 500 || resp.status == 408) {
    a.reply = Status::Unavailable("server error (" + code + "): " + detail);
    a.retryable = true;
  } else if (resp.status == 401 || resp.status == 403) {
    std::string where = model_.api_key_env.empty() ? "no key is configured (api_key_env is empty)"
                                                   : "check the key in $" + model_.api_key_env;
    a.reply = Status::InvalidArgument("authentication failed (" + code + "), " + where + ": " +
                                      detail);
  } else if (resp.status >= 400) {
    a.reply = Status::InvalidArgument("request refused (" + code + "): " + detail);
  } else {
    a.reply = Status::Unavailable("unexpected " + code + " from " + req.url);
  }
  return a;
}

double HttpModelClient::backoff_s(int retry) {
  double d = options_.backoff_initial_s;
  for (int i = 1; i < retry && d < options_.backoff_max_s; ++i) d *= 2;
  d = std::min(d, options_.backoff_max_s);
  // "Equal jitter": half fixed, half random, so many workers hit by one 429 do not return in step.
  std::lock_guard<std::mutex> lock(rng_mu_);
  double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  return d / 2 + u * d / 2;
}

bool HttpModelClient::sleep_unless_cancelled(double seconds) const {
  auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(seconds));
  while (Clock::now() < until) {
    if (options_.cancel && options_.cancel->load()) return false;
    auto left = until - Clock::now();
    std::this_thread::sleep_for(std::min<Clock::duration>(left, std::chrono::milliseconds(50)));
  }
  return !(options_.cancel && options_.cancel->load());
}

Result<LlmReply> HttpModelClient::complete(const LlmRequest& request) {
  auto t0 = Clock::now();
  std::string key;
  if (!model_.api_key_env.empty()) {
    const char* v = std::getenv(model_.api_key_env.c_str());
    if (!v || !*v) {
      Result<LlmReply> r = Status::InvalidArgument("environment variable " + model_.api_key_env +
                                                   " (api_key_env of model " + model_.model +
                                                   ") is not set");
      record(request, r, 0, 0, seconds_since(t0));
      return r;
    }
    key = v;
  }
  Attempt a;
  int attempts = 0;
  for (;;) {
    ++attempts;
    a = attempt(request, key);
    if (a.reply.ok() || !a.retryable || attempts > options_.max_retries) break;
    double wait = backoff_s(attempts);
    if (a.retry_after_s) {
      if (*a.retry_after_s > options_.max_retry_after_s) {
        a.reply = Status(a.reply.status().code(),
                         a.reply.status().message() + " (server asks to wait " +
                             fmt_s(*a.retry_after_s) + ", over the " +
                             fmt_s(options_.max_retry_after_s) + " limit)");
        break;
      }
      wait = std::max(wait, *a.retry_after_s);
    }
    spdlog::warn("llm {}: {}; retry {}/{} in {}", model_.model,
                 redact(a.reply.status().message(), key), attempts, options_.max_retries,
                 fmt_s(wait));
    if (!sleep_unless_cancelled(wait)) {
      a.reply = Status::Cancelled("cancelled while waiting to retry");
      break;
    }
  }
  double latency = seconds_since(t0);
  Result<LlmReply> result = Status::Internal("unset");
  if (a.reply.ok()) {
    LlmReply r;
    r.text = valid_utf8(a.reply->text);
    r.model = model_.model;
    r.finish_reason = a.reply->finish_reason;
    r.tokens_in = a.reply->tokens_in;
    r.tokens_out = a.reply->tokens_out;
    r.cost_usd = (static_cast<double>(r.tokens_in) * model_.usd_per_mtok_in +
                  static_cast<double>(r.tokens_out) * model_.usd_per_mtok_out) / 1e6;
    r.latency_s = latency;
    r.http_status = a.http_status;
    r.attempts = attempts;
    result = std::move(r);
  } else {
    const Status& s = a.reply.status();
    std::string msg = model_.model + ": " + s.message();
    if (attempts > 1) msg += " (after " + std::to_string(attempts) + " attempts)";
    result = Status(s.code(), redact(msg, key));
  }
  wipe(key);
  record(request, result, a.http_status, attempts, latency);
  return result;
}

void HttpModelClient::record(const LlmRequest& request, const Result<LlmReply>& outcome,
                             int http_status, int attempts, double latency_s) const {
  if (!options_.recorder) return;
  LlmCallRecord c = call_record(request, outcome);
  c.provider = wire_->provider();
  c.model = model_.model;
  c.http_status = http_status;
  c.attempts = attempts;
  c.latency_s = latency_s;
  options_.recorder->record(c);
}

}  // namespace kevo
