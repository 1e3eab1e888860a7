#include "sandbox/worker_launch.h"

#include "common/log.h"
#include "common/paths.h"
#include "sandbox/protocol.h"

namespace kevo::sandbox {

SpawnSpec worker_spawn_spec(const WorkerLaunch& launch, WorkerKind kind,
                            const std::vector<std::string>& sub_args, const std::string& name) {
  SpawnSpec spec;
  spec.executable = launch.executable.empty() ? self_executable() : launch.executable;
  std::string level = launch.log_level;
  if (level.empty()) {
    auto sv = spdlog::level::to_string_view(spdlog::get_level());
    level.assign(sv.data(), sv.size());
  }
  spec.args = {"--log-level", level, "sandbox-worker"};
  spec.args.insert(spec.args.end(), sub_args.begin(), sub_args.end());
  spec.env = scrubbed_environment(kind, current_environment());
  spec.name = name;
  spec.max_line_bytes = kMaxLineBytes;
  return spec;
}

Result<StartedWorker> start_worker(const SpawnSpec& spec, Deadline deadline,
                                   const std::string* first_request) {
  KEVO_ASSIGN_OR_RETURN(auto proc, ChildProcess::spawn(spec));
  if (first_request) KEVO_RETURN_IF_ERROR(proc->write_line(*first_request, deadline));
  auto line = proc->read_line(deadline);
  if (!line.ok()) {
    std::string tail = proc->stderr_tail();
    proc->kill();
    std::string msg = line.status().message();
    if (!tail.empty()) msg += "; its last output: " + tail.substr(tail.size() > 500 ? tail.size() - 500 : 0);
    return Status(line.status().code(), "cannot start " + spec.name + ": " + msg);
  }
  auto hello = parse_message(*line);
  if (!hello.ok() || !hello->value("ready", false)) {
    std::string why = hello.ok() ? hello->value("error", std::string("not ready"))
                                 : hello.status().message();
    proc->kill();
    return Status::Unavailable(why);
  }
  return StartedWorker{std::move(proc), std::move(*hello)};
}

}  // namespace kevo::sandbox
