// The line diff behind `kevo diff`: minimal edit scripts (checked against an LCS table on random
// inputs), scripts that rebuild the target, and unified output as diff -u prints it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "archive/diff.h"
#include "archive/rng.h"

namespace kevo {
namespace {

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

int lcs_length(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
  std::vector<std::vector<int>> t(a.size() + 1, std::vector<int>(b.size() + 1, 0));
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      t[i][j] = a[i - 1] == b[j - 1] ? t[i - 1][j - 1] + 1 : std::max(t[i - 1][j], t[i][j - 1]);
    }
  }
  return t[a.size()][b.size()];
}

TEST(ArchiveDiff, IdenticalInputsHaveNoDiff) {
  EXPECT_EQ(unified_diff("a\nb\n", "a\nb\n", "x", "y"), "");
  EXPECT_EQ(unified_diff("", "", "x", "y"), "");
}

TEST(ArchiveDiff, UnifiedOutputMatchesDiffU) {
  std::string a = join({"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"});
  std::string b = join({"1", "2", "3", "4", "five", "6", "7", "8", "9", "10", "11", "12", "13"});
  DiffStats st;
  EXPECT_EQ(unified_diff(a, b, "#1", "#2", 3, &st),
            "--- #1\n+++ #2\n"
            "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
            "@@ -10,3 +10,4 @@\n 10\n 11\n 12\n+13\n");
  EXPECT_EQ(st.added, 2);
  EXPECT_EQ(st.removed, 1);
  // Changes closer than twice the context share one hunk.
  std::string c = join({"1", "2", "3", "4", "five", "6", "7", "8", "nine", "10", "11", "12"});
  std::string d = unified_diff(a, c, "a", "b");
  size_t hunks = 0;
  for (size_t i = 0; (i = d.find("\n@@ -", i)) != std::string::npos; ++i) ++hunks;
  EXPECT_EQ(hunks, 1u) << d;
  EXPECT_NE(d.find("\n@@ -2,11 +2,11 @@\n"), std::string::npos) << d;
  // An empty side is named by the line before it.
  EXPECT_EQ(unified_diff("", "x\n", "a", "b"), "--- a\n+++ b\n@@ -0,0 +1,1 @@\n+x\n");
  EXPECT_EQ(unified_diff("x\n", "", "a", "b"), "--- a\n+++ b\n@@ -1,1 +0,0 @@\n-x\n");
}

TEST(ArchiveDiff, RandomScriptsAreMinimalAndRebuildTheTarget) {
  Rng rng(5);
  for (int round = 0; round < 300; ++round) {
    std::vector<std::string> a, b;
    size_t na = rng.below(25), nb = rng.below(25);
    for (size_t i = 0; i < na; ++i) a.push_back(std::string(1, static_cast<char>('a' + rng.below(4))));
    for (size_t i = 0; i < nb; ++i) b.push_back(std::string(1, static_cast<char>('a' + rng.below(4))));
    std::string ta = join(a), tb = join(b);
    auto ops = diff_lines(ta, tb);
    std::vector<std::string> rebuilt_a, rebuilt_b;
    int edits = 0;
    for (const auto& op : ops) {
      if (op.kind != DiffLine::kInsert) rebuilt_a.emplace_back(op.text);
      if (op.kind != DiffLine::kDelete) rebuilt_b.emplace_back(op.text);
      edits += op.kind != DiffLine::kEqual;
    }
    ASSERT_EQ(rebuilt_a, a);
    ASSERT_EQ(rebuilt_b, b);
    int lcs = lcs_length(split_lines(ta), split_lines(tb));
    ASSERT_EQ(edits, static_cast<int>(na + nb) - 2 * lcs) << "not a shortest edit script";
  }
}

}  // namespace
}  // namespace kevo
