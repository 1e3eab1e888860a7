// GpuRunner's recovery logic without a GPU: the runner executable is replaced by a small shell
// script that speaks the protocol and misbehaves on request (hangs with a child process, dies,
// reports a poisoned context, floods its output, answers garbage). Each failure must become the
// right status, the next candidate must get a fresh runner, and nothing may be left running.
#include <signal.h>
#include <sys/stat.h>

#include <dirent.h>

#include <cerrno>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "sandbox/sandbox.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

// Replies by the candidate's name. "hang" also starts a grandchild, which the kill must reach.
std::string fake_runner_script(const std::string& ok_json, const std::string& crash_json,
                               const std::string& pid_file) {
  return "#!/bin/bash\n"
         "read -r init\n"
         "echo '{\"ready\":true,\"arch\":\"sm_fake\",\"free_bytes\":1000}'\n"
         "while read -r line; do\n"
         "  [[ $line =~ \\\"id\\\":([0-9]+) ]] && id=${BASH_REMATCH[1]}\n"
         "  case \"$line\" in\n"
         "    *'\"name\":\"hang\"'*) sleep 1000 & echo $! > " + pid_file + "; sleep 1000 ;;\n"
         "    *'\"name\":\"die\"'*) echo 'CUDA_ERROR_LAUNCH_FAILED: runner about to die' >&2; kill -9 $$ ;;\n"
         "    *'\"name\":\"poison\"'*) echo \"{\\\"id\\\":$id,\\\"result\\\":" + crash_json +
         ",\\\"poisoned\\\":true,\\\"free_bytes\\\":900}\"; exit 0 ;;\n"
         "    *'\"name\":\"flood-stderr\"'*) head -c 5000000 /dev/zero | tr '\\0' x >&2; sleep 1000 ;;\n"
         "    *'\"name\":\"flood-stdout\"'*) head -c 80000000 /dev/zero | tr '\\0' x; sleep 1000 ;;\n"
         "    *'\"name\":\"garbage\"'*) echo 'this is not json' ;;\n"
         "    *) echo \"{\\\"id\\\":$id,\\\"result\\\":" + ok_json +
         ",\\\"poisoned\\\":false,\\\"free_bytes\\\":1000}\" ;;\n"
         "  esac\n"
         "done\n";
}

// Escapes a JSON text for a double-quoted bash string.
std::string bash_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\' || c == '$' || c == '`') out += '\\';
    out += c;
  }
  return out;
}

class FakeRunner : public ::testing::Test {
 protected:
  void SetUp() override {
    EvalResult ok;
    ok.fitness = 2;
    ok.metrics["speedup"] = 2;
    EvalResult crash = EvalResult::failure(
        EvalStatus::kCrash, "CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access was encountered");
    script_ = tmp_.file("fake-runner.sh");
    testing::write_file(script_, fake_runner_script(bash_escape(to_json(ok).dump()),
                                                    bash_escape(to_json(crash).dump()),
                                                    tmp_.file("grandchild.pid")));
    chmod(script_.c_str(), 0755);
    config_.evaluation_timeout_s = 3;
  }

  std::unique_ptr<GpuRunner> start() {
    WorkerLaunch launch;
    launch.executable = script_;
    auto r = GpuRunner::start(0, config_, EvaluatorConfig{}, launch);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? std::move(*r) : nullptr;
  }

  EvalResult eval(GpuRunner& runner, const std::string& name) {
    Candidate c;
    c.name = name;
    c.source = "// " + name;
    CompileOutcome compiled;
    compiled.cubin = "cubin";
    return runner.evaluate(c, compiled, "quick");
  }

  testing::TempDir tmp_;
  std::string script_;
  SandboxConfig config_;
};

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
    if (close_paren == std::string::npos) continue;
    int ppid = 0;
    char state = 0;
    if (sscanf(stat.c_str() + close_paren + 2, "%c %d", &state, &ppid) == 2 && ppid == parent) {
      out.push_back(pid);
    }
  }
  closedir(d);
  return out;
}

bool process_exists(int pid) { return kill(pid, 0) == 0 || errno != ESRCH; }

TEST_F(FakeRunner, GoodCandidatesReuseOneRunner) {
  auto runner = start();
  ASSERT_TRUE(runner);
  int pid = runner->info().pid;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(eval(*runner, "good").status, EvalStatus::kOk);
  EXPECT_EQ(runner->info().pid, pid);
  EXPECT_EQ(runner->info().starts, 1);
  EXPECT_EQ(runner->info().arch, "sm_fake");
}

TEST_F(FakeRunner, AHangIsKilledWithItsChildrenAndReportedAsTimeout) {
  auto runner = start();
  ASSERT_TRUE(runner);
  int pid = runner->info().pid;
  EvalResult r = eval(*runner, "hang");
  EXPECT_EQ(r.status, EvalStatus::kTimeout) << r.message;
  EXPECT_FALSE(process_exists(pid));
  EXPECT_TRUE(children_of(getpid()).empty());
  // The runner's own child got the group's SIGKILL too (give init a moment to reap it).
  int grandchild = std::atoi(testing::read_file(tmp_.file("grandchild.pid")).c_str());
  ASSERT_GT(grandchild, 0);
  for (int i = 0; i < 100 && process_exists(grandchild); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(process_exists(grandchild));
  EXPECT_EQ(eval(*runner, "good").status, EvalStatus::kOk);
  EXPECT_EQ(runner->info().starts, 2);
}

TEST_F(FakeRunner, ADeadRunnerIsACrashWithItsLastWords) {
  auto runner = start();
  ASSERT_TRUE(runner);
  EvalResult r = eval(*runner, "die");
  EXPECT_EQ(r.status, EvalStatus::kCrash);
  EXPECT_NE(r.message.find("SIGKILL"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("CUDA_ERROR_LAUNCH_FAILED"), std::string::npos) << r.message;
  EXPECT_EQ(eval(*runner, "good").status, EvalStatus::kOk);
}

TEST_F(FakeRunner, APoisonedContextKeepsItsMessageAndTheRunnerIsReplaced) {
  auto runner = start();
  ASSERT_TRUE(runner);
  int pid = runner->info().pid;
  EvalResult r = eval(*runner, "poison");
  EXPECT_EQ(r.status, EvalStatus::kCrash);
  EXPECT_NE(r.message.find("CUDA_ERROR_ILLEGAL_ADDRESS"), std::string::npos) << r.message;
  EXPECT_EQ(runner->info().free_bytes, 900);
  EXPECT_FALSE(process_exists(pid));
  EXPECT_EQ(eval(*runner, "good").status, EvalStatus::kOk);
  EXPECT_NE(runner->info().pid, pid);
}

TEST_F(FakeRunner, FloodsAndGarbageAreCutAndTheRunnerIsReplaced) {
  auto runner = start();
  ASSERT_TRUE(runner);
  for (const char* name : {"flood-stderr", "flood-stdout", "garbage"}) {
    EvalResult r = eval(*runner, name);
    EXPECT_EQ(r.status, EvalStatus::kCrash) << name;
    EXPECT_LT(r.message.size(), 2000u) << name;
    EXPECT_EQ(eval(*runner, "good").status, EvalStatus::kOk) << "after " << name;
  }
  // Only the current runner is left.
  EXPECT_EQ(children_of(getpid()), std::vector<int>{runner->info().pid});
}

TEST_F(FakeRunner, SubmitRunsOnTheRunnersThread) {
  auto runner = start();
  ASSERT_TRUE(runner);
  Candidate c;
  c.name = "good";
  CompileOutcome compiled;
  auto a = runner->submit(c, compiled, "quick");
  c.name = "die";
  auto b = runner->submit(c, compiled, "quick");
  c.name = "good";
  auto d = runner->submit(c, compiled, "quick");
  EXPECT_EQ(a.get().status, EvalStatus::kOk);
  EXPECT_EQ(b.get().status, EvalStatus::kCrash);
  EXPECT_EQ(d.get().status, EvalStatus::kOk);
}

TEST_F(FakeRunner, ACompileFailureNeverReachesTheRunner) {
  auto runner = start();
  ASSERT_TRUE(runner);
  CompileOutcome failed;
  failed.status = EvalStatus::kRejectedSource;
  failed.message = "line 2: #include of an absolute path is not allowed";
  EvalResult r = runner->evaluate(Candidate{}, failed, "quick");
  EXPECT_EQ(r.status, EvalStatus::kRejectedSource);
  EXPECT_EQ(r.message, failed.message);
}

TEST_F(FakeRunner, DestructionDuringAHangLeavesNothingRunning) {
  int pid;
  {
    auto runner = start();
    ASSERT_TRUE(runner);
    pid = runner->info().pid;
    Candidate c;
    c.name = "hang";
    auto pending = runner->submit(c, CompileOutcome{}, "quick");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  EXPECT_FALSE(process_exists(pid));
  EXPECT_TRUE(children_of(getpid()).empty());
}

TEST_F(FakeRunner, AMissingExecutableIsAClearStartError) {
  WorkerLaunch launch;
  launch.executable = tmp_.file("no-such-kevo");
  auto r = GpuRunner::start(0, config_, EvaluatorConfig{}, launch);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no-such-kevo"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace kevo
