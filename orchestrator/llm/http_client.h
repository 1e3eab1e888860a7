// A blocking HTTP POST over libcurl with the limits an LLM call needs (private to orchestrator/).
// Thread-safe: every call uses its own curl easy handle.
#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace kevo::http {

struct Request {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"; may hold secrets, never logged
  std::string body;
  double connect_timeout_s = 10;
  double timeout_s = 300;
  size_t max_response_bytes = 8u << 20;
  const std::atomic<bool>* cancel = nullptr;  // aborts the transfer when it turns true
};

struct Response {
  long status = 0;
  std::string body;
  std::optional<std::string> retry_after;  // the raw Retry-After header, if any
};

// A transport failure, told apart so the caller can decide whether to retry.
enum class Failure { kNone, kTimeout, kConnection, kTooLarge, kCancelled, kOther };

struct Outcome {
  Failure failure = Failure::kNone;
  std::string error;  // curl's words for the failure; empty when a response came
  Response response;  // valid when failure == kNone (any HTTP status)
};

// Never throws. The body is capped at max_response_bytes (kTooLarge beyond).
Outcome post(const Request& request);

// Seconds to wait from a Retry-After value: delta-seconds ("120") or an HTTP-date
// ("Wed, 21 Oct 2015 07:28:00 GMT") relative to `now`. nullopt when unparseable; a date in the
// past gives 0.
std::optional<double> parse_retry_after(const std::string& value, std::time_t now);

}  // namespace kevo::http
