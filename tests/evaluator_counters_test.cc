// Hardware counters (issue 20). On the CPU: raw metric values to KernelCounters, the one-line
// reading, JSON both ways, merging a counters-only result, and results without counters keeping
// exactly their old shape. On the GPU: a copy kernel of known traffic reads and writes its bytes,
// the dense seed reads its K and V, and counters off (or not asked for) leave results without
// any. GPU tests skip visibly without a GPU, and without CUPTI or permission to read counters.
#include <gtest/gtest.h>

#include <numeric>

#include "common/paths.h"
#include "evaluator/config.h"
#include "evaluator/counters.h"
#include "evaluator/cupti_profiler.h"
#include "evaluator/evaluator.h"
#include "evaluator/gpu_context.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

// Values in counter_metric_names() order, by name.
std::vector<double> values_by_name(const std::map<std::string, double>& named) {
  std::vector<double> v;
  for (const std::string& n : counter_metric_names()) {
    auto it = named.find(n);
    v.push_back(it == named.end() ? 0.0 : it->second);
  }
  return v;
}

std::string stall(const char* reason) {
  return std::string("smsp__warps_issue_stalled_") + reason + ".sum";
}

KernelCounters example() {
  return counters_from_values(
      values_by_name({{"dram__bytes_read.sum", 46.1e6},
                      {"dram__bytes_write.sum", 0.4e6},
                      {"gpu__time_duration.sum", 50000},  // ns
                      {"lts__t_sector_hit_rate.pct", 12.3},
                      {"sm__warps_active.avg.per_cycle_active", 16.2},
                      {"smsp__issue_active.avg.pct_of_peak_sustained_active", 35},
                      {"smsp__issue_active.sum", 1000},
                      {stall("long_scoreboard"), 6000},
                      {stall("wait"), 1500},
                      {stall("not_selected"), 1000},
                      {stall("barrier"), 500},
                      {stall("selected"), 1000}}),
      /*copy_gbps=*/3100, /*theoretical_warps_per_sm=*/32);
}

TEST(CountersCpu, MetricValuesBecomeCounters) {
  KernelCounters c = example();
  EXPECT_DOUBLE_EQ(c.dram_read_bytes, 46.1e6);
  EXPECT_DOUBLE_EQ(c.dram_write_bytes, 0.4e6);
  EXPECT_DOUBLE_EQ(c.duration_us, 50.0);
  EXPECT_NEAR(c.dram_gbps, 46.5e6 / 50e-6 / 1e9, 1e-9);  // 930 GB/s
  EXPECT_NEAR(c.dram_copy_pct, 100 * 930.0 / 3100, 1e-9);
  EXPECT_DOUBLE_EQ(c.warps_per_sm, 16.2);
  EXPECT_DOUBLE_EQ(c.theoretical_warps_per_sm, 32);
  // "selected" is the issuing warp, not a stall: shares are of the 9000 stalled warp-cycles.
  ASSERT_EQ(c.stalls.size(), size_t(kTopStalls));
  EXPECT_EQ(c.stalls[0].reason, "long_scoreboard");
  EXPECT_NEAR(c.stalls[0].share, 6000.0 / 9000, 1e-12);
  EXPECT_NEAR(c.stalls[0].per_issue, 6.0, 1e-12);
  EXPECT_EQ(c.stalls[1].reason, "wait");
  EXPECT_EQ(c.stalls[2].reason, "not_selected");
}

TEST(CountersCpu, MissingOrBrokenValuesReadZeroNotNan) {
  KernelCounters c = counters_from_values({}, 3000, 0);
  EXPECT_EQ(c.dram_gbps, 0);
  EXPECT_TRUE(c.stalls.empty());
  std::vector<double> v(counter_metric_names().size(), std::nan(""));
  c = counters_from_values(v, 3000, 0);
  EXPECT_EQ(c.dram_read_bytes, 0);
  EXPECT_TRUE(c.stalls.empty());
  EXPECT_EQ(describe_counters(c).find("nan"), std::string::npos);
}

TEST(CountersCpu, OneLineReadingSaysWhatBoundsTheKernel) {
  std::string line = describe_counters(example());
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NE(
      line.find("reads 46.1 MB, writes 400.0 KB: 930 GB/s, 30% of the measured DRAM bandwidth"),
      std::string::npos)
      << line;
  EXPECT_NE(line.find("L2 hit 12%"), std::string::npos) << line;
  EXPECT_NE(line.find("16.2 warps/SM (32 possible)"), std::string::npos) << line;
  EXPECT_NE(line.find("issuing 35% of cycles"), std::string::npos) << line;
  EXPECT_NE(line.find("stalled mostly on long_scoreboard (67% of stalls: waiting for global or "
                      "local memory), then wait (17%), not_selected (11%)"),
            std::string::npos)
      << line;
}

// The grid against the GPU: 32 blocks on 132 SMs of 2 blocks each leave most SMs without one,
// which warps/SM alone does not show.
TEST(CountersCpu, GridFillSaysWhenSmsSitIdle) {
  KernelCounters c = example();
  set_grid_fill(c, 32, 2, 132);
  EXPECT_DOUBLE_EQ(c.grid_blocks, 32);
  EXPECT_NEAR(c.waves, 32.0 / 264, 1e-12);
  std::string line = describe_counters(c);
  EXPECT_NE(line.find("grid of 32 blocks = 0.12 waves (less than one: 88% of the SMs' block "
                      "slots stay empty)"),
            std::string::npos)
      << line;
  set_grid_fill(c, 1024, 2, 132);
  line = describe_counters(c);
  EXPECT_NE(line.find("grid of 1024 blocks = 3.88 waves;"), std::string::npos) << line;
  EXPECT_EQ(line.find("less than one"), std::string::npos) << line;
  // Unknown occupancy or SM count: no waves, and the line says nothing about the grid.
  set_grid_fill(c, 32, 0, 132);
  EXPECT_EQ(c.waves, 0);
  EXPECT_EQ(describe_counters(c).find("grid of"), std::string::npos);
  KernelCounters none = example();
  EXPECT_EQ(describe_counters(none).find("grid of"), std::string::npos);
}

TEST(CountersCpu, JsonRoundTripsPerKernelAndPerResult) {
  EvalResult r;
  r.fitness = 2;
  r.metrics["speedup"] = 2;
  WorkloadResult w;
  w.name = "B8-N32768";
  w.kernels.push_back({"score", 10, 40, 0, 0});
  w.kernels.push_back({"attend", 20, 128, 4096, 0});
  w.kernels[1].counters = example();
  set_grid_fill(*w.kernels[1].counters, 512, 2, 132);
  r.workloads.push_back(w);
  r.counters = CountersRun{7, 85.5, ""};
  nlohmann::json j = to_json(r);
  EXPECT_FALSE(j["workloads"][0]["kernels"][0].contains("counters"));
  ASSERT_TRUE(j["workloads"][0]["kernels"][1].contains("counters"));
  EXPECT_EQ(j["counters"]["passes"], 7);
  auto back = eval_result_from_json(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_TRUE(back->workloads[0].kernels[1].counters);
  EXPECT_FALSE(back->workloads[0].kernels[0].counters);
  const KernelCounters& c = *back->workloads[0].kernels[1].counters;
  EXPECT_EQ(describe_counters(c), describe_counters(*w.kernels[1].counters));
  EXPECT_DOUBLE_EQ(c.grid_blocks, 512);
  EXPECT_NEAR(c.waves, 512.0 / 264, 1e-12);
  ASSERT_TRUE(back->counters);
  EXPECT_EQ(back->counters->passes, 7);
  EXPECT_EQ(back->counters->ms, 85.5);

  r.counters = CountersRun{0, 3, "CUPTI not found"};
  j = to_json(r);
  EXPECT_EQ(j["counters"]["unavailable"], "CUPTI not found");
  nlohmann::json bad = j;
  bad["workloads"][0]["kernels"][1]["counters"]["stalls"] = {{{"share", 1}}};  // no reason
  EXPECT_FALSE(eval_result_from_json(bad).ok());
}

// `off` (or counters not asked for) leaves the result JSON exactly as it was before counters.
TEST(CountersCpu, ResultsWithoutCountersKeepTheirShape) {
  EvalResult r;
  WorkloadResult w;
  w.name = "B1-N8192";
  w.kernels.push_back({"attend", 20, 128, 4096, 0});
  r.workloads.push_back(w);
  r.gpu = "NVIDIA H200 (sm_90a)";
  nlohmann::json j = to_json(r);
  std::set<std::string> top, kernel;
  for (auto it = j.begin(); it != j.end(); ++it) top.insert(it.key());
  for (auto it = j["workloads"][0]["kernels"][0].begin();
       it != j["workloads"][0]["kernels"][0].end(); ++it) {
    kernel.insert(it.key());
  }
  EXPECT_EQ(top, (std::set<std::string>{"status", "message", "fitness", "metrics", "workloads",
                                        "artifacts", "gpu"}));
  EXPECT_EQ(kernel,
            (std::set<std::string>{"name", "us", "registers", "smem_bytes", "local_bytes"}));
  EXPECT_EQ(j.dump().find("counters"), std::string::npos);
}

TEST(CountersCpu, MergeTakesCountersOnlyWhereWorkloadAndKernelMatch) {
  EvalResult stored;
  for (const char* name : {"B1-N8192", "B8-N32768"}) {
    WorkloadResult w;
    w.name = name;
    w.decode_us = 42;
    w.kernels.push_back({"score", 10, 40, 0, 0});
    w.kernels.push_back({"attend", 20, 128, 4096, 0});
    stored.workloads.push_back(w);
  }
  EvalResult only;
  WorkloadResult w;
  w.name = "B8-N32768";
  w.kernels.push_back({"score", 0, 40, 0, 0});
  w.kernels.push_back({"renamed", 0, 128, 4096, 0});
  w.kernels[0].counters = example();
  w.kernels[1].counters = example();
  only.workloads.push_back(w);
  only.counters = CountersRun{7, 90, ""};
  merge_counters(stored, only);
  EXPECT_FALSE(stored.workloads[0].kernels[0].counters);
  ASSERT_TRUE(stored.workloads[1].kernels[0].counters);
  EXPECT_FALSE(stored.workloads[1].kernels[1].counters);  // not the same kernel
  EXPECT_EQ(stored.workloads[1].kernels[0].us, 10);       // timings stay
  EXPECT_EQ(stored.workloads[1].decode_us, 42);
  ASSERT_TRUE(stored.counters);
  EXPECT_EQ(stored.counters->passes, 7);
}

TEST(CountersCpu, ConfigKeyTakesOffElitesAllOnly) {
  EvaluatorConfig c;
  EXPECT_EQ(c.counters, "elites");
  EXPECT_EQ(c.counters_workloads, "largest");
  EXPECT_TRUE(load_yaml_config("counters: all\ncounters_workloads: B1-N8192\n", "t.yaml", c).ok());
  EXPECT_EQ(c.counters, "all");
  Status st = load_yaml_config("counters: sometimes\n", "t.yaml", c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("off, elites or all"), std::string::npos) << st.message();
  for (const char* m : {"off", "elites", "all"}) {
    ASSERT_TRUE(parse_counters_mode(m));
    EXPECT_STREQ(counters_mode_name(*parse_counters_mode(m)), m);
  }
}

TEST(CountersCpu, StallNamesAreMetricsTheProfilerCollects) {
  // Every stall hint names a collected counter (a typo would never show up in a reading).
  const auto& names = counter_metric_names();
  for (const char* r : {"long_scoreboard", "short_scoreboard", "mio_throttle", "lg_throttle",
                        "math_pipe_throttle", "wait", "barrier", "not_selected", "gmma"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), stall(r)), names.end()) << r;
    EXPECT_FALSE(stall_hint(r).empty()) << r;
  }
}

// ---- on the GPU ----------------------------------------------------------------------------

// Skips when counters cannot work on this machine (no CUPTI, no permission): that is a result
// without counters, not a failure. Any other profiler error fails the test.
#define KEVO_REQUIRE_COUNTERS(ctx, prof)                                                  \
  auto prof##_made = CounterProfiler::create((ctx).context(), 0, counter_metric_names()); \
  if (!prof##_made.ok()) {                                                                \
    const std::string why = prof##_made.status().message();                               \
    if (!cupti_library().ok() || why.find("ERR_NVGPUCTRPERM") != std::string::npos) {     \
      GTEST_SKIP() << "no hardware counters here: " << why;                               \
    }                                                                                     \
    FAIL() << why;                                                                        \
  }                                                                                       \
  CounterProfiler& prof = **prof##_made

constexpr const char* kCopyKernel = R"(#include "kevo/sparse_decode.cuh"
// kevo:decode copy grid(1) block(256)
extern "C" __global__ void copy(const uint4* src, uint4* dst, unsigned long long n) {
  for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
       i += (unsigned long long)gridDim.x * blockDim.x) {
    dst[i] = src[i];
  }
}
)";

TEST(CountersGpu, CopyKernelReadsAndWritesItsBytes) {
  KEVO_REQUIRE_GPU();
  auto opened = GpuContext::open(0);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  GpuContext& ctx = **opened;
  KEVO_REQUIRE_COUNTERS(ctx, prof);
  CompileOptions opt;
  opt.arch = ctx.info().arch();
  CompileOutcome compiled = compile_candidate({"copy", kCopyKernel, {}}, opt);
  ASSERT_EQ(compiled.status, EvalStatus::kOk) << compiled.message << compiled.log;
  const CudaDriver& d = ctx.drv();
  CUmodule mod = nullptr;
  CUfunction fn = nullptr;
  ASSERT_EQ(d.cuModuleLoadData(&mod, compiled.cubin.data()), CUDA_SUCCESS);
  ASSERT_EQ(d.cuModuleGetFunction(&fn, mod, "copy"), CUDA_SUCCESS);
  // 2 GiB: far above L2 (the share of writes still dirty in L2 when the kernel ends, written
  // back later and not counted, stays under 3%).
  const size_t bytes = size_t(2) << 30;
  auto src = ctx.alloc("src", bytes), dst = ctx.alloc("dst", bytes);
  ASSERT_TRUE(src.ok() && dst.ok());
  ASSERT_TRUE(ctx.garbage(src->data, bytes, 7).ok());
  unsigned long long n = bytes / 16;
  CUdeviceptr s = src->data, t = dst->data;
  void* args[] = {&s, &t, &n};
  const unsigned blocks = unsigned(ctx.info().sm_count) * 8;
  int passes = 0;
  auto values = prof.profile(
      1, [&] { return ctx.evict_l2_clean().ok() && ctx.wait(30).ok(); },
      [&] {
        return d.cuLaunchKernel(fn, blocks, 1, 1, 256, 1, 1, 0, ctx.stream(), args, nullptr) ==
                   CUDA_SUCCESS &&
               ctx.wait(30).ok();
      },
      &passes);
  ASSERT_TRUE(values.ok()) << values.status().message();
  ASSERT_EQ(values->size(), 1u);
  KernelCounters c = counters_from_values((*values)[0], ctx.info().copy_gbps, 0);
  std::printf(
      "copy of %.0f MB: read %.1f MB, wrote %.1f MB, %.1f us, %.0f GB/s (%.0f%% of copy), "
      "%d passes\n",
      bytes / 1e6, c.dram_read_bytes / 1e6, c.dram_write_bytes / 1e6, c.duration_us, c.dram_gbps,
      c.dram_copy_pct, passes);
  EXPECT_NEAR(c.dram_read_bytes, double(bytes), 0.05 * bytes);
  EXPECT_NEAR(c.dram_write_bytes, double(bytes), 0.05 * bytes);
  EXPECT_GT(passes, 1);
  EXPECT_GT(c.duration_us, 0);
  EXPECT_GT(c.warps_per_sm, 1);
  ctx.free(*src);
  ctx.free(*dst);
  d.cuModuleUnload(mod);
}

std::string one_workload_suite(const testing::TempDir& tmp, int B, int N) {
  std::string path = tmp.file("suite.yaml");
  testing::write_file(path,
                      "name: counters-test\nHq: 32\nHkv: 8\nD: 128\nseed: 8001\n"
                      "workloads:\n  - {B: " +
                          std::to_string(B) + ", N: " + std::to_string(N) + "}\n");
  return path;
}

std::string dense_source() {
  auto path = data_path("seeds/dense_flashdecode.cu");
  std::string src;
  EXPECT_TRUE(path.ok() && read_text_file(*path, src).ok());
  return src;
}

TEST(CountersGpu, DenseSeedReadsItsKeysAndValues) {
  KEVO_REQUIRE_GPU();
  {
    auto ctx = GpuContext::open(0);
    ASSERT_TRUE(ctx.ok()) << ctx.status().message();
    KEVO_REQUIRE_COUNTERS(**ctx, prof);
    (void)prof;  // only whether counters work here
  }
  testing::TempDir tmp;
  const std::string suite = one_workload_suite(tmp, 1, 131072);
  EvaluatorConfig cfg;
  cfg.suite = suite;
  auto session = open_gpu_session(0, cfg);
  ASSERT_TRUE(session.ok()) << session.status().message();
  EvalOptions with;
  with.counters = true;
  EvalResult r = evaluate_in_process(**session, {"dense", dense_source(), {}}, {}, suite, with);
  ASSERT_TRUE(r.ok()) << r.message;
  ASSERT_TRUE(r.counters);
  ASSERT_EQ(r.counters->unavailable, "");
  EXPECT_GT(r.counters->passes, 1);
  const double kv = 2.0 * 1 * 8 * 131072 * 128 * 2;  // K and V, bf16
  double read = 0;
  for (const KernelTiming& k : r.workloads.at(0).kernels) {
    ASSERT_TRUE(k.counters) << k.name;
    read += k.counters->dram_read_bytes;
    std::printf("dense %s: %.2f us timed; %s\n", k.name.c_str(), k.us,
                describe_counters(*k.counters).c_str());
    // The grid against this GPU's SMs and the blocks one may hold.
    EXPECT_GE(k.counters->grid_blocks, 1) << k.name;
    EXPECT_GT(k.counters->waves, 0) << k.name;
    EXPECT_LE(k.counters->waves, k.counters->grid_blocks) << k.name;
  }
  EXPECT_NEAR(read, kv, 0.05 * kv);

  // Counters not asked for, in the default mode (elites): none, and the JSON keeps its shape.
  EvalResult plain = evaluate_in_process(**session, {"dense", dense_source(), {}}, {}, suite);
  ASSERT_TRUE(plain.ok()) << plain.message;
  EXPECT_FALSE(plain.counters);
  EXPECT_EQ(to_json(plain).dump().find("counters"), std::string::npos);

  // Counters only (a new elite): no timing, the kernels' counters, mergeable into `plain`.
  EvalOptions only;
  only.counters_only = true;
  EvalResult c = evaluate_in_process(**session, {"dense", dense_source(), {}}, {}, suite, only);
  ASSERT_TRUE(c.ok()) << c.message;
  EXPECT_TRUE(c.metrics.empty());
  ASSERT_EQ(c.workloads.size(), 1u);
  merge_counters(plain, c);
  for (const KernelTiming& k : plain.workloads[0].kernels) EXPECT_TRUE(k.counters) << k.name;
}

TEST(CountersGpu, OffMeansNoCountersEvenWhenAsked) {
  KEVO_REQUIRE_GPU();
  testing::TempDir tmp;
  const std::string suite = one_workload_suite(tmp, 1, 8192);
  EvaluatorConfig cfg;
  cfg.suite = suite;
  cfg.counters = "off";
  auto session = open_gpu_session(0, cfg);
  ASSERT_TRUE(session.ok()) << session.status().message();
  EvalOptions with;
  with.counters = true;
  EvalResult r = evaluate_in_process(**session, {"dense", dense_source(), {}}, {}, suite, with);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_FALSE(r.counters);
  EXPECT_EQ(to_json(r).dump().find("counters"), std::string::npos);
}

}  // namespace
}  // namespace kevo
