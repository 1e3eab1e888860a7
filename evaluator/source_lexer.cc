#include "evaluator/source_lexer.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace kevo {
namespace {

Status error_at(int line, const std::string& what) {
  return Status::InvalidArgument("line " + std::to_string(line) + ": " + what);
}

bool is_ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
}

// Phases 1-2: the logical text (line splices removed) with the physical line of every char.
struct Spliced {
  std::string text;
  std::vector<int> line;         // line[i] = physical line of text[i]
  std::vector<size_t> splices;   // logical positions a splice was removed before (sorted)
};

Result<Spliced> splice(const std::string& s) {
  Spliced out;
  out.text.reserve(s.size());
  out.line.reserve(s.size() + 1);
  int line = 1;
  const size_t n = s.size();
  for (size_t i = 0; i < n; ++i) {
    char c = s[i];
    if (c == '\0') return error_at(line, "a NUL byte; candidate sources are plain text");
    if (c == '\r' && (i + 1 == n || s[i + 1] != '\n')) {
      return error_at(line, "a carriage return not followed by a line feed; use \\n line endings");
    }
    if (c == '?' && i + 2 < n && s[i + 1] == '?' && std::strchr("=/'()!<>-", s[i + 2])) {
      return error_at(line, std::string("the trigraph '??") + s[i + 2] + "' is not allowed");
    }
    if (c == '\\') {
      size_t j = i + 1;
      while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\f' || s[j] == '\v' || s[j] == '\r')) ++j;
      if (j < n && s[j] == '\n') {
        if (j > i + 1) {
          return error_at(line, "a backslash followed by spaces or a carriage return at the end of the line; "
                                "compilers disagree whether it continues the line, so remove the spaces "
                                "(or the backslash)");
        }
        out.splices.push_back(out.text.size());
        ++line;
        i = j;  // drop both the backslash and the newline
        continue;
      }
    }
    out.text += c;
    out.line.push_back(line);
    if (c == '\n') ++line;
  }
  out.line.push_back(line);  // sentinel for positions at the end
  return out;
}

bool is_raw_prefix(const std::string& id) {
  return id == "R" || id == "u8R" || id == "uR" || id == "UR" || id == "LR";
}
bool is_literal_prefix(const std::string& id) {
  return id == "u8" || id == "u" || id == "U" || id == "L";
}
bool is_include_like(const std::string& id) {
  return id == "include" || id == "include_next" || id == "import" || id == "embed";
}

class Lexer {
 public:
  explicit Lexer(const Spliced& sp) : s_(sp.text), ln_(sp.line), splices_(sp.splices) {}

  Result<std::vector<SourceToken>> run() {
    const size_t n = s_.size();
    while (i_ < n) {
      char c = s_[i_];
      char next = i_ + 1 < n ? s_[i_ + 1] : '\0';
      if (c == '\n') {
        line_start_ = true;
        dir_ = kNone;
        ++i_;
      } else if (c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\r') {
        ++i_;
      } else if (c == '/' && next == '/') {
        while (i_ < n && s_[i_] != '\n') ++i_;
      } else if (c == '/' && next == '*') {
        size_t end = s_.find("*/", i_ + 2);
        if (end == std::string::npos) return error_at(ln_[i_], "a /* comment that is never closed");
        i_ = end + 2;
      } else if (dir_ == kInclude && (c == '<' || c == '"')) {
        char close = c == '<' ? '>' : '"';
        size_t j = i_ + 1;
        while (j < n && s_[j] != close && s_[j] != '\n') ++j;
        if (j < n && s_[j] == close) ++j;
        emit(SourceToken::kHeaderName, j);
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '$') {
        KEVO_RETURN_IF_ERROR(identifier_or_literal());
      } else if (std::isdigit(static_cast<unsigned char>(c)) ||
                 (c == '.' && std::isdigit(static_cast<unsigned char>(next)))) {
        pp_number();
      } else if (c == '"' || c == '\'') {
        emit(c == '"' ? SourceToken::kString : SourceToken::kChar, literal_end(i_));
      } else if (c == '%' && next == ':') {
        return error_at(ln_[i_], "'%:' (the digraph of '#') is not allowed; write '#'");
      } else if (c == '\\') {
        return error_at(ln_[i_], "a backslash outside a string or character literal (universal character "
                                 "names are not allowed in code)");
      } else if (static_cast<unsigned char>(c) >= 0x80) {
        return error_at(ln_[i_], "a non-ASCII character outside comments and string literals");
      } else {
        emit(SourceToken::kPunct, i_ + 1);
      }
    }
    return std::move(out_);
  }

 private:
  enum DirState { kNone, kHash, kInclude };

  void emit(SourceToken::Kind kind, size_t end) {
    SourceToken t;
    t.kind = kind;
    t.text = s_.substr(i_, end - i_);
    t.line = ln_[i_];
    t.end_line = ln_[end - 1];
    t.starts_line = line_start_;
    DirState prev = dir_;
    dir_ = kNone;
    if (kind == SourceToken::kPunct && t.text == "#" && line_start_) dir_ = kHash;
    if (kind == SourceToken::kIdentifier && prev == kHash && is_include_like(t.text)) dir_ = kInclude;
    line_start_ = false;
    out_.push_back(std::move(t));
    i_ = end;
  }

  // End of a "..." or '...' literal starting at `q`; an unterminated one stops at the newline,
  // as it does in the compiler (which then reports an error).
  size_t literal_end(size_t q) const {
    char quote = s_[q];
    size_t j = q + 1;
    while (j < s_.size() && s_[j] != quote && s_[j] != '\n') j += s_[j] == '\\' ? 2 : 1;
    if (j < s_.size() && s_[j] == quote) ++j;
    return std::min(j, s_.size());
  }

  Status identifier_or_literal() {
    size_t j = i_;
    while (j < s_.size() && is_ident_char(s_[j])) ++j;
    std::string id = s_.substr(i_, j - i_);
    char after = j < s_.size() ? s_[j] : '\0';
    if (after == '"' && is_raw_prefix(id)) return raw_string(j);
    if ((after == '"' || after == '\'') && is_literal_prefix(id)) {
      emit(after == '"' ? SourceToken::kString : SourceToken::kChar, literal_end(j));
      return Status::Ok();
    }
    emit(SourceToken::kIdentifier, j);
    return Status::Ok();
  }

  // R"delim( ... )delim"; `quote` is the position of the opening quote.
  Status raw_string(size_t quote) {
    size_t open = quote + 1;
    while (open < s_.size() && s_[open] != '(' && open - quote <= 17) {
      char c = s_[open];
      if (c == ')' || c == '\\' || c == '"' || std::isspace(static_cast<unsigned char>(c))) break;
      ++open;
    }
    if (open >= s_.size() || s_[open] != '(') {
      return error_at(ln_[i_], "a raw string literal with a malformed delimiter");
    }
    std::string close = ")" + s_.substr(quote + 1, open - quote - 1) + "\"";
    size_t end = s_.find(close, open + 1);
    if (end == std::string::npos) return error_at(ln_[i_], "a raw string literal that is never closed");
    end += close.size();
    auto it = std::upper_bound(splices_.begin(), splices_.end(), i_);
    if (it != splices_.end() && *it < end) {
      return error_at(ln_[i_], "a backslash-newline inside a raw string literal (compilers undo line "
                               "splices there); remove it");
    }
    emit(SourceToken::kString, end);
    return Status::Ok();
  }

  void pp_number() {
    size_t j = i_ + 1;
    while (j < s_.size()) {
      char c = s_[j];
      if (is_ident_char(c) || c == '.') {
        ++j;
      } else if (c == '\'' && j + 1 < s_.size() && is_ident_char(s_[j + 1])) {
        j += 2;  // digit separator
      } else if ((c == '+' || c == '-') && std::strchr("eEpP", s_[j - 1])) {
        ++j;
      } else {
        break;
      }
    }
    emit(SourceToken::kNumber, j);
  }

  const std::string& s_;
  const std::vector<int>& ln_;
  const std::vector<size_t>& splices_;
  size_t i_ = 0;
  bool line_start_ = true;
  DirState dir_ = kNone;
  std::vector<SourceToken> out_;
};

}  // namespace

Result<std::vector<SourceToken>> lex_source(const std::string& source) {
  KEVO_ASSIGN_OR_RETURN(Spliced sp, splice(source));
  return Lexer(sp).run();
}

}  // namespace kevo
