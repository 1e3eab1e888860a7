// A line-based reader of the device headers: enough C++ to find declarations at namespace and
// struct level (brace depth, comments, templates spanning lines), not a parser of the language.
#include "evaluator/device_api.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "evaluator/device_headers.h"

namespace kevo {
namespace {

std::string trim(std::string_view s) {
  size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string_view::npos) return "";
  size_t b = s.find_last_not_of(" \t\r");
  return std::string(s.substr(a, b - a + 1));
}

std::string squash(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// The code part of a line: without a trailing // comment (the headers put no "//" in strings).
std::string code_of(std::string_view line) {
  size_t c = line.find("//");
  return trim(c == std::string_view::npos ? line : line.substr(0, c));
}

// First sentence of a comment block: up to ". " or the block's end, at most 240 characters.
std::string first_sentence(const std::string& comment) {
  std::string s = squash(comment);
  // Section rules ("// -----") are layout, not words.
  size_t words = s.find_first_not_of("-= ");
  s = words == std::string::npos ? "" : s.substr(words);
  size_t end = s.size();
  // A sentence ends at ". " before a capital letter (not at "q . k" or "e.g. the").
  for (size_t i = 0; i + 2 < s.size(); ++i) {
    if (s[i] == '.' && s[i + 1] == ' ' && std::isupper(static_cast<unsigned char>(s[i + 2]))) {
      end = i + 1;
      break;
    }
  }
  s = s.substr(0, end);
  if (s.size() > 240) s = s.substr(0, 237) + "...";
  return s;
}

// Drops qualifiers that say nothing to a reader of the reference (every function is device code).
std::string tidy_signature(std::string sig) {
  for (const char* word : {"__forceinline__ ", "__device__ ", "inline ", "static "}) {
    for (size_t p; (p = sig.find(word)) != std::string::npos;) sig.erase(p, std::string(word).size());
  }
  return trim(sig);
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

bool begins_declaration(const std::string& code) {
  for (const char* w : {"template", "__device__", "__host__", "struct ", "class ", "constexpr ",
                        "using ", "enum ", "inline ", "static ", "__forceinline__"}) {
    if (starts_with(code, w)) return true;
  }
  return false;
}

// A data member: "T name;" or "T name[4];" at struct level, not a function.
bool is_data_member(const std::string& code) {
  return !code.empty() && code.back() == ';' && code.find('(') == std::string::npos &&
         code.front() != '}' &&
         !starts_with(code, "using ") && !starts_with(code, "public") && !starts_with(code, "friend");
}

}  // namespace

std::vector<DeviceApiEntry> parse_device_api(std::string_view header, std::string_view text) {
  std::vector<DeviceApiEntry> out;
  std::vector<std::string> lines;
  for (size_t pos = 0; pos <= text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    lines.emplace_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  // Brace depth where each open brace's scope began: "ns" (namespace kevo), "detail", "struct
  // NAME", or "body" (function bodies, initialisers, anything else).
  std::vector<std::string> scopes;
  auto in_detail = [&] {
    return std::find(scopes.begin(), scopes.end(), "detail") != scopes.end();
  };
  auto at_api_level = [&](std::string* owner) {
    if (scopes.empty() || in_detail()) return false;
    if (scopes.back() == "ns") return true;
    if (starts_with(scopes.back(), "struct ") && scopes.size() >= 2 && scopes[scopes.size() - 2] == "ns") {
      *owner = scopes.back().substr(7);
      return true;
    }
    return false;
  };

  std::string comment;          // the comment block directly above
  std::string group_contract;   // shared by declarations on consecutive lines
  std::string group_owner;
  bool previous_was_decl = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string t = trim(lines[i]);
    if (t.empty()) {
      comment.clear();
      previous_was_decl = false;
      continue;
    }
    if (starts_with(t, "//")) {
      comment += (comment.empty() ? "" : " ") + trim(t.substr(2));
      continue;
    }
    if (starts_with(t, "#define ")) {
      std::string sig = t.substr(0, t.find(')') == std::string::npos ? t.size() : t.find(')') + 1);
      if (sig.back() == '\\') sig.pop_back();
      if (!in_detail()) {
        out.push_back({std::string(header), trim(sig), first_sentence(comment), "", int(i + 1)});
      }
      while (i < lines.size() && !lines[i].empty() && lines[i].back() == '\\') ++i;
      comment.clear();
      previous_was_decl = false;
      continue;
    }
    if (starts_with(t, "#")) continue;
    std::string code = code_of(lines[i]);
    std::string owner;
    bool api = at_api_level(&owner);
    if (api && (begins_declaration(code) || (!owner.empty() && is_data_member(code)))) {
      // Gather the signature up to its body or its end.
      std::string sig;
      size_t j = i;
      for (; j < lines.size(); ++j) {
        std::string c = code_of(lines[j]);
        sig += (sig.empty() ? "" : " ") + c;
        if (c.find('{') != std::string::npos || (!c.empty() && c.back() == ';')) break;
        if (starts_with(c, "template") && c.back() == '>' && j == i) continue;
      }
      std::string head = sig.substr(0, sig.find('{'));
      // Initialisers and constructor lists are not part of what a caller needs.
      if (head.find(") :") != std::string::npos) head = head.substr(0, head.find(") :") + 1);
      std::string contract = first_sentence(comment);
      // A trailing comment on the line (data members) is its contract.
      if (contract.empty()) {
        size_t c = lines[i].find("//");
        if (c != std::string::npos) contract = first_sentence(lines[i].substr(c + 2));
      }
      // One-line functions written together share the comment above the first (bf16_lo/hi).
      bool one_line_function = j == i && (owner.empty() || !is_data_member(code));
      if (contract.empty() && previous_was_decl && one_line_function && owner == group_owner) {
        contract = group_contract;
      }
      head = tidy_signature(squash(head));
      if (!head.empty() && head.back() == ';') head.pop_back();
      bool is_struct = false;
      std::string name;
      {
        std::string h = head;
        if (starts_with(h, "template")) {
          int angle = 0;
          size_t k = 0;
          for (; k < h.size(); ++k) {
            if (h[k] == '<') ++angle;
            if (h[k] == '>' && --angle == 0) break;
          }
          h = trim(h.substr(k + 1));
        }
        if (starts_with(h, "struct ") || starts_with(h, "class ")) {
          is_struct = true;
          std::string rest = h.substr(h.find(' ') + 1);
          name = rest.substr(0, rest.find_first_of(" {:"));
        }
      }
      out.push_back({std::string(header), trim(head), contract, owner, int(i + 1)});
      group_contract = contract;
      group_owner = owner;
      // A struct's comment is about the struct, not about its first member.
      previous_was_decl = !is_struct && one_line_function;
      comment.clear();
      // Walk the braces of the declaration's lines.
      for (size_t k = i; k <= j && k < lines.size(); ++k) {
        for (char ch : code_of(lines[k])) {
          if (ch == '{') scopes.push_back(is_struct && scopes.size() < 64 ? "struct " + name : "body");
          if (ch == '}' && !scopes.empty()) scopes.pop_back();
          if (ch == '{') is_struct = false;  // only the first brace opens the struct
        }
      }
      i = j;
      continue;
    }
    // Any other line: track braces; a namespace opens its own kind of scope.
    for (char ch : code) {
      if (ch == '{') {
        if (starts_with(code, "namespace detail")) {
          scopes.push_back("detail");
        } else if (starts_with(code, "namespace")) {
          scopes.push_back("ns");
        } else {
          scopes.push_back("body");
        }
      }
      if (ch == '}' && !scopes.empty()) scopes.pop_back();
    }
    comment.clear();
    previous_was_decl = false;
  }
  return out;
}

const std::vector<DeviceApiEntry>& device_api_entries() {
  static const std::vector<DeviceApiEntry> entries = [] {
    std::vector<EmbeddedFile> files = embedded_device_headers();
    std::sort(files.begin(), files.end(), [](auto& a, auto& b) { return a.path < b.path; });
    std::vector<DeviceApiEntry> all;
    for (const auto& f : files) {
      if (!f.path.ends_with(".cuh")) continue;
      auto e = parse_device_api(f.path, f.contents);
      all.insert(all.end(), e.begin(), e.end());
    }
    return all;
  }();
  return entries;
}

namespace {

// The first comment block of a header: what the file is for.
std::string file_description(std::string_view text) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string t = trim(text.substr(pos, nl - pos));
    pos = nl + 1;
    if (!starts_with(t, "//")) break;
    std::string body = trim(t.substr(2));
    if (body.empty()) break;  // the first paragraph only
    out += (out.empty() ? "" : " ") + body;
  }
  return out;
}

}  // namespace

const std::string& device_api_reference() {
  static const std::string text = [] {
    std::map<std::string, std::string> descriptions;
    for (const auto& f : embedded_device_headers()) {
      descriptions[std::string(f.path)] = file_description(f.contents);
    }
    std::string out =
        "Every function below is __device__ code in namespace kevo (`using namespace kevo;`), "
        "unless marked __host__. Include a header as #include \"kevo/NAME.cuh\".\n";
    std::string current;
    for (const auto& e : device_api_entries()) {
      if (e.header != current) {
        current = e.header;
        out += "\n### " + e.header + "\n";
        if (!descriptions[e.header].empty()) out += descriptions[e.header] + "\n";
      }
      out += e.owner.empty() ? "- " : "    - ";
      out += "`" + e.signature + "`";
      if (!e.contract.empty()) out += ": " + e.contract;
      out += "\n";
    }
    return out;
  }();
  return text;
}

}  // namespace kevo
