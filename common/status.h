// Errors as values for expected failures (a file that does not parse, an HTTP 429, a compile
// error). Bugs are asserts; exceptions stay at process boundaries (main, worker pipes).
// Modelled on LevelDB's Status: cheap to return, carries a code and one human-readable line.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace kevo {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the caller's input is wrong (bad config value, malformed directive)
  kNotFound,         // a file, program id or key that does not exist
  kIoError,          // the filesystem or a pipe failed
  kUnavailable,      // something outside is missing or down (no GPU, no driver, HTTP 5xx)
  kTimeout,          // a deadline passed
  kCancelled,        // the user or a budget stopped the work
  kInternal,         // an invariant broke in a way we report rather than crash on
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Timeout(std::string m) { return {StatusCode::kTimeout, std::move(m)}; }
  static Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid argument: configs/x.yaml:3: unknown key 'foo'"
  std::string to_string() const;

  // Returns a copy whose message is "context: message"; ok stays ok.
  Status with_context(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status saying why there is none. value() on an error is a bug (asserts).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {   // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "Result built from an ok Status has no value");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & {
    assert(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace kevo

// Early return of a failed Status / Result status from a function returning Status or Result.
#define KEVO_RETURN_IF_ERROR(expr)        \
  do {                                    \
    ::kevo::Status kevo_status_ = (expr); \
    if (!kevo_status_.ok()) return kevo_status_; \
  } while (0)

#define KEVO_CONCAT_INNER(a, b) a##b
#define KEVO_CONCAT(a, b) KEVO_CONCAT_INNER(a, b)
// KEVO_ASSIGN_OR_RETURN(auto x, make_x());
#define KEVO_ASSIGN_OR_RETURN(lhs, expr) \
  KEVO_ASSIGN_OR_RETURN_IMPL(KEVO_CONCAT(kevo_result_, __LINE__), lhs, expr)
#define KEVO_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
