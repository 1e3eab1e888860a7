#include "orchestrator/llm/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <mutex>

namespace kevo::http {
namespace {

// curl_global_init is not thread-safe and must run before any other thread uses curl.
void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  std::string body;
  std::optional<std::string> retry_after;
  size_t cap = 0;
  bool too_large = false;
  const std::atomic<bool>* cancel = nullptr;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t bytes = size * n;
  if (t->body.size() + bytes > t->cap) {
    t->too_large = true;
    return 0;  // curl stops with CURLE_WRITE_ERROR
  }
  t->body.append(data, bytes);
  return bytes;
}

std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t bytes = size * n;
  std::string line(data, bytes);
  // A new status line (redirect, 100-continue) starts a new header set.
  if (line.rfind("HTTP/", 0) == 0) t->retry_after.reset();
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (name == "retry-after") t->retry_after = trim(line.substr(colon + 1));
  }
  return bytes;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  return (t->cancel && t->cancel->load()) ? 1 : 0;  // non-zero aborts the transfer
}

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct ListDeleter {
  void operator()(curl_slist* l) const {
    for (curl_slist* p = l; p; p = p->next) std::memset(p->data, 0, std::strlen(p->data));  // key
    curl_slist_free_all(l);
  }
};

}  // namespace

Outcome post(const Request& request) {
  global_init_once();
  Outcome out;
  std::unique_ptr<CURL, EasyDeleter> curl(curl_easy_init());
  if (!curl) {
    out.failure = Failure::kOther;
    out.error = "curl_easy_init failed";
    return out;
  }
  std::unique_ptr<curl_slist, ListDeleter> headers;
  std::vector<std::string> all = request.headers;
  // No "Expect: 100-continue" on large prompts: servers that ignore it would cost a 1 s stall.
  all.push_back("Expect:");
  for (const auto& h : all) {
    curl_slist* next = curl_slist_append(headers.get(), h.c_str());
    if (!next) {
      out.failure = Failure::kOther;
      out.error = "out of memory building headers";
      return out;
    }
    (void)headers.release();
    headers.reset(next);
  }
  for (auto& h : all) {  // the copies may hold the key; curl keeps its own in the list
    std::fill(h.begin(), h.end(), '\0');
  }
  Transfer t;
  t.cap = request.max_response_bytes;
  t.cancel = request.cancel;

  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  // Signals are process-wide: with many threads curl must not use them for its timeouts.
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::max(1.0, request.connect_timeout_s * 1000)));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max(1.0, request.timeout_s * 1000)));
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(request.max_response_bytes));
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // gzip/deflate; the cap applies decoded
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);

  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    out.error = curl_easy_strerror(rc);
    if (t.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
      out.failure = Failure::kTooLarge;
      out.error = "reply larger than " + std::to_string(request.max_response_bytes) + " bytes";
    } else if (rc == CURLE_ABORTED_BY_CALLBACK) {
      out.failure = Failure::kCancelled;
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
      out.failure = Failure::kTimeout;
    } else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
               rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_GOT_NOTHING ||
               rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_PARTIAL_FILE ||
               rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_HTTP2 || rc == CURLE_HTTP2_STREAM) {
      out.failure = Failure::kConnection;  // transient: the server went away mid-call
    } else {
      out.failure = Failure::kOther;
    }
    return out;
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  out.response.status = status;
  out.response.body = std::move(t.body);
  out.response.retry_after = std::move(t.retry_after);
  return out;
}

std::optional<double> parse_retry_after(const std::string& value, std::time_t now) {
  std::string v = trim(value);
  if (v.empty()) return std::nullopt;
  if (std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); })) {
    if (v.size() > 9) return std::nullopt;  // over 30 years: not a real delay
    return static_cast<double>(std::stol(v));
  }
  std::time_t when = curl_getdate(v.c_str(), nullptr);
  if (when == -1) return std::nullopt;
  return std::max(0.0, static_cast<double>(when - now));
}

}  // namespace kevo::http
