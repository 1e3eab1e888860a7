// The environment of sandboxed processes (private to sandbox/). Built from an allow-list, never
// by removing names from the parent's: API keys, tokens, proxies and anything else the
// orchestrator carries stay out unless a worker is known to need the variable.
#pragma once

#include <map>
#include <string>

namespace kevo::sandbox {

enum class WorkerKind { kCompile, kGpu };

using Environment = std::map<std::string, std::string>;

// The parent's environment (environ) as a map.
Environment current_environment();

// What a worker of `kind` gets: PATH, HOME=/nonexistent, LANG=C, LC_ALL=C, the dynamic loader's
// and sanitizers' settings, and for GPU runners the CUDA/NVIDIA device selection variables and
// KEVO_HOME (suites live under it). Names that look secret are dropped even when allowed.
// Under a CUDA tool (under_cuda_tool: ncu, nsys, compute-sanitizer), a GPU runner gets the
// parent's whole environment less the secret-looking names (ncu's own NV_TPS_*, NV_NSIGHT_* and
// NVIDIA-PROCESS-* variables always pass), so the tool profiles it.
Environment scrubbed_environment(WorkerKind kind, const Environment& parent);

// True when a CUDA tool injects itself into this process tree: CUDA_INJECTION64_PATH (nsys,
// compute-sanitizer, older ncu) or ncu 2025's process tracking and launch variables.
bool under_cuda_tool(const Environment& parent);

// True for names such as OPENAI_API_KEY, GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY, DB_PASSWORD,
// http_proxy (case-insensitive).
bool looks_secret(const std::string& name);

}  // namespace kevo::sandbox
