// The worker's end of the pipe protocol (private to sandbox/): one JSON object per line on
// stdin, one per line back. Used by `kevo sandbox-worker compile` and `kevo sandbox-worker gpu`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kevo::sandbox {

class WorkerChannel {
 public:
  // Moves the reply stream to a private descriptor and points fd 1 at stderr, so stray prints
  // (device printf, library messages) cannot corrupt the protocol; closes pipes and sockets
  // inherited by accident above fd 2 (stray_descriptors). Call once, first thing.
  static WorkerChannel open();

  // The next request line; nullopt at end of input (the parent is done or gone). A line over
  // `max_bytes` sets `*error` and returns nullopt.
  std::optional<std::string> read_line(size_t max_bytes, std::string* error);
  // False when the parent is gone.
  bool write(const nlohmann::json& message);

 private:
  int out_fd_ = 1;
  std::string buf_;
};

// The pipes and sockets above fd 2 that open() closes: none when a CUDA tool (ncu, nsys,
// compute-sanitizer: under_cuda_tool) runs the worker, whose injection library may have opened
// its channel to the tool before main (one suspected cause of runners dying under ncu).
std::vector<int> stray_descriptors(bool under_cuda_tool);

// A thread that ends the process when its parent dies (the worker is reparented): a runner stuck
// in a hung kernel must not outlive the orchestrator, whatever killed the orchestrator.
void start_parent_watchdog();

// Ends the process now, skipping static destructors and leak checks (a confined worker cannot
// run LeakSanitizer's tracer, and a poisoned CUDA context must not be torn down).
[[noreturn]] void quick_exit_worker(int code);

}  // namespace kevo::sandbox
