// HTML building blocks of the web view, private to orchestrator/web. Every text that comes from
// the archive (kernel sources, LLM prompts and replies, messages, model names) goes through esc()
// or highlight_cuda(): they are untrusted, and a reply holding `<script>` or `</textarea>` must
// show as text. Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/number_text.h"  // fmt_num, fmt_int, fmt_usd, fmt_time

namespace kevo::web {

// Escapes & < > " ' for text and attribute values; invalid UTF-8 becomes U+FFFD, NUL is dropped.
std::string esc(std::string_view text);
// Percent-encodes everything but unreserved characters (for query values in links).
std::string url_encode(std::string_view text);

// CUDA/C++ source as lines of escaped, highlighted HTML: one <span class="ln" id="L<n>"> per
// line (a multi-line comment is closed and reopened at each line end), token classes c (comment),
// d (kevo: directive or EVOLVE-BLOCK marker), p (preprocessor), s (string), n (number),
// k (keyword), t (type).
std::string highlight_cuda(std::string_view source);

// A unified diff (archive/diff.h) as escaped lines with classes add, del, hunk, file.
std::string diff_html(std::string_view unified);

std::string fmt_duration(double seconds);            // 42 s, 12 min, 3.5 h
// A number from JSON, "-" when absent or not a number.
std::string json_num(const nlohmann::json& j, const char* key, int significant = 4);

std::string badge(std::string_view status);  // <span class="badge st-ok">ok</span>
std::string program_link(int64_t id);        // <a href="/program/ID">#ID</a>
std::string call_link(int64_t id);           // <a href="/llm/ID">call #ID</a>

// Rows of already-built HTML cells.
std::string html_table(const std::vector<std::string>& headers,
                       const std::vector<std::vector<std::string>>& rows,
                       const std::string& css_class = "");

struct PageShell {
  std::string title;  // plain text: escaped here
  std::string run_name;
  std::string nav;  // "overview", "llm" or "" (which menu entry is current)
  // Seconds between the page's polls of /api/version (it reloads its <main> when the run moved);
  // 0: a page that does not change.
  int live = 0;
  std::string json_href;  // this view's JSON endpoint
  std::string body;       // HTML
};
std::string page(const PageShell& shell);

}  // namespace kevo::web
