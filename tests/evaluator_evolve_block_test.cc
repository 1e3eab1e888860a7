// The one EVOLVE-BLOCK rule (evaluator/evolve_block.h): where the editable part is, which marker
// layouts are refused, and which child files stay inside the parent's block.
#include "evaluator/evolve_block.h"

#include <gtest/gtest.h>

#include <string>

namespace kevo {
namespace {

const std::string kFile =
    "#include \"kevo/attention.cuh\"\n"    // line 1
    "// EVOLVE-BLOCK-START\n"               // line 2
    "// kevo:decode k grid(1) block(32)\n"  // line 3
    "int x = 1;\n"                          // line 4
    "// EVOLVE-BLOCK-END\n"                 // line 5
    "// tail\n";                            // line 6

TEST(EvolveBlock, FindsTheEditableBytesBetweenTheMarkerLines) {
  auto b = find_evolve_block(kFile);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_TRUE(b->present);
  EXPECT_EQ(b->start_line, 2);
  EXPECT_EQ(b->end_line, 5);
  EXPECT_EQ(kFile.substr(b->begin, b->end - b->begin),
            "// kevo:decode k grid(1) block(32)\nint x = 1;\n");
  size_t x = kFile.find("int x");
  EXPECT_TRUE(inside_evolve_block(*b, x, 10));
  EXPECT_FALSE(inside_evolve_block(*b, kFile.find("#include"), 8));
  EXPECT_FALSE(inside_evolve_block(*b, x, 40)) << "a span running into the END line is outside";
}

TEST(EvolveBlock, NoMarkersMeansTheWholeFile) {
  auto b = find_evolve_block("int a;\nint b;\n");
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->present);
  EXPECT_EQ(b->begin, 0u);
  EXPECT_EQ(b->end, 14u);
}

TEST(EvolveBlock, MalformedMarkersAreRefusedWithTheirLine) {
  struct Case {
    std::string text, message;
  } cases[] = {
      {"// EVOLVE-BLOCK-START\n", "line 1: EVOLVE-BLOCK-START has no EVOLVE-BLOCK-END"},
      {"// EVOLVE-BLOCK-END\n", "line 1: EVOLVE-BLOCK-END without an EVOLVE-BLOCK-START"},
      {"// EVOLVE-BLOCK-START\n// EVOLVE-BLOCK-START\n// EVOLVE-BLOCK-END\n", "line 2: a second"},
      {"// EVOLVE-BLOCK-START\n// EVOLVE-BLOCK-END\n// EVOLVE-BLOCK-END\n", "line 3: a second"},
      {"// EVOLVE-BLOCK-START EVOLVE-BLOCK-END\n", "line 1: one line holds both"},
  };
  for (const auto& c : cases) {
    auto b = find_evolve_block(c.text);
    ASSERT_FALSE(b.ok()) << c.text;
    EXPECT_NE(b.status().message().find(c.message), std::string::npos) << b.status().message();
  }
}

TEST(EvolveBlock, ChildMayChangeOnlyTheBlockDirectivesIncluded) {
  std::string grid_changed = kFile;
  grid_changed.replace(grid_changed.find("grid(1)"), 7, "grid(N/64)");
  EXPECT_TRUE(check_edit_scope(kFile, grid_changed).ok());

  std::string more_lines = kFile;
  more_lines.insert(more_lines.find("// EVOLVE-BLOCK-END"), "int y = 2;\nint z = 3;\n");
  EXPECT_TRUE(check_edit_scope(kFile, more_lines).ok());

  std::string include_changed = kFile;
  include_changed.replace(0, 8, "#define X");
  auto st = check_edit_scope(kFile, include_changed);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("changes line 1"), std::string::npos) << st.message();

  std::string tail_changed = kFile + "int extra;\n";
  st = check_edit_scope(kFile, tail_changed);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("outside the EVOLVE-BLOCK"), std::string::npos);

  std::string markers_dropped = "int x = 1;\n";
  st = check_edit_scope(kFile, markers_dropped);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("has no EVOLVE-BLOCK markers"), std::string::npos) << st.message();

  EXPECT_TRUE(check_edit_scope("int a;\n", "anything\n").ok()) << "no markers: anything goes";
}

}  // namespace
}  // namespace kevo
