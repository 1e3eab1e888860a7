#include "sandbox/environment.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "sandbox/sandbox.h"

namespace kevo::sandbox {
namespace {

// Passed through unchanged when set: the loader must find NVRTC and the driver where the user
// installed them, and sanitizer builds read their options (suppressions) from these.
constexpr const char* kPassed[] = {"LD_LIBRARY_PATH", "ASAN_OPTIONS", "LSAN_OPTIONS",
                                   "UBSAN_OPTIONS", "TSAN_OPTIONS"};
// GPU runners: which devices, in which order, and where the suites are.
constexpr const char* kGpuPrefixes[] = {"CUDA_", "NVIDIA_", "__NV_"};
constexpr const char* kGpuPassed[] = {"KEVO_HOME"};
constexpr const char* kSecretWords[] = {"KEY",  "TOKEN",  "SECRET", "PASSW", "CREDENTIAL",
                                        "AUTH", "PROXY",  "COOKIE", "SESSION", "PRIVATE"};

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

// The tools' own variables, passed to a GPU runner under a tool even where a name looks secret
// (NV_TPS_LAUNCH_TOKEN is the launch's handshake with ncu, not a credential). Narrow on purpose:
// NVIDIA_API_KEY or CUDA_TOKEN are a user's.
bool is_tool_variable(const std::string& name) {
  for (const char* prefix : {"NV_TPS_", "NV_NSIGHT_", "NVIDIA-PROCESS-"}) {
    if (name.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

}  // namespace

bool looks_secret(const std::string& name) {
  std::string n = upper(name);
  return std::any_of(std::begin(kSecretWords), std::end(kSecretWords),
                     [&](const char* w) { return n.find(w) != std::string::npos; });
}

Environment current_environment() {
  Environment env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

bool under_cuda_tool(const Environment& parent) {
  // ncu 2025.3 sets no CUDA_INJECTION64_PATH: it reaches its targets through its process
  // tracking (NVIDIA-PROCESS-TRACKING-CONFIGURATION), NV_TPS_LAUNCH_TOKEN and the port of its
  // injection transport (NV_NSIGHT_INJECTION_*), as `ncu env` showed on the GPU machine.
  return std::any_of(parent.begin(), parent.end(), [](const auto& kv) {
    const std::string& name = kv.first;
    return !kv.second.empty() &&
           (name == "CUDA_INJECTION64_PATH" || name == "NV_TPS_LAUNCH_TOKEN" ||
            name.rfind("NV_NSIGHT_INJECTION_", 0) == 0 ||
            name.rfind("NVIDIA-PROCESS-TRACKING-", 0) == 0);
  });
}

Environment scrubbed_environment(WorkerKind kind, const Environment& parent) {
  if (kind == WorkerKind::kGpu && under_cuda_tool(parent)) {
    // kevo runs under ncu, nsys or compute-sanitizer: the tool reaches the runner through its
    // variables (CUDA_INJECTION64_PATH, or ncu 2025's process tracking and launch token) and its
    // injection needs the rest of its environment; with only the allow-listed variables a runner
    // died of SIGSEGV under ncu 2025.3. The user asked for the tool; secrets still stay out.
    Environment env;
    for (const auto& [name, value] : parent) {
      if (!looks_secret(name) || is_tool_variable(name)) env[name] = value;
    }
    env.insert_or_assign("CUDA_CACHE_DISABLE", std::string("1"));
    return env;
  }
  Environment env = {{"PATH", "/usr/local/bin:/usr/bin:/bin"},
                     {"HOME", "/nonexistent"},
                     {"LANG", "C"},
                     {"LC_ALL", "C"}};
  auto pass = [&](const std::string& name) {
    auto it = parent.find(name);
    if (it != parent.end() && !looks_secret(name)) env[name] = it->second;
  };
  for (const char* name : kPassed) pass(name);
  if (kind == WorkerKind::kGpu) {
    for (const char* name : kGpuPassed) pass(name);
    for (const auto& [name, value] : parent) {
      for (const char* prefix : kGpuPrefixes) {
        if (name.rfind(prefix, 0) == 0) pass(name);
      }
    }
    // Candidates are CUBIN loaded directly; a JIT cache in a home folder serves nothing.
    env.insert_or_assign("CUDA_CACHE_DISABLE", std::string("1"));
  }
  return env;
}

}  // namespace kevo::sandbox

namespace kevo {

bool running_under_cuda_tool() {
  return sandbox::under_cuda_tool(sandbox::current_environment());
}

}  // namespace kevo
