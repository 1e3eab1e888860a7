#include "orchestrator/web/html.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "archive/diff.h"

namespace kevo::web {

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when it is invalid (overlong forms,
// surrogates and code points past U+10FFFF included).
size_t utf8_len(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto cont = [&](size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;
    if (c == 0xF4 && b(1) >= 0x90) return 0;
    return 4;
  }
  return 0;
}

}  // namespace

std::string esc(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    switch (c) {
      case '&':
        out += "&amp;";
        ++i;
        continue;
      case '<':
        out += "&lt;";
        ++i;
        continue;
      case '>':
        out += "&gt;";
        ++i;
        continue;
      case '"':
        out += "&quot;";
        ++i;
        continue;
      case '\'':
        out += "&#39;";
        ++i;
        continue;
      case '\0':
        ++i;
        continue;
      default:
        break;
    }
    size_t n = utf8_len(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string url_encode(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string diff_html(std::string_view unified) {
  std::string out;
  for (std::string_view line : split_lines(unified)) {
    const char* cls = line.starts_with("+++") || line.starts_with("---") ? "file"
                      : line.starts_with("@@")                           ? "hunk"
                      : line.starts_with("+")                            ? "add"
                      : line.starts_with("-")                            ? "del"
                                                                         : "ctx";
    out += std::string("<span class=\"") + cls + "\">" + esc(line) + "</span>\n";
  }
  return out;
}

std::string fmt_duration(double s) {
  if (s < 90) return fmt_num(std::round(s), 3) + " s";
  if (s < 90 * 60) return fmt_num(s / 60, 3) + " min";
  return fmt_num(s / 3600, 3) + " h";
}

std::string json_num(const nlohmann::json& j, const char* key, int significant) {
  if (!j.is_object()) return "-";
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return "-";
  if (it->is_number_integer()) return fmt_int(it->get<int64_t>());
  return fmt_num(it->get<double>(), significant);
}

std::string badge(std::string_view status) {
  // The class is built from the status only when it is a plain word (it is archive text).
  std::string cls;
  for (char c : status) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') cls += c;
  }
  return "<span class=\"badge st-" + cls + "\">" + esc(status) + "</span>";
}

std::string program_link(int64_t id) {
  return "<a href=\"/program/" + std::to_string(id) + "\">#" + std::to_string(id) + "</a>";
}

std::string call_link(int64_t id) {
  return "<a href=\"/llm/" + std::to_string(id) + "\">call #" + std::to_string(id) + "</a>";
}

std::string html_table(const std::vector<std::string>& headers,
                       const std::vector<std::vector<std::string>>& rows,
                       const std::string& css_class) {
  std::string out =
      "<table" + (css_class.empty() ? "" : " class=\"" + css_class + "\"") + "><thead><tr>";
  for (const auto& h : headers) out += "<th>" + h + "</th>";
  out += "</tr></thead><tbody>";
  for (const auto& r : rows) {
    out += "<tr>";
    for (const auto& c : r) out += "<td>" + c + "</td>";
    out += "</tr>";
  }
  return out + "</tbody></table>";
}

std::string page(const PageShell& s) {
  auto nav = [&](const char* id, const char* href, const char* label) {
    return std::string("<a href=\"") + href + "\"" + (s.nav == id ? " class=\"current\"" : "") +
           ">" + label + "</a>";
  };
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>" +
      esc(s.title) +
      " - kevo</title>"
      "<link rel=\"stylesheet\" href=\"/static/kevo.css\">"
      "<script src=\"/static/kevo.js\" defer></script></head>\n"
      "<body data-live=\"" +
      std::to_string(s.live) +
      "\">"
      "<header><span class=\"brand\">kevo</span><span class=\"run\">" +
      esc(s.run_name) + "</span><nav>" + nav("overview", "/", "Overview") +
      nav("llm", "/llm", "LLM calls") +
      (s.json_href.empty() ? "" : "<a href=\"" + esc(s.json_href) + "\">JSON</a>") +
      "</nav><span id=\"live\" class=\"live\">" + (s.live ? "live" : "") +
      "</span></header>\n"
      "<main>" +
      s.body +
      "</main>\n"
      "<footer>kevo serve: a read-only view of the run's archive.</footer></body></html>\n";
  return out;
}

}  // namespace kevo::web
