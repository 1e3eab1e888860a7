// One host, many GPUs: which GPUs `--gpus` selects (indices, "all", a GPU twice only with the
// testing switch, mixed models refused unless allowed), and the loop with one runner per GPU:
// every GPU takes work, and with GPU models kept apart each model evaluates only its islands.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>

#include "orchestrator/evolution/gpu_select.h"
#include "tests/fake_backend.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

GpuInfo gpu(int index, const std::string& name) {
  GpuInfo g;
  g.index = index;
  g.name = name;
  g.sm_count = 132;
  g.cc_major = 9;
  return g;
}

TEST(GpuSelect, IndicesAllAndTheirErrors) {
  std::vector<GpuInfo> four = {gpu(0, "H200"), gpu(1, "H200"), gpu(2, "H200"), gpu(3, "H200")};
  auto all = select_gpus(four, "all", false, false);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->gpus.size(), 4u);
  EXPECT_EQ(all->models, std::vector<std::string>{"H200"});
  auto some = select_gpus(four, "2, 0", false, false);
  ASSERT_TRUE(some.ok()) << some.status().to_string();
  ASSERT_EQ(some->gpus.size(), 2u);
  EXPECT_EQ(some->gpus[0].index, 2);
  EXPECT_EQ(some->gpus[1].index, 0);
  auto missing = select_gpus(four, "0,7", false, false);
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("no GPU 7"), std::string::npos);
  EXPECT_NE(missing.status().message().find("3 (H200)"), std::string::npos);  // what there is
  EXPECT_FALSE(select_gpus(four, "0,,1", false, false).ok());
  EXPECT_FALSE(select_gpus(four, "x", false, false).ok());
  // Two runners on one GPU: only with the testing switch.
  auto twice = select_gpus(four, "0,0", false, false);
  EXPECT_NE(twice.status().message().find("KEVO_ALLOW_SHARED_GPU"), std::string::npos);
  auto shared = select_gpus(four, "0,0", false, true);
  ASSERT_TRUE(shared.ok());
  EXPECT_EQ(shared->gpus.size(), 2u);
  EXPECT_FALSE(select_gpus({}, "all", false, false).ok());
}

TEST(GpuSelect, MixedModelsAreRefusedUnlessAllowed) {
  std::vector<GpuInfo> mixed = {gpu(0, "H200"), gpu(1, "A100"), gpu(2, "H200")};
  auto refused = select_gpus(mixed, "all", false, false);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("--allow-mixed-gpus"), std::string::npos);
  EXPECT_TRUE(select_gpus(mixed, "0,2", false, false).ok());  // one model picked
  auto allowed = select_gpus(mixed, "all", true, false);
  ASSERT_TRUE(allowed.ok());
  EXPECT_EQ(allowed->models, (std::vector<std::string>{"H200", "A100"}));
}

constexpr const char* kSeed = R"(#include "kevo/sparse_decode.cuh"
// kevo:param  TILE = 64 in {16, 32, 64, 128, 256}
// kevo:param  UNROLL = 1 in {1, 2, 4, 8}
// kevo:decode attend grid(Hq, B) block(TILE)
// EVOLVE-BLOCK-START
extern "C" __global__ void attend(const kevo::Args a) {
  // body
}
// EVOLVE-BLOCK-END
)";

// The fake GPU, `n` times over, remembering which GPU evaluated which program. With
// hold_until_all_busy, an evaluation waits (up to 10 s) until every GPU has begun one: the fake
// evaluates in microseconds, so on a loaded machine one runner's thread could otherwise finish
// all the work before the other is first scheduled (seen once under ctest -j2 with ASan), and
// the test is about dispatch, not about thread start-up.
class ManyGpus : public testing::FakeBackend {
 public:
  explicit ManyGpus(int n, bool hold_until_all_busy = false) : n_(n), hold_(hold_until_all_busy) {}
  EvalResult evaluate(int gpu, const Candidate& c, const CompileOutcome& o,
                      const std::string& suite) override {
    {
      std::unique_lock lock(seen_mu);
      on_gpu[gpu].insert(std::stoll(c.name.substr(c.name.find(' ') + 1)));
      seen_cv.notify_all();
      if (hold_)
        seen_cv.wait_for(lock, std::chrono::seconds(10),
                         [&] { return static_cast<int>(on_gpu.size()) >= n_; });
    }
    return FakeBackend::evaluate(gpu, c, o, suite);
  }
  int gpu_count() const override { return n_; }
  std::mutex seen_mu;
  std::condition_variable seen_cv;
  std::map<int, std::set<ProgramId>> on_gpu;

 private:
  int n_;
  bool hold_;
};

KevoConfig loop_config(const testing::TempDir& tmp) {
  KevoConfig c;
  testing::write_file(tmp.file("a.cu"), kSeed);
  testing::write_file(tmp.file("b.cu"), std::string(kSeed) + "// another method\n");
  c.run.seeds = {tmp.file("a.cu"), tmp.file("b.cu")};
  c.run.max_evaluations = 20;
  c.archive.islands = 4;
  c.evaluator.holdout_suite = "";
  c.evaluator.counters = "off";
  return c;
}

TEST(GpuLoop, EveryRunnerTakesWork) {
  testing::TempDir tmp;
  KevoConfig c = loop_config(tmp);
  auto archive = Archive::create(tmp.file("kevo.db"), RunInfo{"t"}, c.archive);
  ASSERT_TRUE(archive.ok());
  ManyGpus backend(2, /*hold_until_all_busy=*/true);
  Evolution evo(c, **archive, backend, {}, {gpu(0, "Fake H100"), gpu(0, "Fake H100")});
  ASSERT_TRUE(evo.add_seeds().ok());
  std::atomic<bool> stop{false};
  auto summary = evo.run(stop, [](const Progress&) {});
  ASSERT_TRUE(summary.ok()) << summary.status().to_string();
  EXPECT_EQ(summary->progress.evaluations, 20);
  EXPECT_FALSE(backend.on_gpu[0].empty());
  EXPECT_FALSE(backend.on_gpu[1].empty());
  // The summary counts each runner's jobs as the runners saw them.
  ASSERT_EQ(summary->progress.gpu_jobs.size(), 2u);
  EXPECT_EQ(summary->progress.gpu_jobs[0], static_cast<int64_t>(backend.on_gpu[0].size()));
  EXPECT_EQ(summary->progress.gpu_jobs[1], static_cast<int64_t>(backend.on_gpu[1].size()));
}

TEST(GpuLoop, MixedModelsEachEvaluateTheirOwnIslands) {
  testing::TempDir tmp;
  KevoConfig c = loop_config(tmp);
  c.archive.island_groups = 2;
  c.archive.migration_interval = 4;
  auto archive = Archive::create(tmp.file("kevo.db"), RunInfo{"t"}, c.archive);
  ASSERT_TRUE(archive.ok());
  ManyGpus backend(3);
  std::vector<GpuInfo> hw = {gpu(0, "Fake H100"), gpu(1, "Fake A100"), gpu(2, "Fake H100")};
  {
    Evolution evo(c, **archive, backend, {}, hw);
    ASSERT_TRUE(evo.add_seeds().ok());
    std::atomic<bool> stop{false};
    auto summary = evo.run(stop, [](const Progress&) {});
    ASSERT_TRUE(summary.ok()) << summary.status().to_string();
    EXPECT_EQ(summary->progress.evaluations, 20);
  }
  // Group 0 (islands 0, 2) is the H100s', group 1 (islands 1, 3) the A100's.
  for (const auto& [g, programs] : backend.on_gpu) {
    for (ProgramId id : programs) {
      int island = (*archive)->program(id)->island;
      EXPECT_EQ(island % 2, hw[g].name == "Fake H100" ? 0 : 1) << "#" << id << " on GPU " << g;
    }
  }
  EXPECT_FALSE(backend.on_gpu[1].empty());
  // The run remembers which model has which islands; a host without one of them cannot resume it.
  EXPECT_EQ(*(*(*archive)->value("gpu_models")), nlohmann::json({"Fake H100", "Fake A100"}));
  c.run.max_evaluations = 30;
  ManyGpus h100_only(1);
  Evolution evo2(c, **archive, h100_only, {}, {gpu(0, "Fake H100")});
  std::atomic<bool> stop{false};
  auto resumed = evo2.run(stop, [](const Progress&) {});
  EXPECT_EQ(resumed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(resumed.status().message().find("Fake A100"), std::string::npos);
}

}  // namespace
}  // namespace kevo
