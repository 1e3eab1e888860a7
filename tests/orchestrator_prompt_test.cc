// Prompt templates (the shipped prompts/*.txt and broken ones) and prompt assembly.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "orchestrator/evolution/prompt.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

using nlohmann::json;

const char kParentSource[] = R"(#include "kevo/sparse_decode.cuh"
// kevo:param TOPK = 64 in {32, 64}
// kevo:decode attend grid(Hq, B) block(256)
extern "C" __global__ void attend(const kevo::Args a) { /* PARENT_BODY_MARK */ }
)";

EvalResult ok_result(double speedup) {
  EvalResult r;
  r.fitness = speedup;
  r.metrics = {{"speedup", speedup}, {"mean_rel_err", 0.0213}, {"index_bytes_per_token", 4}};
  WorkloadResult w;
  w.name = "B1-N32768";
  w.B = 1;
  w.N = 32768;
  w.decode_us = 7.9;
  w.dense_us = 40.3;
  w.speedup = 5.1;
  w.mean_rel_err = 0.02;
  w.kernels = {{"score", 3.1, 40, 0, 0}, {"attend", 4.8, 96, 49152, 16}};
  r.workloads = {w};
  r.feedback = "attend dominates: 61% of decode time";
  return r;
}

PromptContext context() {
  PromptContext c;
  c.task.max_mean_rel_err = 0.15;
  c.task.index_cap_bytes_per_token = 96;
  c.task.suite = "llama3-8b: Hq=32, Hkv=8, D=128; (B,N) = (1,8K), (1,32K)";
  c.hardware = {"NVIDIA H100 80GB HBM3", "sm_90a", 132, 3350, 50 << 20, 227 << 10};
  c.parent = {kParentSource, {{"TOPK", 64}}, ok_result(5.1)};
  c.inspirations.push_back({"// INSPIRATION_ONE_SOURCE\n__global__ void x() {}\n", {{"BITS", 16}},
                            ok_result(4.2)});
  c.failed_tries.push_back({"compile_error", "line 12: identifier 'foo' is undefined"});
  c.failed_tries.push_back({"edit_rejected", "SEARCH block 1 (reply line 3) does not match"});
  return c;
}

PromptTemplates shipped() {
  auto t = PromptTemplates::load_default();
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return std::move(t).value();
}

std::map<std::string, std::string> minimal_templates() {
  return {{"task", "limit {{max_mean_rel_err}}"},
          {"system", "sys {{task}} / {{hardware}}"},
          {"diff", "D {{parent_source}}"},
          {"rewrite", "R {{parent_source}}"},
          {"fix", "F {{parent_source}} {{parent_message}}"},
          {"retry", "failed: {{failure}} / {{format}}"},
          {"directions", "# comment\n- first direction\n- second direction\n"}};
}

TEST(Prompt, ShippedTemplatesBuildADiffPromptWithEverything) {
  auto p = shipped().build(context());
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->template_name, "diff");
  // System: task and ABI with the run's limits, and the GPU.
  EXPECT_NE(p->system.find("struct Args"), std::string::npos);
  EXPECT_NE(p->system.find("kevo:decode"), std::string::npos);
  EXPECT_NE(p->system.find("cdiv(a,b)"), std::string::npos);
  EXPECT_NE(p->system.find("cuda_bf16.h"), std::string::npos);
  EXPECT_NE(p->system.find("0.15 makes the kernel `inaccurate`"), std::string::npos);
  EXPECT_NE(p->system.find("at most 96 bytes per token"), std::string::npos);
  EXPECT_NE(p->system.find("(1,32K)"), std::string::npos);
  EXPECT_NE(p->system.find("NVIDIA H100 80GB HBM3 (sm_90a), 132 SMs"), std::string::npos);
  EXPECT_NE(p->system.find("3350 GB/s"), std::string::npos);
  EXPECT_NE(p->system.find("L2 cache 50 MB"), std::string::npos);
  // User: parent, metrics, per-kernel timings, feedback, inspirations, failed tries, format.
  const std::string& u = p->user;
  EXPECT_NE(u.find("```cuda\n#include \"kevo/sparse_decode.cuh\""), std::string::npos);
  EXPECT_NE(u.find("PARENT_BODY_MARK */ }\n```"), std::string::npos);
  EXPECT_NE(u.find("Params (overriding the kevo:param defaults): TOPK=64"), std::string::npos);
  EXPECT_NE(u.find("fitness (speedup over dense): 5.1"), std::string::npos);
  EXPECT_NE(u.find("mean_rel_err: 0.0213"), std::string::npos);
  EXPECT_NE(u.find("B1-N32768 (B=1, N=32768): decode 7.9 us, dense 40.3 us"), std::string::npos);
  EXPECT_NE(u.find("attend: 4.8 us, 96 registers, 48 KB shared, 16 B local"), std::string::npos);
  EXPECT_NE(u.find("attend dominates"), std::string::npos);
  EXPECT_NE(u.find("INSPIRATION_ONE_SOURCE"), std::string::npos);
  EXPECT_NE(u.find("Inspiration 1: fitness 4.2"), std::string::npos);
  EXPECT_NE(u.find("1. [compile_error] line 12: identifier 'foo' is undefined"), std::string::npos);
  EXPECT_NE(u.find("2. [edit_rejected]"), std::string::npos);
  EXPECT_NE(u.find("<<<<<<< SEARCH"), std::string::npos);
  EXPECT_EQ(u.find("{{"), std::string::npos);
  EXPECT_EQ(p->system.find("{{"), std::string::npos);
}

// With the workload's whole shape in the result, each kernel line says its grid for that
// workload and how many blocks that makes per SM; results from before shapes were kept, and
// kernels the plan does not name, say nothing about grids.
TEST(Prompt, KernelLinesGiveTheGridOfEachWorkload) {
  PromptContext c = context();
  auto old = shipped().build(c);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->user.find(", grid "), std::string::npos);
  WorkloadResult& w = c.parent.result.workloads[0];
  w.Hq = 32;
  w.Hkv = 8;
  w.D = 128;
  w.B = 2;
  auto p = shipped().build(c);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_NE(p->user.find("attend: 4.8 us, 96 registers, 48 KB shared, 16 B local (spills), grid "
                         "32x2x1 = 64 blocks of 256 threads (0.4848 per SM)"),
            std::string::npos)
      << p->user;
  EXPECT_NE(p->user.find("score: 3.1 us, 40 registers, 0 B shared, 0 B local (spills)\n"),
            std::string::npos)
      << p->user;
}

TEST(Prompt, RewriteAndFixTemplatesAreChosenFromTheContext) {
  auto c = context();
  c.format = EditFormat::kWholeFile;
  auto rewrite = shipped().build(c);
  ASSERT_TRUE(rewrite.ok()) << rewrite.status().to_string();
  EXPECT_EQ(rewrite->template_name, "rewrite");
  EXPECT_NE(rewrite->user.find("complete new file"), std::string::npos);
  EXPECT_EQ(rewrite->user.find("<<<<<<< SEARCH"), std::string::npos);

  c.parent.result = EvalResult::failure(EvalStatus::kCompileError, "line 4: expected a ';'");
  c.parent.result.compile_log = "candidate.cu(4): error: expected a \";\"";
  auto fix = shipped().build(c);
  ASSERT_TRUE(fix.ok()) << fix.status().to_string();
  EXPECT_EQ(fix->template_name, "fix");
  EXPECT_NE(fix->user.find("status `compile_error`"), std::string::npos);
  EXPECT_NE(fix->user.find("line 4: expected a ';'"), std::string::npos);
  EXPECT_NE(fix->user.find("candidate.cu(4): error"), std::string::npos);
  EXPECT_NE(fix->user.find("PARENT_BODY_MARK"), std::string::npos);
  EXPECT_NE(fix->user.find("identifier 'foo' is undefined"), std::string::npos);
}

TEST(Prompt, EvolveBlockNoteOnlyWhenTheParentHasMarkers) {
  auto c = context();
  auto plain = shipped().build(c);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->user.find("EVOLVE-BLOCK"), std::string::npos);
  c.parent.source = std::string(kParentSource) + "// EVOLVE-BLOCK-START\n// EVOLVE-BLOCK-END\n";
  auto blocked = shipped().build(c);
  ASSERT_TRUE(blocked.ok());
  EXPECT_NE(blocked->user.find("Only the lines between `// EVOLVE-BLOCK-START` and "
                               "`// EVOLVE-BLOCK-END` may change (the kevo: directives, params"),
            std::string::npos);
}

TEST(Prompt, HoldoutResultsInStoredJsonNeverReachThePrompt) {
  json j = to_json(ok_result(5.1));
  j["holdout"] = {{"speedup", 123.456}, {"note", "HOLDOUT_MARKER_7781"}};
  j["metrics"]["holdout_speedup"] = 98.7654;
  json hw = j["workloads"][0];
  hw["name"] = "holdout-B2-N65536-HOLDOUT_WORKLOAD_MARK";
  j["workloads"].push_back(hw);
  auto parent = program_from_result_json(kParentSource, {{"TOPK", 64}}, j);
  ASSERT_TRUE(parent.ok()) << parent.status().to_string();
  EXPECT_EQ(parent->result.metrics.count("holdout_speedup"), 0u);
  EXPECT_EQ(parent->result.workloads.size(), 1u);

  auto c = context();
  c.parent = *parent;
  c.inspirations = {*parent};
  // Also a result built in code with a holdout metric: filtered when rendered.
  c.inspirations.push_back(*parent);
  c.inspirations.back().result.metrics["holdout_mean_rel_err"] = 0.0777;
  for (EditFormat f : {EditFormat::kDiff, EditFormat::kWholeFile}) {
    c.format = f;
    auto p = shipped().build(c);
    ASSERT_TRUE(p.ok()) << p.status().to_string();
    for (const std::string& text : {p->system, p->user}) {
      for (const char* banned : {"HOLDOUT_MARKER_7781", "HOLDOUT_WORKLOAD_MARK", "123.5", "123.456",
                                 "98.77", "0.0777", "holdout"}) {
        EXPECT_EQ(text.find(banned), std::string::npos) << banned;
      }
    }
  }
  EXPECT_FALSE(program_from_result_json("", {}, json{{"status", "bogus"}}).ok());
}

TEST(Prompt, ValuesAreInsertedOnceAndNotReexpanded) {
  auto c = context();
  c.parent.source = "// {{parent_metrics}} and {{nonsense\n__global__ void k() {}\n";
  auto p = shipped().build(c);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_NE(p->user.find("// {{parent_metrics}} and {{nonsense"), std::string::npos);
}

TEST(Prompt, FailedTriesAndLongTextsAreCapped) {
  auto c = context();
  c.failed_tries.clear();
  for (int i = 0; i < 7; ++i) c.failed_tries.push_back({"inaccurate", "try number " + std::to_string(i)});
  c.parent.result.feedback = std::string(10000, 'f');
  PromptOptions o;
  o.max_failed_tries = 3;
  o.max_feedback_chars = 100;
  auto p = shipped().build(c, o);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->user.find("try number 3"), std::string::npos);
  EXPECT_NE(p->user.find("1. [inaccurate] try number 4"), std::string::npos);
  EXPECT_NE(p->user.find("3. [inaccurate] try number 6"), std::string::npos);
  EXPECT_NE(p->user.find("9900 more characters cut"), std::string::npos);
  EXPECT_EQ(p->user.find(std::string(101, 'f')), std::string::npos);
}

TEST(PromptTemplates, UnknownPlaceholderIsAnErrorNamingItsPlace) {
  auto t = minimal_templates();
  t["diff"] = "D {{parent_source}}\nsee {{parent_holdout}}";
  auto r = PromptTemplates::from_text(t);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("prompts/diff.txt line 2: unknown placeholder {{parent_holdout}}"),
            std::string::npos)
      << r.status().message();
}

TEST(PromptTemplates, MissingRequiredPlaceholderIsAnError) {
  auto t = minimal_templates();
  t["rewrite"] = "Rewrite the program, whatever it is.";
  auto r = PromptTemplates::from_text(t);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("prompts/rewrite.txt has no {{parent_source}}"), std::string::npos)
      << r.status().message();

  t = minimal_templates();
  t.erase("fix");
  auto missing = PromptTemplates::from_text(t);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("'fix' is missing"), std::string::npos);
}

TEST(PromptTemplates, MalformedPlaceholdersAreErrors) {
  auto t = minimal_templates();
  t["system"] = "sys {{task}} {{hardware\n}}";
  auto open = PromptTemplates::from_text(t);
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.status().message().find("system.txt line 1: '{{' without '}}'"), std::string::npos)
      << open.status().message();
  t["system"] = "sys {{task}} {{Hard Ware}}";
  EXPECT_FALSE(PromptTemplates::from_text(t).ok());
}

TEST(PromptTemplates, RenderTemplateNeedsAValueForEveryPlaceholder) {
  auto r = render_template("x", "a {{b}} c {{ d }}", {{"b", "B"}, {"d", "D"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "a B c D");
  auto missing = render_template("x", "a\n{{b}} {{e}}", {{"b", "B"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("prompts/x.txt line 2: no value for {{e}}"), std::string::npos);
}

TEST(PromptTemplates, LoadFromAFolderAndReportAMissingFile) {
  testing::TempDir dir;
  for (const auto& [name, text] : minimal_templates()) testing::write_file(dir.file(name + ".txt"), text);
  auto ok = PromptTemplates::load(dir.path());
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok->directions(), (std::vector<std::string>{"first direction", "second direction"}));
  auto p = ok->build(context());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->system.substr(0, 16), "sys limit 0.15 /");
  std::remove(dir.file("task.txt").c_str());
  auto bad = PromptTemplates::load(dir.path());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("task.txt"), std::string::npos);
}

}  // namespace
}  // namespace kevo
