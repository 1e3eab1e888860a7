// SEARCH/REPLACE and whole-file replies: parsing, strict application, EVOLVE-BLOCK limits.
#include <gtest/gtest.h>

#include "evaluator/evaluator.h"
#include "evaluator/task.h"
#include "orchestrator/evolution/edits.h"

namespace kevo {
namespace {

const char kParent[] = R"(#include "kevo/sparse_decode.cuh"
// kevo:param TOPK = 64 in {32, 64}
extern "C" __global__ void score(const kevo::Args a) {
  float m = -1e30f;
  for (int i = 0; i < 4; ++i) {
    m = fmaxf(m, 1.0f);
  }
}
)";

const char kBlocked[] = R"(#include "kevo/sparse_decode.cuh"
// kevo:param TOPK = 64 in {32, 64}
__device__ int helper() { return 1; }
// EVOLVE-BLOCK-START
extern "C" __global__ void score(const kevo::Args a) {
  float m = -1e30f;
}
// EVOLVE-BLOCK-END
__device__ int tail() { return 2; }
)";

std::string block(const std::string& search, const std::string& replace) {
  return "<<<<<<< SEARCH\n" + search + "\n=======\n" + replace + "\n>>>>>>> REPLACE\n";
}

TEST(EditsParse, SearchReplaceBlocksInsideFencesWithProse) {
  std::string reply = "I will unroll the loop.\n\n```cuda\n" +
                      block("  for (int i = 0; i < 4; ++i) {", "  #pragma unroll\n  for (int i = 0; i < 4; ++i) {") +
                      "```\n\nAnd change the init:\n```\n" + block("  float m = -1e30f;", "  float m = -INFINITY;") +
                      "```\n";
  auto e = parse_edit_reply(reply);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_EQ(e->format, EditFormat::kDiff);
  ASSERT_EQ(e->blocks.size(), 2u);
  EXPECT_EQ(e->blocks[0].search, "  for (int i = 0; i < 4; ++i) {");
  EXPECT_EQ(e->blocks[0].replace, "  #pragma unroll\n  for (int i = 0; i < 4; ++i) {");
  EXPECT_EQ(e->blocks[0].reply_line, 4);
  EXPECT_EQ(e->blocks[1].replace, "  float m = -INFINITY;");

  auto child = apply_edit(kParent, *e);
  ASSERT_TRUE(child.ok()) << child.status().to_string();
  EXPECT_NE(child->find("  #pragma unroll\n  for (int i = 0;"), std::string::npos);
  EXPECT_NE(child->find("float m = -INFINITY;"), std::string::npos);
  EXPECT_EQ(child->find("-1e30f"), std::string::npos);
}

TEST(EditsParse, CrlfAndMiscountedMarkersAreAccepted) {
  std::string reply = "<<<<<<<< SEARCH\r\n  float m = -1e30f;\r\n======\r\n  float m = 0;\r\n>>>>>>>  REPLACE\r\n";
  auto child = apply_edit_reply(kParent, reply);
  ASSERT_TRUE(child.ok()) << child.status().to_string();
  EXPECT_NE(child->find("  float m = 0;\n"), std::string::npos);
}

TEST(EditsParse, FencesInsideABlockAreDropped) {
  std::string reply = "<<<<<<< SEARCH\n```cuda\n  float m = -1e30f;\n```\n=======\n```cuda\n  float m = 0;\n```\n>>>>>>> REPLACE\n";
  auto child = apply_edit_reply(kParent, reply);
  ASSERT_TRUE(child.ok()) << child.status().to_string();
  EXPECT_NE(child->find("  float m = 0;\n"), std::string::npos);
  EXPECT_EQ(child->find("```"), std::string::npos);
}

TEST(EditsParse, MalformedBlocksAreErrorsNamingTheBlock) {
  auto no_divider = parse_edit_reply("<<<<<<< SEARCH\n  float m;\n>>>>>>> REPLACE\n");
  ASSERT_FALSE(no_divider.ok());
  EXPECT_NE(no_divider.status().message().find("SEARCH block 1"), std::string::npos);
  EXPECT_NE(no_divider.status().message().find("no ======="), std::string::npos);

  auto cut = parse_edit_reply(block("a", "b") + "<<<<<<< SEARCH\n  float m;\n=======\n  float");
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.status().message().find("SEARCH block 2"), std::string::npos);
  EXPECT_NE(cut.status().message().find("starting `float m;`"), std::string::npos);
  EXPECT_NE(cut.status().message().find("cut off"), std::string::npos);

  auto empty = parse_edit_reply("<<<<<<< SEARCH\n\n=======\nx\n>>>>>>> REPLACE\n");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("empty SEARCH"), std::string::npos);
}

TEST(EditsParse, WholeFileReply) {
  std::string file = std::string(kParent);
  std::string reply = "Here is the new kernel:\n```cuda\n" + file + "```\nIt is faster.";
  auto e = parse_edit_reply(reply);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_EQ(e->format, EditFormat::kWholeFile);
  EXPECT_EQ(e->file, file);
  // Identical to the parent: nothing to evaluate.
  auto same = apply_edit(kParent, *e);
  ASSERT_FALSE(same.ok());
  EXPECT_NE(same.status().message().find("changes nothing"), std::string::npos);

  std::string changed = file;
  changed.replace(changed.find("-1e30f"), 6, "-INFINITY");
  auto child = apply_edit_reply(kParent, "```cuda\n" + changed + "```\n");
  ASSERT_TRUE(child.ok()) << child.status().to_string();
  EXPECT_EQ(*child, changed);
}

TEST(EditsParse, WholeFileRepliesThatAreNotOneCompleteFile) {
  auto none = parse_edit_reply("I think the kernel is already optimal.");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no SEARCH/REPLACE blocks and no ```cuda"), std::string::npos);

  std::string two = "```cuda\n" + std::string(kParent) + "```\nor\n```cuda\n" + kParent + "```\n";
  auto many = parse_edit_reply(two);
  ASSERT_FALSE(many.ok());
  EXPECT_NE(many.status().message().find("2 code blocks"), std::string::npos);

  auto cut = parse_edit_reply("```cuda\n" + std::string(kParent).substr(0, 60));
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.status().message().find("never closed"), std::string::npos);

  auto snippet = parse_edit_reply("```cuda\nfloat m = 0;\n```\n");
  ASSERT_FALSE(snippet.ok());
  EXPECT_NE(snippet.status().message().find("not a complete kernel file"), std::string::npos);

  // A shell block next to the file is not a second file.
  auto with_shell = parse_edit_reply("```bash\nnvcc x.cu\n```\n```cuda\n" + std::string(kParent) + "```\n");
  ASSERT_TRUE(with_shell.ok()) << with_shell.status().to_string();
}

TEST(EditsApply, NoMatchIsAnErrorNamingTheBlockAndNeverSkipped) {
  std::string reply = block("  float m = -1e30f;", "  float m = 0;") +
                      block("  this line is not in the parent;", "  x;");
  auto child = apply_edit_reply(kParent, reply);
  ASSERT_FALSE(child.ok());
  const std::string& m = child.status().message();
  EXPECT_NE(m.find("1 of 2 blocks failed"), std::string::npos) << m;
  EXPECT_NE(m.find("SEARCH block 2"), std::string::npos) << m;
  EXPECT_NE(m.find("starting `this line is not in the parent;`"), std::string::npos) << m;
  EXPECT_NE(m.find("does not match"), std::string::npos) << m;
  EXPECT_EQ(m.find("SEARCH block 1"), std::string::npos) << m;  // that one was fine
}

TEST(EditsApply, WhitespaceMismatchGetsAHint) {
  auto child = apply_edit_reply(kParent, block("float m = -1e30f;", "float m = 0;"));
  ASSERT_FALSE(child.ok());  // the parent line is indented: no exact whole-line match
  EXPECT_NE(child.status().message().find("whitespace were ignored"), std::string::npos)
      << child.status().message();
}

TEST(EditsApply, PartialLineDoesNotMatch) {
  auto child = apply_edit_reply(kParent, block("  float m", "  double m"));
  ASSERT_FALSE(child.ok());
  EXPECT_NE(child.status().message().find("does not match"), std::string::npos);
}

TEST(EditsApply, AmbiguousMatchIsAnError) {
  std::string parent = std::string(kParent) + "__device__ void f() {\n  float m = -1e30f;\n}\n";
  auto child = apply_edit_reply(parent, block("  float m = -1e30f;", "  float m = 0;"));
  ASSERT_FALSE(child.ok());
  EXPECT_NE(child.status().message().find("matches 2 places (lines 4, 10)"), std::string::npos)
      << child.status().message();
}

TEST(EditsApply, BlocksApplyInOrderAndDeletionRemovesLines) {
  std::string reply = block("  float m = -1e30f;", "  float m = 0;") + block("  float m = 0;", "");
  auto child = apply_edit_reply(kParent, reply);
  ASSERT_TRUE(child.ok()) << child.status().to_string();
  EXPECT_EQ(child->find("float m"), std::string::npos);
  EXPECT_NE(child->find("const kevo::Args a) {\n  for (int i"), std::string::npos) << *child;
}

TEST(EditsEvolveBlock, EditInsideTheBlockIsApplied) {
  auto child = apply_edit_reply(kBlocked, block("  float m = -1e30f;", "  float m = 0;"));
  ASSERT_TRUE(child.ok()) << child.status().to_string();
  EXPECT_NE(child->find("  float m = 0;\n}\n// EVOLVE-BLOCK-END"), std::string::npos);
}

TEST(EditsEvolveBlock, EditOutsideTheBlockIsRefused) {
  auto child = apply_edit_reply(kBlocked, block("__device__ int tail() { return 2; }",
                                                "__device__ int tail() { return 3; }"));
  ASSERT_FALSE(child.ok());
  EXPECT_NE(child.status().message().find("outside the EVOLVE-BLOCK"), std::string::npos)
      << child.status().message();
  EXPECT_NE(child.status().message().find("lines 9-9"), std::string::npos) << child.status().message();

  auto before = apply_edit_reply(kBlocked, block("__device__ int helper() { return 1; }", "__device__ int helper() { return 5; }"));
  ASSERT_FALSE(before.ok());
  EXPECT_NE(before.status().message().find("outside the EVOLVE-BLOCK"), std::string::npos);
}

TEST(EditsEvolveBlock, EditTouchingTheMarkersIsRefused) {
  auto child = apply_edit_reply(kBlocked, block("// EVOLVE-BLOCK-END\n__device__ int tail() { return 2; }",
                                                "__device__ int tail() { return 3; }\n// EVOLVE-BLOCK-END"));
  ASSERT_FALSE(child.ok());
  EXPECT_NE(child.status().message().find("touches an EVOLVE-BLOCK marker"), std::string::npos);

  auto added = apply_edit_reply(kBlocked, block("  float m = -1e30f;", "  // EVOLVE-BLOCK-END\n  float m;"));
  ASSERT_FALSE(added.ok());
  EXPECT_NE(added.status().message().find("touches an EVOLVE-BLOCK marker"), std::string::npos);
}

TEST(EditsEvolveBlock, WholeFileMayOnlyChangeTheBlock) {
  std::string inside = kBlocked;
  inside.replace(inside.find("-1e30f"), 6, "0.0f");
  auto ok = apply_edit_reply(kBlocked, "```cuda\n" + inside + "```\n");
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(*ok, inside);

  std::string outside = kBlocked;
  outside.replace(outside.find("return 2"), 8, "return 9");
  auto bad = apply_edit_reply(kBlocked, "```cuda\n" + outside + "```\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("changes line 9"), std::string::npos) << bad.status().message();

  std::string no_markers = kParent;
  auto dropped = apply_edit_reply(kBlocked, "```cuda\n" + no_markers + "```\n");
  ASSERT_FALSE(dropped.ok());
  EXPECT_NE(dropped.status().message().find("EVOLVE-BLOCK"), std::string::npos);
}

TEST(EditsEvolveBlock, UnbalancedParentMarkersAreAnError) {
  std::string parent = std::string(kParent) + "// EVOLVE-BLOCK-START\n";
  auto child = apply_edit_reply(parent, block("  float m = -1e30f;", "  float m = 0;"));
  ASSERT_FALSE(child.ok());
  EXPECT_NE(child.status().message().find("has no EVOLVE-BLOCK-END"), std::string::npos);
}

}  // namespace
}  // namespace kevo

namespace kevo {
namespace {

// A seed laid out like the shipped ones: only the #include outside the EVOLVE-BLOCK.
const char kPlanned[] = R"(#include "kevo/sparse_decode.cuh"
// EVOLVE-BLOCK-START
// kevo:param WARPS = 4 in {2, 4}
// kevo:decode attend grid(Hq, B) block(32*WARPS)
extern "C" __global__ void attend(const kevo::Args a) {
  const int h = blockIdx.x, b = blockIdx.y;
  if (threadIdx.x < a.D) {
    a.o[kevo::q_offset(a, b, h) + threadIdx.x] = a.q[kevo::q_offset(a, b, h) + threadIdx.x];
  }
}
// EVOLVE-BLOCK-END
)";

// The plan evolves with the code: a reply that changes a kevo:decode grid together with the
// kernel that reads it applies, and the child compiles with the real NVRTC to the new plan.
TEST(EditsPlan, AReplyChangingAGridWithItsKernelAppliesAndCompiles) {
  std::string reply =
      "One block per (head, batch) pair on x, and 8 warps:\n" +
      block("// kevo:param WARPS = 4 in {2, 4}\n// kevo:decode attend grid(Hq, B) block(32*WARPS)",
            "// kevo:param WARPS = 8 in {4, 8}\n// kevo:decode attend grid(Hq*B) block(32*WARPS)") +
      block("  const int h = blockIdx.x, b = blockIdx.y;",
            "  const int h = blockIdx.x % a.Hq, b = blockIdx.x / a.Hq;");
  auto child = apply_edit_reply(kPlanned, reply);
  ASSERT_TRUE(child.ok()) << child.status().message();
  auto spec = parse_task_spec(*child);
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  auto params = spec->resolve_params({});
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(params->at("WARPS"), 8);
  auto plan = resolve_plan(*spec, *params, Shape{2, 32, 8, 4096, 128});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->launches[0].grid[0], 64u);  // Hq * B
  EXPECT_EQ(plan->launches[0].block[0], 256u);
  CompileOptions opt;
  opt.timeout_s = 120;
  CompileOutcome out = compile_candidate(Candidate{"child", *child, {}}, opt);
  EXPECT_EQ(out.status, EvalStatus::kOk) << out.message << "\n" << out.log;
}

TEST(EditsErrors, KindsAndTheNearestLinesOfANonMatchingBlock) {
  EditError e = EditError::kBadEdit;
  EXPECT_FALSE(apply_edit_reply(kParent, "Just prose, no code.", &e).ok());
  EXPECT_EQ(e, EditError::kNoEdit);
  EXPECT_STREQ(edit_error_name(e), "no_edit");
  EXPECT_FALSE(apply_edit_reply(kParent, "<<<<<<< SEARCH\nx\n", &e).ok());
  EXPECT_EQ(e, EditError::kBadEdit);
  auto miss = apply_edit_reply(kParent, block("  float m = -1e31f;", "  float m = 0;"), &e);
  ASSERT_FALSE(miss.ok());
  EXPECT_EQ(e, EditError::kNoMatch);
  // The model sees what it should have copied, numbered.
  EXPECT_NE(miss.status().message().find("4:   float m = -1e30f;"), std::string::npos)
      << miss.status().message();
  EXPECT_FALSE(apply_edit_reply(kBlocked, block("__device__ int tail() { return 2; }", "x"), &e).ok());
  EXPECT_EQ(e, EditError::kOutsideBlock);
  EXPECT_FALSE(apply_edit_reply(kParent, block("  float m = -1e30f;", "  float m = -1e30f;"), &e).ok());
  EXPECT_EQ(e, EditError::kNoChange);
}

TEST(EditsErrors, AHundredFailingBlocksAreSummarised) {
  std::string reply;
  for (int i = 0; i < 100; ++i) reply += block("no line " + std::to_string(i), "x");
  EditError e;
  auto r = apply_edit_reply(kParent, reply, &e);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(e, EditError::kNoMatch);
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("(100 of 100 blocks failed)"), std::string::npos);
  EXPECT_NE(m.find("and 92 more blocks that failed"), std::string::npos);
  EXPECT_LT(m.size(), 12000u) << "the feedback stays readable";
}

}  // namespace
}  // namespace kevo
