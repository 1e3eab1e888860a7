// How the orchestrator starts `kevo sandbox-worker ...` processes (private to sandbox/).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "sandbox/child_process.h"
#include "sandbox/environment.h"
#include "sandbox/sandbox.h"

namespace kevo::sandbox {

// `<kevo> --log-level L worker <sub_args...>` with the scrubbed environment of `kind`.
SpawnSpec worker_spawn_spec(const WorkerLaunch& launch, WorkerKind kind,
                            const std::vector<std::string>& sub_args, const std::string& name);

// Spawns and waits for the worker's first line ({"ready":true,...}). Unavailable with the
// worker's own error (or how it died) otherwise; the child is killed on failure.
struct StartedWorker {
  std::unique_ptr<ChildProcess> process;
  nlohmann::json hello;
};
Result<StartedWorker> start_worker(const SpawnSpec& spec, Deadline deadline,
                                   const std::string* first_request = nullptr);

}  // namespace kevo::sandbox
