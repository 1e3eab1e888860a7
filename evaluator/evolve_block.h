// The one rule for what an edit may change, shared by the evaluator (which reads the markers of a
// candidate) and the orchestrator (which applies LLM edits): a file may hold one
// `// EVOLVE-BLOCK-START` line and one `// EVOLVE-BLOCK-END` line after it. Then only the lines
// between them may change; the marker lines and everything outside them stay byte for byte.
// A file without markers may change anywhere. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/status.h"

namespace kevo {

inline constexpr std::string_view kEvolveStart = "EVOLVE-BLOCK-START";
inline constexpr std::string_view kEvolveEnd = "EVOLVE-BLOCK-END";

struct EvolveBlock {
  bool present = false;  // false: no markers, the whole file is editable
  // Editable bytes [begin, end): from the start of the line after START to the start of the END
  // line. Without markers: the whole text.
  size_t begin = 0, end = 0;
  int start_line = 0, end_line = 0;  // 1-based marker lines (0 when absent)
};

// InvalidArgument "line N: ..." for a second START or END, an END before START, a START without
// END, or one line holding both markers.
Result<EvolveBlock> find_evolve_block(std::string_view source);

// True when the bytes [pos, pos + len) of `source` lie inside the editable part of `block`.
bool inside_evolve_block(const EvolveBlock& block, size_t pos, size_t len);

// Ok when `child` differs from `parent` only inside the parent's EVOLVE-BLOCK (and keeps both
// marker lines). Otherwise InvalidArgument naming the first changed line outside it, worded for
// the LLM that wrote the child.
Status check_edit_scope(std::string_view parent, std::string_view child);

}  // namespace kevo
