// A conservative C++ preprocessing-token lexer for candidate sources, used only to decide what
// the compiler's preprocessor will see (directives, include targets, identifiers). It follows
// translation phases 1-3 (line splices, comments, literals, raw strings, pp-numbers, header
// names) and refuses every byte pattern on which compilers disagree, so that our view and
// NVRTC's view of a file cannot differ. Private to the evaluator (see source_check.h).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace kevo {

struct SourceToken {
  enum Kind { kIdentifier, kNumber, kString, kChar, kHeaderName, kPunct };
  Kind kind = kPunct;
  std::string text;    // the token after line splices were removed
  int line = 0;        // physical 1-based line where the token starts
  int end_line = 0;    // physical line of its last character
  bool starts_line = false;  // first token of a logical line: a '#' here opens a directive
};

// InvalidArgument "line N: ..." for NUL bytes, lone carriage returns, trigraphs, a backslash
// followed by spaces at the end of a line, `%:` (the digraph of '#'), a stray backslash or a
// non-ASCII byte outside literals and comments, an unterminated comment or raw string, and a
// line splice inside a raw string.
Result<std::vector<SourceToken>> lex_source(const std::string& source);

}  // namespace kevo
