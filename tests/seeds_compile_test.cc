// Every seed in seeds/ parses, resolves its plan on the default suite's shapes within the index
// cap, and compiles with the real NVRTC for sm_90a at its default params and at the extremes of
// its params' choices (all smallest, all largest; and each param alone at its smallest and its
// largest, the others at their defaults). No GPU needed. The GPU test evaluates each
// seed on the quick suite and expects status ok (skips visibly without a GPU).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "evaluator/evaluator.h"
#include "evaluator/task.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

namespace fs = std::filesystem;
using testing::read_file;
using testing::source_dir;

std::vector<std::string> seed_files() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(source_dir() + "/seeds")) {
    if (e.path().extension() == ".cu") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string seed_name(const std::string& path) { return fs::path(path).stem().string(); }

// Default params, then every param at its smallest choice, then every param at its largest.
std::vector<std::map<std::string, int64_t>> param_sets(const TaskSpec& spec) {
  std::map<std::string, int64_t> lo, hi;
  for (const ParamSpec& p : spec.params) {
    if (p.choices.empty()) continue;
    lo[p.name] = *std::min_element(p.choices.begin(), p.choices.end());
    hi[p.name] = *std::max_element(p.choices.begin(), p.choices.end());
  }
  return {{}, lo, hi};
}

// Each param alone at its smallest and at its largest choice, the others at their defaults (a
// value equal to the default is left out): what the tuner tries first, one param at a time.
std::vector<std::map<std::string, int64_t>> one_param_extremes(const TaskSpec& spec) {
  std::vector<std::map<std::string, int64_t>> out;
  for (const ParamSpec& p : spec.params) {
    if (p.choices.empty()) continue;
    const int64_t lo = *std::min_element(p.choices.begin(), p.choices.end());
    const int64_t hi = *std::max_element(p.choices.begin(), p.choices.end());
    if (lo != p.value) out.push_back({{p.name, lo}});
    if (hi != p.value && hi != lo) out.push_back({{p.name, hi}});
  }
  return out;
}

std::string describe(const std::map<std::string, int64_t>& params) {
  if (params.empty()) return "defaults";
  std::string s;
  for (const auto& [k, v] : params) s += (s.empty() ? "" : " ") + k + "=" + std::to_string(v);
  return s;
}

// The default suite's shapes (configs/suites/llama3-8b.yaml) and the quick suite's.
const Shape kShapes[] = {{1, 32, 8, 8192, 128},  {1, 32, 8, 32768, 128}, {1, 32, 8, 131072, 128},
                         {8, 32, 8, 32768, 128}, {1, 32, 8, 4096, 128},  {2, 32, 8, 16384, 128}};
constexpr int64_t kIndexCap = 128;  // bytes per token per KV head (docs/design.md, Anti-cheat)

TEST(Seeds, AllSeedsArePresent) {
  std::vector<std::string> names;
  for (const auto& f : seed_files()) names.push_back(seed_name(f));
  for (const char* want : {"hash_topk", "socket_soft", "quest_pages", "magicpig_lsh",
                           "vattention", "dsa_indexer"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  }
}

TEST(Seeds, ParseWithParamChoicesAndAnEvolveBlock) {
  for (const auto& file : seed_files()) {
    SCOPED_TRACE(file);
    auto spec = parse_task_spec(read_file(file));
    ASSERT_TRUE(spec.ok()) << spec.status().message();
    EXPECT_TRUE(spec->has_evolve_block);
    if (seed_name(file) == "dense_flashdecode") continue;  // the evaluator's baseline
    EXPECT_GE(spec->params.size(), 3u);
    for (const ParamSpec& p : spec->params) {
      EXPECT_GE(p.choices.size(), 2u) << p.name << " has no range for the tuner";
      EXPECT_NE(std::find(p.choices.begin(), p.choices.end(), p.value), p.choices.end())
          << p.name << "'s default is not among its choices";
    }
  }
}

// The plan is part of what evolves: every directive and kernel of a seed sits inside its
// EVOLVE-BLOCK, so an edit may change grids, sizes and params together with the code; only the
// header comment and the #include stay outside.
TEST(Seeds, EverythingButTheIncludeIsInsideTheEvolveBlock) {
  for (const auto& file : seed_files()) {
    SCOPED_TRACE(file);
    std::string text = read_file(file);
    auto spec = parse_task_spec(text);
    ASSERT_TRUE(spec.ok()) << spec.status().message();
    ASSERT_TRUE(spec->has_evolve_block);
    for (const ParamSpec& p : spec->params) {
      EXPECT_GT(p.line, spec->evolve_begin_line) << "kevo:param " << p.name << " is outside";
    }
    for (const KernelLaunchSpec& k : spec->kernels) {
      EXPECT_GT(k.line, spec->evolve_begin_line) << "kernel " << k.name << "'s directive is outside";
    }
    if (spec->index_line) {
      EXPECT_GT(spec->index_line, spec->evolve_begin_line);
    }
    if (spec->workspace_line) {
      EXPECT_GT(spec->workspace_line, spec->evolve_begin_line);
    }
    // Outside the block: comments, blank lines and #include lines only.
    int line = 0;
    std::istringstream in(text);
    for (std::string raw; std::getline(in, raw);) {
      ++line;
      if (line >= spec->evolve_begin_line && line <= spec->evolve_end_line) continue;
      std::string t = raw.substr(std::min(raw.size(), raw.find_first_not_of(" \t")));
      bool allowed = t.empty() || t.rfind("//", 0) == 0 || t.rfind("#include", 0) == 0;
      EXPECT_TRUE(allowed) << "line " << line << " is code outside the EVOLVE-BLOCK: " << raw;
    }
  }
}

TEST(Seeds, PlansResolveWithinTheIndexCap) {
  for (const auto& file : seed_files()) {
    auto spec = parse_task_spec(read_file(file));
    ASSERT_TRUE(spec.ok()) << file << ": " << spec.status().message();
    for (const auto& overrides : param_sets(*spec)) {
      auto params = spec->resolve_params(overrides);
      ASSERT_TRUE(params.ok()) << file << ": " << params.status().message();
      for (const Shape& s : kShapes) {
        SCOPED_TRACE(seed_name(file) + " " + describe(overrides) + " B=" + std::to_string(s.B) +
                     " N=" + std::to_string(s.N));
        auto plan = resolve_plan(*spec, *params, s);
        ASSERT_TRUE(plan.ok()) << plan.status().message();
        EXPECT_LE(plan->index_bytes, kIndexCap * s.B * s.Hkv * (int64_t)s.N);
        EXPECT_GT(plan->launches.size(), 0u);
      }
    }
  }
}

TEST(Seeds, CompileWithNvrtcAtDefaultsAndExtremes) {
  CompileOptions opt;
  opt.arch = "sm_90a";
  for (const auto& file : seed_files()) {
    const std::string src = read_file(file);
    auto spec = parse_task_spec(src);
    ASSERT_TRUE(spec.ok()) << file << ": " << spec.status().message();
    for (const auto& overrides : param_sets(*spec)) {
      SCOPED_TRACE(seed_name(file) + " " + describe(overrides));
      CompileOutcome out = compile_candidate({seed_name(file), src, overrides}, opt);
      ASSERT_EQ(out.status, EvalStatus::kOk) << out.message << "\n" << out.log;
      EXPECT_FALSE(out.cubin.empty());
      if (seed_name(file) == "dense_flashdecode") continue;  // the evaluator's baseline
      for (const KernelResources& k : out.kernels) {
        EXPECT_LE(k.smem_bytes, 48 * 1024) << k.name << " needs the dynamic smem opt-in";
        const bool timed = std::any_of(spec->kernels.begin(), spec->kernels.end(), [&](auto& l) {
          return l.name == k.name && l.phase == Phase::kDecode;
        });
        // A few spilled words can pay for occupancy: dsa_indexer's attend at 128 registers (two
        // blocks per SM) spills up to ~150 B at its largest params and was fastest that way on
        // the H100 (167 registers, no spill, one block per SM, was slower). Hundreds of bytes
        // (its MINB=3 spilled 1240 B) are a bug.
        if (timed) {
          EXPECT_LE(k.spill_stores, 160) << k.name << " (decode) spills registers";
        }
      }
    }
  }
}

// A static size that only some combinations overflow hides from the all-smallest and
// all-largest sets above: hash_topk's signatures staged in the tile buffers did not fit at
// ASTAGES=1 with its default 3072-token chunks (a static_assert, so every such tuner evaluation
// was a compile_error). ~110 compiles, one thread per core up to 8 (two on CI: ~2.5 min; the
// GPU machine's 16 cores took it past the GPU check's time box at two).
TEST(Seeds, CompileWithNvrtcWithEachParamAloneAtItsExtremes) {
  CompileOptions opt;
  opt.arch = "sm_90a";
  struct Job {
    std::string what;
    Candidate candidate;
  };
  std::vector<Job> jobs;
  for (const auto& file : seed_files()) {
    const std::string src = read_file(file);
    auto spec = parse_task_spec(src);
    ASSERT_TRUE(spec.ok()) << file << ": " << spec.status().message();
    for (const auto& overrides : one_param_extremes(*spec)) {
      jobs.push_back(
          {seed_name(file) + " " + describe(overrides), {seed_name(file), src, overrides}});
    }
  }
  ASSERT_GT(jobs.size(), 50u);
  std::vector<CompileOutcome> outcomes(jobs.size());
  const size_t threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
  auto run_from = [&](size_t first) {
    for (size_t i = first; i < jobs.size(); i += threads)
      outcomes[i] = compile_candidate(jobs[i].candidate, opt);
  };
  std::vector<std::future<void>> others;
  for (size_t t = 1; t < threads; ++t)
    others.push_back(std::async(std::launch::async, run_from, t));
  run_from(0);
  for (auto& f : others) f.get();
  for (size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(outcomes[i].status, EvalStatus::kOk)
        << jobs[i].what << ": " << outcomes[i].message << "\n"
        << outcomes[i].log;
  }
}

TEST(SeedsGpu, EverySeedIsOkOnTheQuickSuite) {
  KEVO_REQUIRE_GPU();
  EvaluatorConfig cfg;
  auto session = open_gpu_session(0, cfg);
  ASSERT_TRUE(session.ok()) << session.status().message();
  const std::string quick = source_dir() + "/configs/suites/quick.yaml";
  for (const auto& file : seed_files()) {
    SCOPED_TRACE(file);
    EvalResult r = evaluate_in_process(**session, {seed_name(file), read_file(file), {}},
                                       CompileOptions{}, quick);
    EXPECT_EQ(r.status, EvalStatus::kOk) << eval_status_name(r.status) << ": " << r.message;
    if (r.ok()) {
      EXPECT_LE(r.metrics.at("mean_rel_err"), cfg.max_mean_rel_err);
      EXPECT_LE(r.metrics.at("index_bytes_per_token"), kIndexCap);
    }
    ASSERT_FALSE((*session)->poisoned()) << "a seed broke the GPU context";
  }
}

}  // namespace
}  // namespace kevo
