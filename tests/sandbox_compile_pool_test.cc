// CompilePool end to end: real `kevo sandbox-worker compile` processes, real NVRTC. Sources that try to
// read outside files are refused and leak nothing; compile bombs are stopped and the pool goes
// on; a worker killed mid-job is replaced; workers never see the parent's secrets.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <future>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "sandbox/sandbox.h"
#include "tests/sandbox_test_support.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

const char* kGood =
    "#include \"kevo/sparse_decode.cuh\"\n"
    "// kevo:param SCALE = 2 in {1, 2, 4}\n"
    "// kevo:decode copy grid(1) block(32)\n"
    "extern \"C\" __global__ void copy(const kevo::Args a) {\n"
    "  if (threadIdx.x == 0) a.o[0] = __float2bfloat16(SCALE * __bfloat162float(a.q[0]));\n"
    "}\n";

Candidate candidate(const std::string& name, const std::string& source) {
  Candidate c;
  c.name = name;
  c.source = source;
  return c;
}

// A kernel whose body comes after the task header and one decode directive.
Candidate kernel(const std::string& name, const std::string& before, const std::string& body) {
  return candidate(name, "#include \"kevo/sparse_decode.cuh\"\n" + before +
                             "// kevo:decode k grid(1) block(32)\n"
                             "extern \"C\" __global__ void k(const kevo::Args a) {\n" +
                             body + "\n}\n");
}

SandboxConfig small_config() {
  SandboxConfig c;
  c.compile_workers = 2;
  c.compile_timeout_s = 8;
  c.compile_memory_mb = 2048;
  return c;
}

std::unique_ptr<CompilePool> start_pool(const SandboxConfig& config = small_config()) {
  WorkerLaunch launch;
  launch.executable = testing::kevo_binary();
  auto pool = CompilePool::start(config, CompileOptions{}, launch);
  EXPECT_TRUE(pool.ok()) << pool.status().to_string();
  return pool.ok() ? std::move(*pool) : nullptr;
}

std::string everything(const CompileOutcome& o) { return o.message + "\n" + o.log; }

bool process_exists(int pid) { return kill(pid, 0) == 0 || errno != ESRCH; }

TEST(SandboxCompilePool, GoodCandidatesCompileConcurrently) {
  auto pool = start_pool();
  ASSERT_TRUE(pool);
  EXPECT_EQ(pool->worker_pids().size(), 2u);
  EXPECT_EQ(pool->landlock(), landlock_abi_version() > 0);
  std::vector<std::future<CompileOutcome>> futures;
  for (int64_t scale : {1, 2, 4, 1, 2, 4}) {
    Candidate c = candidate("good", kGood);
    c.params["SCALE"] = scale;
    futures.push_back(pool->submit(c));
  }
  for (auto& f : futures) {
    CompileOutcome o = f.get();
    EXPECT_EQ(o.status, EvalStatus::kOk) << everything(o);
    EXPECT_FALSE(o.cubin.empty());
  }
  EXPECT_EQ(pool->restarts(), 0);
}

// Every way a source could name an outside file. The include allow-list refuses most before
// NVRTC runs; the symlink behind an allowed name gets as far as NVRTC and meets the worker's
// confinement (it runs in the CUDA include folder, under Landlock). Nothing of the files leaks.
TEST(SandboxCompilePool, OutsideFilesAreRefusedAndNeverLeak) {
  testing::TempDir tmp;
  const std::string marker = "kevo_pool_secret_9d41b7";
  testing::write_file(tmp.file("secret.h"), marker + "\n");
  std::filesystem::create_directories(tmp.file("cuda"));
  ASSERT_EQ(symlink("/etc/hostname", tmp.file("cuda/leak.h").c_str()), 0);
  ASSERT_EQ(symlink(tmp.file("secret.h").c_str(), tmp.file("cuda/secret.h").c_str()), 0);
  std::string hostname = testing::read_file("/etc/hostname");
  ASSERT_FALSE(hostname.empty());

  // Relative includes resolve against the current folder first: make it the one with the links.
  std::string old_cwd = std::filesystem::current_path();
  std::filesystem::current_path(tmp.path());
  auto pool = start_pool();
  std::filesystem::current_path(old_cwd);
  ASSERT_TRUE(pool);

  std::vector<Candidate> attacks = {
      kernel("absolute", "#include \"/etc/hostname\"\n", ""),
      kernel("absolute-angle", "#include </etc/hostname>\n", ""),
      kernel("climb", "#include \"../../../../../../../../etc/hostname\"\n", ""),
      kernel("climb-from-cuda", "#include <cuda/../../../../../../etc/hostname>\n", ""),
      kernel("secret", "#include \"" + tmp.file("secret.h") + "\"\n", ""),
      kernel("symlink-absolute", "#include \"" + tmp.file("cuda/leak.h") + "\"\n", ""),
      kernel("symlink-allowed-name", "#include \"cuda/leak.h\"\n", ""),
      kernel("symlink-allowed-name-2", "#include \"cuda/secret.h\"\n", ""),
      kernel("has-include", "#if __has_include(\"/etc/hostname\")\n#define FOUND 1\n#endif\n", ""),
      kernel("has-include-secret",
             "#if __has_include(\"" + tmp.file("secret.h") + "\")\n#error found\n#endif\n", ""),
  };
  for (const auto& c : attacks) {
    CompileOutcome o = pool->compile(c);
    std::cout << c.name << ": " << eval_status_name(o.status) << ": " << o.message << "\n";
    EXPECT_NE(o.status, EvalStatus::kOk) << c.name;
    EXPECT_TRUE(o.cubin.empty()) << c.name;
    std::string text = everything(o);
    EXPECT_EQ(text.find(marker), std::string::npos) << c.name << ":\n" << text;
    testing::expect_no_leak(text, hostname);
  }
  // The pool is still fine afterwards.
  EXPECT_EQ(pool->compile(candidate("good", kGood)).status, EvalStatus::kOk);
}

// Exponentially many template instantiations: NVRTC's time and memory explode.
const char* kTemplateBomb =
    "template <int D, int I> struct Bomb {\n"
    "  static constexpr long long v = Bomb<D - 1, 2 * I>::v + Bomb<D - 1, 2 * I + 1>::v;\n"
    "};\n"
    "template <int I> struct Bomb<0, I> { static constexpr long long v = I; };\n";

// A million statements from nested macros: a loop unrolled by hand, far past any optimizer budget.
const char* kUnrollBomb =
    "#define X4(s) s s s s\n#define X16(s) X4(X4(s))\n#define X256(s) X16(X16(s))\n"
    "#define X64K(s) X256(X256(s))\n";

TEST(SandboxCompilePool, CompileBombsAreStoppedAndTheNextCompileSucceeds) {
  SandboxConfig config = small_config();
  config.compile_workers = 1;  // the next compile must run on the replacement worker
  config.compile_timeout_s = 5;
  config.compile_memory_mb = 1024;
  auto pool = start_pool(config);
  ASSERT_TRUE(pool);
  // No `#pragma unroll` bomb here: NVVM caps full unrolling of huge trip counts by itself, so such a
  // loop compiles in 2-4 s depending on the machine and is not a reliable bomb (CI saw 3.3 s).
  std::vector<Candidate> bombs = {
      kernel("template-bomb", kTemplateBomb,
             "if (a.N < 0) a.o[0] = __float2bfloat16((float)Bomb<26, 0>::v);"),
      kernel("unroll-bomb", kUnrollBomb,
             "float s = a.scale;\nX16(X64K(s = __sinf(s * s + a.scale);))\na.o[0] = __float2bfloat16(s);"),
  };
  for (const auto& bomb : bombs) {
    CompileOutcome o = pool->compile(bomb);
    std::cout << bomb.name << ": " << eval_status_name(o.status) << ": " << o.message << "\n";
    // A bomb either times out or runs the compiler out of memory; either way it ends.
    if (o.status != EvalStatus::kOk) {
      EXPECT_TRUE(o.status == EvalStatus::kTimeout || o.status == EvalStatus::kCompileError)
          << bomb.name << ": " << eval_status_name(o.status);
      EXPECT_FALSE(o.message.empty()) << bomb.name;
    } else {
      ADD_FAILURE() << bomb.name << " compiled within its limits (" << o.compile_ms << " ms)";
    }
    CompileOutcome next = pool->compile(candidate("good", kGood));
    EXPECT_EQ(next.status, EvalStatus::kOk) << "after " << bomb.name << ": " << everything(next);
  }
}

TEST(SandboxCompilePool, AWorkerKilledMidJobIsReplaced) {
  SandboxConfig config = small_config();
  config.compile_workers = 1;
  config.compile_timeout_s = 30;
  auto pool = start_pool(config);
  ASSERT_TRUE(pool);
  ASSERT_EQ(pool->worker_pids().size(), 1u);
  int victim = pool->worker_pids()[0];
  auto busy = pool->submit(kernel("template-bomb", kTemplateBomb,
                                  "if (a.N < 0) a.o[0] = __float2bfloat16((float)Bomb<26, 0>::v);"));
  // The bomb keeps the worker busy for its whole 30 s limit: kill it well inside that.
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  ASSERT_NE(busy.wait_for(std::chrono::milliseconds(0)), std::future_status::ready);
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  CompileOutcome o = busy.get();
  EXPECT_EQ(o.status, EvalStatus::kCompileError);
  EXPECT_NE(o.message.find("SIGKILL"), std::string::npos) << o.message;
  CompileOutcome next = pool->compile(candidate("good", kGood));
  EXPECT_EQ(next.status, EvalStatus::kOk) << everything(next);
  ASSERT_EQ(pool->worker_pids().size(), 1u);
  EXPECT_NE(pool->worker_pids()[0], victim);
  EXPECT_GE(pool->restarts(), 1);
}

std::string environ_of(int pid) {
  std::string raw = testing::read_file("/proc/" + std::to_string(pid) + "/environ");
  for (char& c : raw) if (c == '\0') c = '\n';
  return "\n" + raw;
}

TEST(SandboxCompilePool, WorkersGetAScrubbedEnvironment) {
  setenv("FOO_API_KEY", "sk-kevo-test-3141", 1);
  setenv("GITHUB_TOKEN", "ghp-kevo-test", 1);
  setenv("https_proxy", "http://proxy.invalid:3128", 1);
  setenv("KEVO_UNRELATED", "x", 1);
  auto pool = start_pool();
  unsetenv("FOO_API_KEY");
  unsetenv("GITHUB_TOKEN");
  unsetenv("https_proxy");
  unsetenv("KEVO_UNRELATED");
  ASSERT_TRUE(pool);
  for (int pid : pool->worker_pids()) {
    std::string env = environ_of(pid);
    ASSERT_NE(env.find("\nPATH="), std::string::npos) << env;  // readable, and not empty
    EXPECT_NE(env.find("\nHOME=/nonexistent\n"), std::string::npos) << env;
    for (const char* banned : {"FOO_API_KEY", "sk-kevo-test", "GITHUB_TOKEN", "proxy", "KEVO_UNRELATED"}) {
      EXPECT_EQ(env.find(banned), std::string::npos) << banned << " in:" << env;
    }
  }
}

TEST(SandboxCompilePool, DestructionLeavesNoWorkerRunning) {
  std::vector<int> pids;
  {
    auto pool = start_pool();
    ASSERT_TRUE(pool);
    pids = pool->worker_pids();
    ASSERT_EQ(pids.size(), 2u);
    // Destroy while one compile is still running.
    auto pending = pool->submit(kernel("template-bomb", kTemplateBomb,
                                       "if (a.N < 0) a.o[0] = __float2bfloat16((float)Bomb<26, 0>::v);"));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  for (int pid : pids) EXPECT_FALSE(process_exists(pid)) << pid;
}

TEST(SandboxCompilePool, SandboxWorkerCommandIsHiddenFromHelp) {
  auto r = testing::run_kevo("--help");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("sandbox-worker"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("worker"), std::string::npos) << r.out;  // the user's `kevo worker`
  auto w = testing::run_kevo("sandbox-worker --help");
  EXPECT_EQ(w.exit_code, 0) << w.err;
  EXPECT_NE(w.out.find("compile"), std::string::npos) << w.out;
}

}  // namespace
}  // namespace kevo
