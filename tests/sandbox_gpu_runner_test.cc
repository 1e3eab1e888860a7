// GpuRunner on a real GPU, fed by a real CompilePool: kernels that hang, access an illegal or a
// misaligned address, or trap each end with the right status, and the next good candidate still
// evaluates correctly on a fresh runner; 200 candidates mixing good and bad leave no stray
// process and no growth of GPU memory. GPU only (skips visibly without one).
#include <dirent.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "sandbox/sandbox.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

// Small shapes keep the honest naive kernel fast; G = 4 like Llama 3.
const char* kSuite =
    "name: sandbox\nHq: 8\nHkv: 2\nD: 128\nseed: 7\n"
    "workloads:\n  - {B: 1, N: 2048}\n";

std::string kernel_source(const std::string& file) {
  return testing::read_file(testing::source_dir() + "/tests/kernels/" + file);
}

// The honest naive kernel with `defect` as the first statement of its body.
std::string naive_with(const std::string& defect) {
  std::string src = kernel_source("naive_dense.cu");
  const std::string anchor = "  float* s = ";
  auto at = src.find(anchor);
  EXPECT_NE(at, std::string::npos);
  return src.insert(at, "  " + defect + "\n");
}

struct Kind {
  std::string name;
  std::string source;
  EvalStatus expected;
};

std::vector<Kind> kinds() {
  return {
      {"good", kernel_source("naive_dense.cu"), EvalStatus::kOk},
      {"loops-forever", kernel_source("loops_forever.cu"), EvalStatus::kTimeout},
      {"illegal-address", kernel_source("illegal_address.cu"), EvalStatus::kCrash},
      {"trap", naive_with("if (a.N > 0 && t == 0) __trap();"), EvalStatus::kCrash},
      {"misaligned",
       naive_with("if (a.N > 0) *reinterpret_cast<float*>(reinterpret_cast<char*>(a.o) + 2) = 0.f;"),
       EvalStatus::kCrash},
  };
}

class SandboxGpuRunner : public ::testing::Test {
 protected:
  void SetUp() override {
    KEVO_REQUIRE_GPU();
    testing::write_file(dir_.file("sandbox.yaml"), kSuite);
    suite_ = dir_.file("sandbox.yaml");
    sandbox_.compile_workers = 2;
    sandbox_.evaluation_timeout_s = 60;
    evaluator_.kernel_timeout_s = 1.0;  // the session stops a hang itself; the runner's deadline is the backstop
    evaluator_.max_seconds_per_workload = 0.05;
    launch_.executable = testing::kevo_binary();
    auto runner = GpuRunner::start(0, sandbox_, evaluator_, launch_);
    ASSERT_TRUE(runner.ok()) << runner.status().to_string();
    runner_ = std::move(*runner);
    CompileOptions opt;
    opt.arch = runner_->info().arch;
    auto pool = CompilePool::start(sandbox_, opt, launch_);
    ASSERT_TRUE(pool.ok()) << pool.status().to_string();
    pool_ = std::move(*pool);
    for (const Kind& k : kinds()) {
      Candidate c{k.name, k.source, {}};
      CompileOutcome o = pool_->compile(c);
      ASSERT_EQ(o.status, EvalStatus::kOk) << k.name << ": " << o.message << "\n" << o.log;
      compiled_[k.name] = {c, o};
    }
  }

  EvalResult eval(const std::string& kind) {
    const auto& [c, o] = compiled_.at(kind);
    return runner_->evaluate(c, o, suite_);
  }

  testing::TempDir dir_;
  std::string suite_;
  SandboxConfig sandbox_;
  EvaluatorConfig evaluator_;
  WorkerLaunch launch_;
  std::unique_ptr<GpuRunner> runner_;
  std::unique_ptr<CompilePool> pool_;
  std::map<std::string, std::pair<Candidate, CompileOutcome>> compiled_;
};

void expect_correct(const EvalResult& r) {
  ASSERT_EQ(eval_status_name(r.status), std::string("ok")) << r.message;
  ASSERT_TRUE(r.metrics.count("mean_rel_err"));
  EXPECT_LT(r.metrics.at("mean_rel_err"), 0.02);
}

TEST_F(SandboxGpuRunner, EachBadKernelGetsItsStatusAndTheNextGoodOneIsCorrect) {
  expect_correct(eval("good"));
  for (const Kind& k : kinds()) {
    if (k.name == "good") continue;
    int pid = runner_->info().pid;
    EvalResult bad = eval(k.name);
    std::cout << k.name << ": " << eval_status_name(bad.status) << ": " << bad.message << "\n";
    EXPECT_EQ(eval_status_name(bad.status), std::string(eval_status_name(k.expected)))
        << k.name << ": " << bad.message;
    EXPECT_FALSE(bad.message.empty());
    EvalResult next = eval("good");
    expect_correct(next);
    EXPECT_NE(runner_->info().pid, pid) << "a runner that lost its context must be replaced";
  }
}

std::vector<int> children_of(int parent) {
  std::vector<int> out;
  DIR* d = opendir("/proc");
  while (dirent* e = readdir(d)) {
    int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    std::getline(in, stat);
    auto close_paren = stat.rfind(')');
    char state = 0;
    int ppid = 0;
    if (close_paren != std::string::npos &&
        sscanf(stat.c_str() + close_paren + 2, "%c %d", &state, &ppid) == 2 && ppid == parent) {
      out.push_back(pid);
    }
  }
  closedir(d);
  return out;
}

// Compute processes on the GPU, as nvidia-smi sees them (empty when it is not installed).
std::vector<int> gpu_compute_pids() {
  std::vector<int> out;
  FILE* p = popen("nvidia-smi --query-compute-apps=pid --format=csv,noheader 2>/dev/null", "r");
  if (!p) return out;
  int pid;
  while (fscanf(p, "%d", &pid) == 1) out.push_back(pid);
  pclose(p);
  return out;
}

TEST_F(SandboxGpuRunner, TwoHundredMixedCandidatesLeaveNoStrayProcessNorMemoryGrowth) {
  std::vector<int> runner_pids;
  std::map<std::string, int> wrong;
  long long first_free = -1, last_free = -1;
  int crashes = 0, timeouts = 0, oks = 0;
  for (int i = 0; i < 200; ++i) {
    std::string kind = "good";
    if (i % 10 == 3) kind = "illegal-address";
    if (i % 25 == 7) kind = "trap";
    if (i % 67 == 11) kind = "misaligned";
    if (i == 101) kind = "loops-forever";
    int pid = runner_->info().pid;
    if (pid > 0 && (runner_pids.empty() || runner_pids.back() != pid)) runner_pids.push_back(pid);
    EvalResult r = eval(kind);
    EvalStatus want = kind == "good" ? EvalStatus::kOk
                      : kind == "loops-forever" ? EvalStatus::kTimeout
                                                : EvalStatus::kCrash;
    if (r.status != want) wrong[kind + " -> " + eval_status_name(r.status) + ": " + r.message]++;
    crashes += r.status == EvalStatus::kCrash;
    timeouts += r.status == EvalStatus::kTimeout;
    oks += r.status == EvalStatus::kOk;
    if (kind == "good" && r.ok()) {
      if (first_free < 0) first_free = runner_->info().free_bytes;
      last_free = runner_->info().free_bytes;
    }
  }
  for (const auto& [what, n] : wrong) ADD_FAILURE() << n << "x " << what;
  std::cout << "200 candidates: " << oks << " ok, " << crashes << " crash, " << timeouts
            << " timeout; runner processes " << runner_->info().starts << "; GPU free after first good "
            << first_free / (1 << 20) << " MiB, after last good " << last_free / (1 << 20) << " MiB\n";
  ASSERT_GT(first_free, 0);
  // The session keeps the suite's data; each fresh runner rebuilds the same. 64 MiB of slack
  // covers allocator rounding, far below what 200 leaked workspaces would cost.
  EXPECT_GT(last_free, first_free - (64LL << 20));

  int last_runner = runner_->info().pid;
  runner_.reset();
  pool_.reset();
  EXPECT_TRUE(children_of(getpid()).empty());
  runner_pids.push_back(last_runner);
  for (int pid : runner_pids) EXPECT_TRUE(kill(pid, 0) != 0 && errno == ESRCH) << pid;
  std::vector<int> on_gpu = gpu_compute_pids();
  for (int pid : runner_pids) {
    EXPECT_EQ(std::count(on_gpu.begin(), on_gpu.end(), pid), 0) << "runner " << pid << " still on the GPU";
  }
  std::cout << "after shutdown: " << children_of(getpid()).size() << " child processes, "
            << on_gpu.size() << " compute processes on the GPU\n";
}

}  // namespace
}  // namespace kevo
