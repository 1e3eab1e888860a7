// The task ABI on the host: kevo: directives, plan expressions and resolved launch plans.
#include <gtest/gtest.h>

#include "evaluator/task.h"

namespace kevo {
namespace {

const char* kDesignExample = R"(#include "kevo/sparse_decode.cuh"

// kevo:param  BITS = 32 in {16, 32, 64}
// kevo:param  TOPK_DIV = 32 in {8, 16, 32, 64}
// kevo:index      B*Hkv*N*(BITS/8)
// kevo:workspace  B*Hq*N*4
// kevo:build   hash_keys  grid(cdiv(N,128), Hkv, B) block(128)
// kevo:decode  score      grid(cdiv(N,256), Hq, B) block(256)
// kevo:decode  attend     grid(Hq, B) block(256) smem(48*1024)

extern "C" __global__ void hash_keys(const kevo::Args a) {}
// EVOLVE-BLOCK-START
extern "C" __global__ void score(const kevo::Args a) {}
// EVOLVE-BLOCK-END
extern "C" __global__ void attend(const kevo::Args a) {}
)";

int64_t eval(const std::string& text, const std::map<std::string, int64_t>& vars = {}) {
  auto e = PlanExpr::parse(text);
  EXPECT_TRUE(e.ok()) << text << ": " << e.status().message();
  if (!e.ok()) return -999;
  auto v = e->eval(vars);
  EXPECT_TRUE(v.ok()) << text << ": " << v.status().message();
  return v.ok() ? *v : -999;
}

std::string eval_error(const std::string& text, const std::map<std::string, int64_t>& vars = {}) {
  auto e = PlanExpr::parse(text);
  if (!e.ok()) return "parse: " + e.status().message();
  auto v = e->eval(vars);
  return v.ok() ? "" : "eval: " + v.status().message();
}

std::string spec_error(const std::string& source) {
  auto s = parse_task_spec(source);
  return s.ok() ? "" : s.status().message();
}

const std::string kDecode = "// kevo:decode attend grid(Hq, B) block(128)\n";

TEST(PlanExpr, ArithmeticPrecedenceAndFunctions) {
  EXPECT_EQ(eval("2 + 3 * 4"), 14);
  EXPECT_EQ(eval("(2 + 3) * 4"), 20);
  EXPECT_EQ(eval("-(3 - 5)"), 2);
  EXPECT_EQ(eval("--4"), 4);
  EXPECT_EQ(eval("10 - 4 - 3"), 3);  // left associative
  EXPECT_EQ(eval("7 / 2"), 3);
  EXPECT_EQ(eval("-7 / 2"), -3);     // C++ truncation
  EXPECT_EQ(eval("7 % 3"), 1);
  EXPECT_EQ(eval("cdiv(7, 2)"), 4);
  EXPECT_EQ(eval("cdiv(8, 2)"), 4);
  EXPECT_EQ(eval("cdiv(0, 5)"), 0);
  EXPECT_EQ(eval("min(3, 1, 2)"), 1);
  EXPECT_EQ(eval("max(3, cdiv(N, 2), 2)", {{"N", 9}}), 5);
  EXPECT_EQ(eval("B*Hkv*N*(BITS/8)", {{"B", 2}, {"Hkv", 8}, {"N", 131072}, {"BITS", 64}}),
            2LL * 8 * 131072 * 8);
  EXPECT_EQ(eval("4294967296 * 4"), 17179869184LL);  // 64-bit, not 32
}

TEST(PlanExpr, ComparisonsAreOneOrZeroAndDoNotChain) {
  const std::map<std::string, int64_t> v = {{"N", 8192}, {"DENSE_N", 8192}};
  EXPECT_EQ(eval("N > DENSE_N", v), 0);
  EXPECT_EQ(eval("N >= DENSE_N", v), 1);
  EXPECT_EQ(eval("N < 2 * DENSE_N", v), 1);
  EXPECT_EQ(eval("N <= 100", v), 0);
  EXPECT_EQ(eval("N == 8192", v), 1);
  EXPECT_EQ(eval("N != 8192", v), 0);
  EXPECT_EQ(eval("cdiv(N, 2048) * (N > 4096)", v), 4);  // loosest binding: the parentheses matter
  EXPECT_EQ(eval("132 * (N <= DENSE_N) + 7", v), 139);
  EXPECT_EQ(eval("min(N > 1, 5)", v), 1);
  EXPECT_NE(eval_error("1 < 2 < 3").find("comparisons do not chain"), std::string::npos);
  EXPECT_NE(eval_error("N = 3", v).find("unexpected '='"), std::string::npos)
      << eval_error("N = 3", v);
  EXPECT_NE(eval_error("N ! 3", v).find("unexpected '!'"), std::string::npos);
}

TEST(PlanExpr, ReportsVariables) {
  auto e = PlanExpr::parse("cdiv(N, BLOCK) * Hq + N");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->variables(), (std::vector<std::string>{"BLOCK", "Hq", "N"}));
  EXPECT_EQ(e->text(), "cdiv(N, BLOCK) * Hq + N");
}

TEST(PlanExpr, ErrorsAreValuesNotUndefinedBehaviour) {
  EXPECT_NE(eval_error("N / (BITS - 32)", {{"N", 8}, {"BITS", 32}}).find("division by zero"), std::string::npos);
  EXPECT_NE(eval_error("5 % 0").find("division by zero"), std::string::npos);
  EXPECT_NE(eval_error("cdiv(N, 0)", {{"N", 8}}).find("division by zero"), std::string::npos);
  EXPECT_NE(eval_error("9223372036854775807 + 1").find("overflows"), std::string::npos);
  EXPECT_NE(eval_error("4294967296 * 4294967296").find("overflows"), std::string::npos);
  EXPECT_NE(eval_error("-9223372036854775807 - 2").find("overflows"), std::string::npos);
  EXPECT_NE(eval_error("99999999999999999999").find("too large"), std::string::npos);
  EXPECT_NE(eval_error("N + X", {{"N", 1}}).find("unknown variable 'X'"), std::string::npos);
}

TEST(PlanExpr, ParseErrorsSayWhere) {
  EXPECT_NE(eval_error("2 +").find("ended"), std::string::npos);
  EXPECT_NE(eval_error("(3").find("expected ')'"), std::string::npos);
  EXPECT_NE(eval_error("foo(1)").find("unknown function 'foo'"), std::string::npos);
  EXPECT_NE(eval_error("3x").find("plain decimal"), std::string::npos);
  EXPECT_NE(eval_error("0x10").find("plain decimal"), std::string::npos);
  EXPECT_NE(eval_error("min(1)").find("at least 2"), std::string::npos);
  EXPECT_NE(eval_error("cdiv(1, 2, 3)").find("exactly 2"), std::string::npos);
  EXPECT_NE(eval_error("2 $ 3").find("column 3"), std::string::npos);
  EXPECT_NE(eval_error(std::string(200, '(') + "1" + std::string(200, ')')).find("nested too deeply"),
            std::string::npos);
  EXPECT_NE(eval_error("").find("ended"), std::string::npos);
}

TEST(TaskSpec, ParsesTheDesignExample) {
  auto s = parse_task_spec(kDesignExample);
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_EQ(s->params.size(), 2u);
  EXPECT_EQ(s->params[0].name, "BITS");
  EXPECT_EQ(s->params[0].value, 32);
  EXPECT_EQ(s->params[0].choices, (std::vector<int64_t>{16, 32, 64}));
  EXPECT_EQ(s->params[0].line, 3);
  EXPECT_EQ(s->params[1].name, "TOPK_DIV");
  EXPECT_EQ(s->index_bytes.text(), "B*Hkv*N*(BITS/8)");
  EXPECT_EQ(s->index_line, 5);
  EXPECT_EQ(s->workspace_bytes.text(), "B*Hq*N*4");
  ASSERT_EQ(s->kernels.size(), 3u);
  EXPECT_EQ(s->kernels[0].name, "hash_keys");
  EXPECT_EQ(s->kernels[0].phase, Phase::kBuild);
  EXPECT_EQ(s->kernels[0].grid[0].text(), "cdiv(N,128)");
  EXPECT_EQ(s->kernels[0].block[1].text(), "1");  // missing dimensions are 1
  EXPECT_EQ(s->kernels[0].smem.text(), "0");
  EXPECT_EQ(s->kernels[1].name, "score");
  EXPECT_EQ(s->kernels[1].phase, Phase::kDecode);
  EXPECT_EQ(s->kernels[2].smem.text(), "48*1024");
  EXPECT_EQ(s->kernels[2].line, 9);
  EXPECT_TRUE(s->has_evolve_block);
  EXPECT_EQ(s->evolve_begin_line, 12);
  EXPECT_EQ(s->evolve_end_line, 14);
}

TEST(TaskSpec, MinimalFileDefaults) {
  auto s = parse_task_spec("//kevo:decode k grid(1) block(32)\n");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_TRUE(s->params.empty());
  EXPECT_EQ(s->index_bytes.text(), "0");
  EXPECT_EQ(s->workspace_bytes.text(), "0");
  EXPECT_FALSE(s->has_evolve_block);
}

// `pdl`: a decode kernel launched as a programmatic dependent of the decode kernel before it.
TEST(TaskSpec, PdlMarksDecodeKernels) {
  auto s = parse_task_spec(
      "// kevo:decode a grid(1) block(32)\n"
      "// kevo:decode b grid(1) block(32) smem(1024) pdl\n"
      "// kevo:decode c grid(1) pdl block(32)\n");
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_EQ(s->kernels.size(), 3u);
  EXPECT_FALSE(s->kernels[0].pdl);
  EXPECT_TRUE(s->kernels[1].pdl);
  EXPECT_EQ(s->kernels[1].smem.text(), "1024");
  EXPECT_TRUE(s->kernels[2].pdl);
  auto plan = resolve_plan(*s, {}, Shape{1, 32, 8, 1024, 128});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_FALSE(plan->launches[0].pdl);
  EXPECT_TRUE(plan->launches[1].pdl);
  EXPECT_NE(spec_error("// kevo:build k grid(1) block(32) pdl\n" + kDecode)
                .find("pdl is for decode kernels"),
            std::string::npos);
  EXPECT_NE(spec_error("// kevo:decode k grid(1) block(32) pdl pdl\n").find("pdl given twice"),
            std::string::npos);
  EXPECT_NE(spec_error("// kevo:decode k grid(1) block(32) pdl(1)\n").find("unexpected text '(1)'"),
            std::string::npos);
}

TEST(TaskSpec, DirectiveErrorsNameTheLine) {
  EXPECT_EQ(spec_error("\n\n// kevo:parm X = 1\n" + kDecode).substr(0, 8), "line 3: ");
  EXPECT_NE(spec_error("\n\n// kevo:parm X = 1\n" + kDecode).find("unknown directive 'kevo:parm'"), std::string::npos);
  std::string dup = spec_error("// kevo:param X = 1\n// kevo:param X = 2\n" + kDecode);
  EXPECT_EQ(dup, "line 2: kevo:param X is already declared at line 1");
  EXPECT_NE(spec_error("// kevo:param X = 3 in {1, 2}\n" + kDecode).find("line 1: kevo:param X: the value 3 is not one of its choices"), std::string::npos);
  EXPECT_NE(spec_error("// kevo:param X = 1 in {1, 1}\n" + kDecode).find("listed twice"), std::string::npos);
  EXPECT_NE(spec_error("// kevo:param X = abc\n" + kDecode).find("line 1: kevo:param X: value 'abc' is not an integer"), std::string::npos);
  EXPECT_NE(spec_error("// kevo:param X 4\n" + kDecode).find("missing '='"), std::string::npos);
  EXPECT_NE(spec_error("// kevo:param N = 4\n" + kDecode).find("reserved"), std::string::npos);
  EXPECT_NE(spec_error("// kevo:param __X = 4\n" + kDecode).find("reserved for the compiler"), std::string::npos);
  EXPECT_NE(spec_error("// kevo:index N*\n" + kDecode).find("line 1: kevo:index:"), std::string::npos);
  EXPECT_NE(spec_error("// kevo:index N\n// kevo:index N\n" + kDecode).find("line 2: kevo:index is already given at line 1"), std::string::npos);
  EXPECT_NE(spec_error("// kevo:workspace\n" + kDecode).find("needs a size expression"), std::string::npos);
  EXPECT_NE(spec_error("\n// kevo:decode k grid(N, BLOCKS) block(32)\n").find("line 2: kevo:decode k grid reads 'BLOCKS'"), std::string::npos);
  EXPECT_NE(spec_error("// kevo:index N*WIDTH\n" + kDecode).find("line 1: kevo:index reads 'WIDTH'"), std::string::npos);
  EXPECT_NE(spec_error("// kevo:decode k block(32)\n").find("grid(...) and block(...) are both required"), std::string::npos);
  EXPECT_NE(spec_error("// kevo:decode k grid(1) block(32) shared(4)\n").find("unknown clause 'shared'"), std::string::npos);
  EXPECT_NE(spec_error("// kevo:decode k grid(1, 2, 3, 4) block(32)\n").find("grid takes at most 3 values"), std::string::npos);
  EXPECT_NE(spec_error("// kevo:decode k grid(1) grid(2) block(32)\n").find("given twice"), std::string::npos);
  EXPECT_NE(spec_error("// kevo:decode k grid(cdiv(N, 2) block(32)\n").find("unbalanced"), std::string::npos);
  EXPECT_NE(spec_error("// kevo:decode k grid(1) block(32) extra\n").find("unknown clause 'extra'"), std::string::npos);
  EXPECT_NE(spec_error("// kevo:decode k grid(1) block(32) ;\n").find("unexpected text ';'"), std::string::npos);
  EXPECT_NE(spec_error("// kevo:decode grid(1) block(32)\n").find("line 1: kevo:decode needs a kernel name"), std::string::npos);
  EXPECT_NE(spec_error(kDecode + kDecode).find("line 2: kernel 'attend' is already listed at line 1"), std::string::npos);
  EXPECT_NE(spec_error("// kevo:build b grid(1) block(32)\n").find("no '// kevo:decode' directive"), std::string::npos);
}

TEST(TaskSpec, LetNamesAnExpressionForTheDirectivesAfterIt) {
  auto s = parse_task_spec(
      "// kevo:param CH = 2048\n"
      "// kevo:param CH_LONG = 3072 in {2048, 3072, 4096}\n"
      "// kevo:let CHUNK = CH + (CH_LONG - CH) * (B*N >= 65536)\n"
      "// kevo:let NCH = cdiv(N, CHUNK)\n"
      "// kevo:index B*Hkv*NCH*D*4\n"
      "// kevo:decode attend grid(NCH, Hkv, B) block(128)\n");
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_EQ(s->lets.size(), 2u);
  EXPECT_EQ(s->lets[0].name, "CHUNK");
  EXPECT_EQ(s->lets[0].line, 3);
  EXPECT_EQ(s->lets[1].expr.text(), "cdiv(N, CHUNK)");
  auto p = s->resolve_params({});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->count("CHUNK"), 0u);  // a plan variable, not a param (not a -D for NVRTC)
  auto grid_x = [&](const std::map<std::string, int64_t>& params, Shape shape) -> int64_t {
    auto plan = resolve_plan(*s, params, shape);
    EXPECT_TRUE(plan.ok()) << plan.status().message();
    return plan.ok() ? plan->launches[0].grid[0] : -1;
  };
  EXPECT_EQ(grid_x(*p, Shape{1, 32, 8, 32768, 128}), 16);   // B*N < 65536: chunks of 2048
  EXPECT_EQ(grid_x(*p, Shape{1, 32, 8, 131072, 128}), 43);  // chunks of 3072
  EXPECT_EQ(grid_x(*p, Shape{8, 32, 8, 32768, 128}), 11);
  EXPECT_EQ(resolve_plan(*s, *p, Shape{1, 32, 8, 131072, 128})->index_bytes,
            1LL * 8 * 43 * 128 * 4);
  auto p4096 = s->resolve_params({{"CH_LONG", 4096}});
  ASSERT_TRUE(p4096.ok());
  EXPECT_EQ(grid_x(*p4096, Shape{1, 32, 8, 131072, 128}), 32);
}

TEST(TaskSpec, LetErrorsNameTheLine) {
  EXPECT_NE(
      spec_error("// kevo:let X = Y + 1\n// kevo:let Y = 1\n" + kDecode)
          .find("line 1: kevo:let X reads 'Y', which is neither a shape variable (B Hq Hkv G N D) "
                "nor a kevo:param or kevo:let of this file (a let reads only the lets above it)"),
      std::string::npos);
  EXPECT_EQ(spec_error("// kevo:let X = 1\n// kevo:let X = 2\n" + kDecode),
            "line 2: kevo:let X is already given at line 1");
  EXPECT_EQ(spec_error("// kevo:param X = 1\n// kevo:let X = 2\n" + kDecode),
            "line 2: kevo:let X has the name of the kevo:param at line 1");
  EXPECT_NE(
      spec_error("// kevo:let N = 2\n" + kDecode).find("line 1: kevo:let name 'N' is reserved"),
      std::string::npos);
  EXPECT_NE(spec_error("// kevo:let X 2\n" + kDecode).find("line 1: kevo:let X: missing '='"),
            std::string::npos);
  EXPECT_NE(spec_error("// kevo:let X == 2\n" + kDecode).find("missing '='"), std::string::npos);
  EXPECT_NE(
      spec_error("// kevo:let X =\n" + kDecode).find("line 1: kevo:let X needs an expression"),
      std::string::npos);
  EXPECT_NE(spec_error("// kevo:let = 2\n" + kDecode).find("line 1: kevo:let needs a name"),
            std::string::npos);
  EXPECT_NE(spec_error("// kevo:let X = N*\n" + kDecode).find("line 1: kevo:let X:"),
            std::string::npos);
  EXPECT_NE(spec_error("// kevo:decode k grid(Y) block(32)\n// kevo:let X = 2\n")
                .find("line 1: kevo:decode k grid reads 'Y'"),
            std::string::npos);
  // The lets are evaluated before everything else: a directive may read one given below it.
  EXPECT_EQ(spec_error("// kevo:decode k grid(X) block(32)\n// kevo:let X = 2\n"), "");
}

TEST(TaskSpec, EvolveBlockMarkersMustPair) {
  EXPECT_EQ(spec_error(kDecode + "// EVOLVE-BLOCK-END\n"), "line 2: EVOLVE-BLOCK-END without an EVOLVE-BLOCK-START before it");
  EXPECT_EQ(spec_error(kDecode + "// EVOLVE-BLOCK-START\n"), "line 2: EVOLVE-BLOCK-START has no EVOLVE-BLOCK-END after it");
  EXPECT_NE(spec_error(kDecode + "// EVOLVE-BLOCK-START\n// EVOLVE-BLOCK-START\n").find("line 3: a second EVOLVE-BLOCK-START"), std::string::npos);
  EXPECT_NE(spec_error(kDecode + "// EVOLVE-BLOCK-START\n// EVOLVE-BLOCK-END\n// EVOLVE-BLOCK-END\n").find("line 4: a second EVOLVE-BLOCK-END"), std::string::npos);
}

TEST(TaskSpec, ResolveParamsChecksNamesAndChoices) {
  auto s = parse_task_spec(kDesignExample);
  ASSERT_TRUE(s.ok());
  auto p = s->resolve_params({{"BITS", 64}});
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->at("BITS"), 64);
  EXPECT_EQ(p->at("TOPK_DIV"), 32);
  auto bad = s->resolve_params({{"BITS", 12}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "param BITS = 12 is not one of {16, 32, 64} (line 3)");
  auto unknown = s->resolve_params({{"WIDTH", 1}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(), "unknown param 'WIDTH' (the file declares: BITS, TOPK_DIV)");
  auto free = parse_task_spec("// kevo:param W = 3\n" + kDecode);
  ASSERT_TRUE(free.ok());
  EXPECT_EQ(free->resolve_params({{"W", 7}})->at("W"), 7);  // no choices: any value
}

TEST(ResolvePlan, ConcreteLaunchesForAShape) {
  auto s = parse_task_spec(kDesignExample);
  ASSERT_TRUE(s.ok());
  auto params = s->resolve_params({});
  Shape shape{1, 32, 8, 32768, 128};
  auto plan = resolve_plan(*s, *params, shape);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->index_bytes, 1LL * 8 * 32768 * 4);
  EXPECT_EQ(plan->workspace_bytes, 1LL * 32 * 32768 * 4);
  ASSERT_EQ(plan->launches.size(), 3u);
  const auto& h = plan->launches[0];
  EXPECT_EQ(h.name, "hash_keys");
  EXPECT_EQ(h.phase, Phase::kBuild);
  EXPECT_EQ(h.grid[0], 256u);
  EXPECT_EQ(h.grid[1], 8u);
  EXPECT_EQ(h.grid[2], 1u);
  EXPECT_EQ(h.block[0], 128u);
  EXPECT_EQ(h.block[1], 1u);
  EXPECT_EQ(plan->launches[1].grid[0], 128u);
  EXPECT_EQ(plan->launches[2].smem, 48u * 1024);
}

TEST(ResolvePlan, GroupSizeVariable) {
  auto s = parse_task_spec("// kevo:decode k grid(Hkv * B) block(32 * G)\n");
  ASSERT_TRUE(s.ok());
  auto plan = resolve_plan(*s, {}, Shape{2, 32, 8, 1024, 128});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->launches[0].grid[0], 16u);
  EXPECT_EQ(plan->launches[0].block[0], 128u);
}

// A method's crossover: below DENSE_N only the dense kernel runs, above it only the sparse ones.
TEST(ResolvePlan, AZeroInAGridSkipsThatKernelAtThatShape) {
  auto s = parse_task_spec(
      "// kevo:param DENSE_N = 8192\n"
      "// kevo:build  index  grid(cdiv(N, 64), Hkv, B) block(256)\n"
      "// kevo:decode dense  grid(132 * (N <= DENSE_N)) block(256)\n"
      "// kevo:decode attend grid(cdiv(N, 2048) * (N > DENSE_N), Hkv, B) block(256)\n");
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto p = s->resolve_params({});
  ASSERT_TRUE(p.ok());
  auto at = [&](int n) {
    auto plan = resolve_plan(*s, *p, Shape{1, 32, 8, n, 128});
    EXPECT_TRUE(plan.ok()) << plan.status().message();
    std::vector<std::string> launched;
    for (const auto& l : plan->launches) {
      if (l.launched()) launched.push_back(l.name);
    }
    return launched;
  };
  EXPECT_EQ(at(8192), (std::vector<std::string>{"index", "dense"}));
  EXPECT_EQ(at(32768), (std::vector<std::string>{"index", "attend"}));
  auto plan = resolve_plan(*s, *p, Shape{1, 32, 8, 8192, 128});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->launches[2].grid[0], 0u);
  EXPECT_EQ(plan->launches[2].grid[1], 8u);
}

std::string plan_error(const std::string& source, Shape shape = {}) {
  auto s = parse_task_spec(source);
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (!s.ok()) return "";
  auto p = s->resolve_params({});
  auto plan = resolve_plan(*s, *p, shape);
  return plan.ok() ? "" : plan.status().message();
}

TEST(ResolvePlan, LetErrorsNameTheLetAndTheShape) {
  std::string e = plan_error("// kevo:let X = N / (B - 1)\n// kevo:decode k grid(X) block(32)\n",
                             Shape{1, 32, 8, 1024, 128});
  EXPECT_EQ(e.substr(0, 36), "line 1: kevo:let X: division by zero") << e;
  EXPECT_NE(e.find("(for B=1 Hq=32 Hkv=8 N=1024 D=128)"), std::string::npos) << e;
}

TEST(ResolvePlan, RejectsImpossibleLaunchesNamingKernelAndLine) {
  std::string neg = plan_error("\n// kevo:decode score grid(N - 100000, Hq) block(256)\n");
  EXPECT_EQ(neg.substr(0, 25), "line 2: kernel 'score' gr");
  EXPECT_NE(neg.find("grid.x = 'N - 100000' = -91808; it must be between 0 (not launched) and"),
            std::string::npos)
      << neg;
  EXPECT_NE(neg.find("N=8192"), std::string::npos);
  // A 0 is allowed (that kernel is skipped), but some decode kernel must write the output.
  std::string none = plan_error("// kevo:decode score grid(N / 100000, Hq) block(256)\n");
  EXPECT_NE(none.find("no decode kernel is launched"), std::string::npos) << none;
  EXPECT_NE(plan_error("// kevo:decode k grid(1, 70000) block(32)\n").find("grid.y"), std::string::npos);
  EXPECT_NE(plan_error("// kevo:decode k grid(1) block(2048)\n").find("block.x = '2048' = 2048"), std::string::npos);
  EXPECT_NE(plan_error("// kevo:decode k grid(1) block(32, 64)\n").find("2048 threads per block"), std::string::npos);
  EXPECT_NE(plan_error("// kevo:decode k grid(1) block(0)\n").find("block.x"), std::string::npos);
  EXPECT_NE(plan_error("// kevo:decode k grid(-1) block(1)\n").find("= -1"), std::string::npos);
  EXPECT_NE(plan_error("// kevo:decode k grid(1) block(1) smem(300*1024)\n").find("227 KB"), std::string::npos);
  EXPECT_NE(plan_error("// kevo:param W = 0\n// kevo:decode k grid(N / W) block(1)\n").find("line 2: kernel 'k' grid.x: division by zero"), std::string::npos);
  EXPECT_NE(plan_error("// kevo:workspace N - 100000\n" + kDecode).find("line 1: kevo:workspace 'N - 100000' is -91808 bytes"), std::string::npos);
  EXPECT_NE(plan_error("// kevo:index N * N * N * N * N\n" + kDecode).find("overflows"), std::string::npos);
  EXPECT_NE(plan_error(kDecode, Shape{1, 32, 0, 8192, 128}).find("Hq must be a positive multiple of Hkv"), std::string::npos);
}

}  // namespace
}  // namespace kevo
