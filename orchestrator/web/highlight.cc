// CUDA/C++ highlighting for the program page: a small tokenizer (comments, kevo directives,
// preprocessor lines, strings, numbers, keywords, types), enough to read a kernel, not a parser.
// Every token's text is escaped; the source is untrusted.
#include <cctype>
#include <set>

#include "orchestrator/web/html.h"

namespace kevo::web {
namespace {

const std::set<std::string_view>& keywords() {
  static const std::set<std::string_view> k = {"if",
                                               "else",
                                               "for",
                                               "while",
                                               "do",
                                               "switch",
                                               "case",
                                               "default",
                                               "break",
                                               "continue",
                                               "return",
                                               "goto",
                                               "struct",
                                               "class",
                                               "union",
                                               "enum",
                                               "template",
                                               "typename",
                                               "namespace",
                                               "using",
                                               "static",
                                               "extern",
                                               "inline",
                                               "const",
                                               "constexpr",
                                               "volatile",
                                               "auto",
                                               "sizeof",
                                               "static_assert",
                                               "true",
                                               "false",
                                               "nullptr",
                                               "__global__",
                                               "__device__",
                                               "__host__",
                                               "__shared__",
                                               "__constant__",
                                               "__restrict__",
                                               "__forceinline__",
                                               "__noinline__",
                                               "__launch_bounds__",
                                               "__syncthreads",
                                               "__syncwarp",
                                               "asm",
                                               "operator",
                                               "public",
                                               "private"};
  return k;
}

const std::set<std::string_view>& types() {
  static const std::set<std::string_view> t = {
      "void",     "bool",    "char",     "short",   "int",           "long",
      "float",    "double",  "unsigned", "signed",  "size_t",        "int8_t",
      "int16_t",  "int32_t", "int64_t",  "uint8_t", "uint16_t",      "uint32_t",
      "uint64_t", "half",    "__half",   "__half2", "__nv_bfloat16", "__nv_bfloat162",
      "float2",   "float4",  "int2",     "int4",    "uint2",         "uint4",
      "dim3"};
  return t;
}

bool ident_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

class Writer {
 public:
  Writer() { open_line(); }
  // Text of one class ("" = plain); a token that spans lines is closed and reopened per line.
  void emit(const char* cls, std::string_view text) {
    size_t start = 0;
    while (start <= text.size()) {
      size_t nl = text.find('\n', start);
      std::string_view seg = text.substr(start, nl == std::string_view::npos ? nl : nl - start);
      if (!seg.empty()) {
        if (*cls) out_ += std::string("<span class=\"") + cls + "\">";
        out_ += esc(seg);
        if (*cls) out_ += "</span>";
      }
      if (nl == std::string_view::npos) break;
      out_ += "</span>\n";
      open_line();
      start = nl + 1;
    }
  }
  std::string finish() {
    // The line opened after the final newline holds nothing: drop it.
    const std::string empty = "<span class=\"ln\" id=\"L" + std::to_string(line_) + "\">";
    if (out_.ends_with(empty)) {
      out_.resize(out_.size() - empty.size());
    } else {
      out_ += "</span>\n";
    }
    return std::move(out_);
  }

 private:
  void open_line() { out_ += "<span class=\"ln\" id=\"L" + std::to_string(++line_) + "\">"; }
  std::string out_;
  int line_ = 0;
};

}  // namespace

std::string highlight_cuda(std::string_view s) {
  Writer w;
  size_t i = 0;
  bool line_start = true;  // only whitespace so far on this line
  while (i < s.size()) {
    char c = s[i];
    size_t j = i + 1;
    if (c == '/' && i + 1 < s.size() && s[i + 1] == '/') {
      j = s.find('\n', i);
      if (j == std::string_view::npos) j = s.size();
      std::string_view text = s.substr(i, j - i);
      bool directive = text.find("kevo:") != std::string_view::npos ||
                       text.find("EVOLVE-BLOCK") != std::string_view::npos;
      w.emit(directive ? "d" : "c", text);
    } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      j = s.find("*/", i + 2);
      j = j == std::string_view::npos ? s.size() : j + 2;
      w.emit("c", s.substr(i, j - i));
    } else if (c == '#' && line_start) {
      j = i;
      while (j < s.size() && s[j] != '\n' &&
             !(s[j] == '/' && j + 1 < s.size() && s[j + 1] == '/')) {
        ++j;
      }
      w.emit("p", s.substr(i, j - i));
    } else if (c == '"' || c == '\'') {
      while (j < s.size() && s[j] != c && s[j] != '\n') j += s[j] == '\\' ? 2 : 1;
      j = std::min(s.size(), j + 1);
      w.emit("s", s.substr(i, j - i));
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '.' && j < s.size() && std::isdigit(static_cast<unsigned char>(s[j])))) {
      while (j < s.size() && (ident_char(s[j]) || s[j] == '.' ||
                              ((s[j] == '+' || s[j] == '-') &&
                               (s[j - 1] == 'e' || s[j - 1] == 'E' || s[j - 1] == 'p')))) {
        ++j;
      }
      w.emit("n", s.substr(i, j - i));
    } else if (ident_start(c)) {
      while (j < s.size() && ident_char(s[j])) ++j;
      std::string_view word = s.substr(i, j - i);
      w.emit(keywords().count(word) ? "k" : types().count(word) ? "t" : "", word);
    } else {
      w.emit("", s.substr(i, 1));
    }
    for (size_t k = i; k < j && k < s.size(); ++k) {
      if (s[k] == '\n')
        line_start = true;
      else if (!std::isspace(static_cast<unsigned char>(s[k])))
        line_start = false;
    }
    i = j;
  }
  return w.finish();
}

}  // namespace kevo::web
