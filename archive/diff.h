// Line diffs of program sources (kevo diff, and prompts that show what a child changed).
// Myers' O(ND) algorithm ("An O(ND) Difference Algorithm and Its Variations", 1986): a shortest
// edit script, so the output reads like `diff -u`. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kevo {

struct DiffLine {
  enum Kind { kEqual, kDelete, kInsert };
  Kind kind;
  std::string_view text;  // a line of one of the inputs, without its newline
};

// Lines of `text` (a final newline does not start another line).
std::vector<std::string_view> split_lines(std::string_view text);

// The shortest edit script turning `a` into `b`, line by line. Views point into a and b.
std::vector<DiffLine> diff_lines(std::string_view a, std::string_view b);

struct DiffStats {
  int added = 0;
  int removed = 0;
};

// Unified diff ("--- a_label", "+++ b_label", "@@ -l,n +l,n @@" hunks with `context` lines);
// "" when the inputs have the same lines. Fills `stats` when given.
std::string unified_diff(std::string_view a, std::string_view b, std::string_view a_label,
                         std::string_view b_label, int context = 3, DiffStats* stats = nullptr);

}  // namespace kevo
