// Where `kevo run` and `kevo resume` evaluate: on this host's GPUs (one sandboxed runner each), or
// through the archive's work queue on the GPUs of `kevo worker` processes (a PostgreSQL archive,
// or --workers).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "archive/archive.h"
#include "orchestrator/config/config.h"
#include "orchestrator/evolution/evolution.h"
#include "orchestrator/evolution/gpu_select.h"

namespace kevo::cli {

struct RunBackend {
  std::unique_ptr<EvaluationBackend> backend;
  std::vector<GpuInfo> hardware;  // the GPUs evaluated on (for prompts), one per runner
  std::string description;        // for the banner: "2 GPUs (NVIDIA H200, 3000 GB/s)"
};

// This host's GPUs for the run (run.gpus, run.allow_mixed_gpus, KEVO_ALLOW_SHARED_GPU). For a new
// run of several GPU models, gives each model an island group (raising the islands to a multiple
// of the models). Unavailable without a GPU; InvalidArgument for a selection that cannot be.
Result<GpuSelection> select_local_gpus(KevoConfig& config, bool new_run);

Result<RunBackend> start_local_backend(const KevoConfig& config, const GpuSelection& gpus,
                                       const std::string& cubin_cache);

// The queue's backend. The run's GPU model is queue.gpu_model, else the one the run kept, else
// that of the first workers to register (waited for, until `stop`); it is kept in the archive.
Result<RunBackend> start_queue_backend(Archive& archive, const KevoConfig& config,
                                       const std::string& location, std::atomic<bool>& stop);

}  // namespace kevo::cli
