// The pieces of the sandbox that need no process: the scrubbed environment (an allow-list, with
// secret-looking names dropped even when allowed) and the evaluator config crossing the pipe.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "evaluator/eval_result.h"
#include "sandbox/environment.h"
#include "sandbox/protocol.h"
#include "sandbox/worker_io.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

using sandbox::Environment;
using sandbox::WorkerKind;

Environment parent_env() {
  return {{"PATH", "/home/me/bin:/usr/bin"},
          {"HOME", "/home/me"},
          {"USER", "me"},
          {"OPENAI_API_KEY", "sk-secret"},
          {"ANTHROPIC_API_KEY", "sk-ant-secret"},
          {"FOO_API_KEY", "x"},
          {"GITHUB_TOKEN", "ghp"},
          {"AWS_SECRET_ACCESS_KEY", "aws"},
          {"DB_PASSWORD", "pw"},
          {"http_proxy", "http://proxy:3128"},
          {"HTTPS_PROXY", "http://proxy:3128"},
          {"SSH_AUTH_SOCK", "/tmp/ssh-agent"},
          {"LD_LIBRARY_PATH", "/opt/cuda/lib64"},
          {"LD_PRELOAD", "/tmp/evil.so"},
          {"CUDA_VISIBLE_DEVICES", "1,3"},
          {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"},
          {"CUDA_TOKEN", "looks-secret"},
          {"NVIDIA_VISIBLE_DEVICES", "all"},
          {"KEVO_HOME", "/srv/kevo"},
          {"LSAN_OPTIONS", "suppressions=x"}};
}

// The names of parent_env() that look secret: no worker ever gets them.
constexpr const char* kParentSecrets[] = {
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "FOO_API_KEY", "GITHUB_TOKEN",  "AWS_SECRET_ACCESS_KEY",
    "DB_PASSWORD",    "http_proxy",        "HTTPS_PROXY", "SSH_AUTH_SOCK", "CUDA_TOKEN"};

TEST(SandboxEnvironment, CompileWorkersGetOnlyTheBasics) {
  Environment env = sandbox::scrubbed_environment(WorkerKind::kCompile, parent_env());
  Environment want = {{"PATH", "/usr/local/bin:/usr/bin:/bin"}, {"HOME", "/nonexistent"},
                      {"LANG", "C"},  {"LC_ALL", "C"},
                      {"LD_LIBRARY_PATH", "/opt/cuda/lib64"}, {"LSAN_OPTIONS", "suppressions=x"}};
  EXPECT_EQ(env, want);
}

TEST(SandboxEnvironment, GpuRunnersAlsoGetDeviceSelectionAndKevoHome) {
  Environment env = sandbox::scrubbed_environment(WorkerKind::kGpu, parent_env());
  EXPECT_EQ(env["CUDA_VISIBLE_DEVICES"], "1,3");
  EXPECT_EQ(env["CUDA_DEVICE_ORDER"], "PCI_BUS_ID");
  EXPECT_EQ(env["NVIDIA_VISIBLE_DEVICES"], "all");
  EXPECT_EQ(env["KEVO_HOME"], "/srv/kevo");
  EXPECT_EQ(env["CUDA_CACHE_DISABLE"], "1");
  EXPECT_EQ(env["HOME"], "/nonexistent");
  for (const char* name : kParentSecrets) EXPECT_EQ(env.count(name), 0u) << name;
  for (const char* name : {"LD_PRELOAD", "USER"}) EXPECT_EQ(env.count(name), 0u) << name;
}

// kevo under ncu (or nsys, compute-sanitizer): the runner must get the tool's whole environment,
// or the injection library it finds through CUDA_INJECTION64_PATH crashes it. Secrets stay out,
// and compile workers are not profiled targets: they get the basics as always.
TEST(SandboxEnvironment, UnderACudaToolGpuRunnersGetTheToolsEnvironment) {
  Environment parent = parent_env();
  parent["CUDA_INJECTION64_PATH"] = "/opt/ncu/libInjection.so";
  parent["NV_TPS_LAUNCH_UID"] = "42";
  EXPECT_TRUE(sandbox::under_cuda_tool(parent));
  EXPECT_FALSE(sandbox::under_cuda_tool(parent_env()));
  Environment env = sandbox::scrubbed_environment(WorkerKind::kGpu, parent);
  EXPECT_EQ(env["CUDA_INJECTION64_PATH"], "/opt/ncu/libInjection.so");
  EXPECT_EQ(env["NV_TPS_LAUNCH_UID"], "42");
  EXPECT_EQ(env["LD_PRELOAD"], "/tmp/evil.so");
  EXPECT_EQ(env["HOME"], "/home/me");
  EXPECT_EQ(env["CUDA_VISIBLE_DEVICES"], "1,3");
  EXPECT_EQ(env["CUDA_CACHE_DISABLE"], "1");
  for (const char* name : kParentSecrets) {
    EXPECT_EQ(env.count(name), 0u) << name;
  }
  Environment compile = sandbox::scrubbed_environment(WorkerKind::kCompile, parent);
  EXPECT_EQ(compile.count("CUDA_INJECTION64_PATH"), 0u);
  EXPECT_EQ(compile.count("LD_PRELOAD"), 0u);
  EXPECT_EQ(compile["HOME"], "/nonexistent");
}

// ncu 2025.3 sets no CUDA_INJECTION64_PATH (the variables below are what `ncu env` printed on
// the GPU machine): kevo still knows it runs under the tool, and the launch token, whose name
// looks secret, reaches the runner.
TEST(SandboxEnvironment, Ncu2025IsRecognisedByItsProcessTracking) {
  Environment parent = parent_env();
  parent["NVIDIA-PROCESS-TRACKING-CONFIGURATION"] = "blocking-rpc-events:";
  parent["NV_TPS_LAUNCH_TOKEN"] = "Interactive Profile";
  parent["NV_NSIGHT_INJECTION_TRANSPORT_TYPE"] = "uds";
  EXPECT_TRUE(sandbox::under_cuda_tool(parent));
  for (const char* one :
       {"NV_TPS_LAUNCH_TOKEN", "NV_NSIGHT_INJECTION_PORT_BASE", "NVIDIA-PROCESS-TRACKING-FILTER"}) {
    Environment only = parent_env();
    only[one] = "1";
    EXPECT_TRUE(sandbox::under_cuda_tool(only)) << one;
  }
  Environment empty = parent_env();
  empty["NV_TPS_LAUNCH_TOKEN"] = "";
  EXPECT_FALSE(sandbox::under_cuda_tool(empty));
  Environment env = sandbox::scrubbed_environment(WorkerKind::kGpu, parent);
  EXPECT_EQ(env["NV_TPS_LAUNCH_TOKEN"], "Interactive Profile");
  EXPECT_EQ(env["NVIDIA-PROCESS-TRACKING-CONFIGURATION"], "blocking-rpc-events:");
  EXPECT_EQ(env["NV_NSIGHT_INJECTION_TRANSPORT_TYPE"], "uds");
  for (const char* name : kParentSecrets) EXPECT_EQ(env.count(name), 0u) << name;
  parent["NVIDIA_API_KEY"] = "nvapi-secret";  // a user's key with an NVIDIA name stays out
  EXPECT_EQ(sandbox::scrubbed_environment(WorkerKind::kGpu, parent).count("NVIDIA_API_KEY"), 0u);
  Environment compile = sandbox::scrubbed_environment(WorkerKind::kCompile, parent);
  EXPECT_EQ(compile.count("NV_TPS_LAUNCH_TOKEN"), 0u);
}

TEST(SandboxEnvironment, SecretLookingNames) {
  for (const char* name : {"OPENAI_API_KEY", "my_api_key", "HF_TOKEN", "CLIENT_SECRET", "PGPASSWORD",
                           "http_proxy", "NO_PROXY", "AWS_SESSION_TOKEN", "GOOGLE_CREDENTIALS"}) {
    EXPECT_TRUE(sandbox::looks_secret(name)) << name;
  }
  for (const char* name : {"PATH", "CUDA_VISIBLE_DEVICES", "KEVO_HOME", "LD_LIBRARY_PATH"}) {
    EXPECT_FALSE(sandbox::looks_secret(name)) << name;
  }
}

TEST(SandboxProtocol, EvaluatorConfigCrossesThePipeWhole) {
  EvaluatorConfig c;
  c.quick_suite = "q2";
  c.suite = "s2";
  c.holdout_suite = "h2";
  c.max_mean_rel_err = 0.07;
  c.index_cap_bytes_per_token = 64;
  c.warmup_iterations = 5;
  c.min_iterations = 11;
  c.max_iterations = 99;
  c.target_spread = 0.03;
  c.max_seconds_per_workload = 0.25;
  c.kernel_timeout_s = 3.5;
  c.arch = "sm_100a";
  c.counters = "all";
  c.counters_workloads = "B1-N8192";
  // Through text, as on the pipe.
  auto j = sandbox::parse_message(sandbox::evaluator_config_to_json(c).dump());
  ASSERT_TRUE(j.ok());
  auto back = sandbox::evaluator_config_from_json(*j);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->quick_suite, "q2");
  EXPECT_EQ(back->suite, "s2");
  EXPECT_EQ(back->holdout_suite, "h2");
  EXPECT_EQ(back->max_mean_rel_err, 0.07);
  EXPECT_EQ(back->index_cap_bytes_per_token, 64);
  EXPECT_EQ(back->warmup_iterations, 5);
  EXPECT_EQ(back->min_iterations, 11);
  EXPECT_EQ(back->max_iterations, 99);
  EXPECT_EQ(back->target_spread, 0.03);
  EXPECT_EQ(back->max_seconds_per_workload, 0.25);
  EXPECT_EQ(back->kernel_timeout_s, 3.5);
  EXPECT_EQ(back->arch, "sm_100a");
  EXPECT_EQ(back->counters, "all");
  EXPECT_EQ(back->counters_workloads, "B1-N8192");
}

// A reminder, not a build break: when EvaluatorConfig grows, its new field must be listed in
// KEVO_EVALUATOR_CONFIG_FIELDS (sandbox/protocol.cc) and checked above, or GPU runners would
// silently use its default.
TEST(SandboxProtocol, EvaluatorConfigHasNoUnlistedFields) {
#if defined(__x86_64__) && defined(__GLIBCXX__)
  EXPECT_EQ(sizeof(EvaluatorConfig), 240u)
      << "EvaluatorConfig changed: list the new field in sandbox/protocol.cc and this test";
#endif
}

TEST(SandboxProtocol, BadLinesAreErrorsNotExceptions) {
  EXPECT_FALSE(sandbox::parse_message("not json").ok());
  EXPECT_FALSE(sandbox::parse_message("[1, 2]").ok());
  EXPECT_FALSE(sandbox::parse_message("{\"id\": 1").ok());
  EXPECT_TRUE(sandbox::parse_message("{\"id\": 1}").ok());
  auto bad = sandbox::evaluator_config_from_json(nlohmann::json{{"min_iterations", "many"}});
  EXPECT_FALSE(bad.ok());
}

// A result crosses the runner's pipe as JSON: where it was measured must survive (exports name
// the GPU), and a result without a GPU (compile failures) must not invent one.
TEST(SandboxProtocol, EvalResultKeepsItsGpuAcrossThePipe) {
  EvalResult r;
  r.fitness = 2.5;
  r.metrics["speedup"] = 2.5;
  r.gpu = "NVIDIA H100 80GB HBM3 (sm_90a)";
  auto back = eval_result_from_json(nlohmann::json::parse(to_json(r).dump()));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->gpu, r.gpu);
  EXPECT_DOUBLE_EQ(back->fitness, 2.5);
  EvalResult failed = EvalResult::failure(EvalStatus::kCompileError, "line 3: error");
  EXPECT_FALSE(to_json(failed).contains("gpu"));
  auto back2 = eval_result_from_json(to_json(failed));
  ASSERT_TRUE(back2.ok());
  EXPECT_TRUE(back2->gpu.empty());
}

// A worker closes the pipes and sockets it inherited by accident, except under a CUDA tool, whose
// injection library talks to the tool through one of them (ncu's runners died of SIGSEGV).
TEST(WorkerChannel, StraySocketsAreClosedExceptUnderACudaTool) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  auto has = [&](const std::vector<int>& fds, int fd) {
    return std::find(fds.begin(), fds.end(), fd) != fds.end();
  };
  const std::vector<int> plain = sandbox::stray_descriptors(false);
  EXPECT_TRUE(has(plain, sv[0]) && has(plain, sv[1]));
  EXPECT_FALSE(has(plain, 0) || has(plain, 1) || has(plain, 2));
  EXPECT_TRUE(sandbox::stray_descriptors(true).empty());
  close(sv[0]);
  close(sv[1]);
}

}  // namespace
}  // namespace kevo
