#include "orchestrator/cli/run_backend.h"

#include <chrono>
#include <iostream>
#include <set>
#include <thread>

#include "archive/queue.h"
#include "common/log.h"
#include "orchestrator/evolution/backend.h"
#include "orchestrator/evolution/queue_backend.h"

namespace kevo::cli {

Result<GpuSelection> select_local_gpus(KevoConfig& config, bool new_run) {
  KEVO_ASSIGN_OR_RETURN(auto available, query_gpus(/*measure_bandwidth=*/true));
  KEVO_ASSIGN_OR_RETURN(
      GpuSelection sel,
      select_gpus(available, config.run.gpus, config.run.allow_mixed_gpus, shared_gpus_allowed()));
  const int models = static_cast<int>(sel.models.size());
  if (new_run && models > 1) {
    ArchiveConfig& a = config.archive;
    a.island_groups = models;
    int islands = (a.islands + models - 1) / models * models;
    if (islands != a.islands) {
      spdlog::info("{} GPU models kept apart: {} islands (a multiple of the models)", models,
                   islands);
    }
    a.islands = islands;
  }
  return sel;
}

Result<RunBackend> start_local_backend(const KevoConfig& config, const GpuSelection& gpus,
                                       const std::string& cubin_cache) {
  RunBackend out;
  KEVO_ASSIGN_OR_RETURN(auto backend, SandboxBackend::start(config, gpus.gpus, cubin_cache));
  out.backend = std::move(backend);
  out.hardware = gpus.gpus;
  const GpuInfo& g = gpus.gpus.front();
  out.description = std::to_string(gpus.gpus.size()) + " GPU(s) (" + g.name + ", " +
                    std::to_string(static_cast<int>(g.copy_gbps)) + " GB/s" +
                    (gpus.models.size() > 1 ? ", and " + std::to_string(gpus.models.size() - 1) +
                                                  " other model(s), kept apart"
                                            : std::string()) +
                    ")";
  return out;
}

namespace {

// The models of the live workers, waiting (until `stop`) for the first to register.
Result<std::vector<WorkerRecord>> wait_for_workers(WorkQueue& q, const std::string& location,
                                                   std::atomic<bool>& stop) {
  bool said = false;
  while (!stop.load()) {
    KEVO_ASSIGN_OR_RETURN(auto live, q.workers(30));
    if (!live.empty()) return live;
    if (!said) {
      std::cerr << "kevo: waiting for a worker: start `kevo worker --db " << location
                << "` on a GPU host (or pass --gpu-model to queue work before one comes)\n";
      said = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return Status::Cancelled("interrupted while waiting for a worker");
}

}  // namespace

Result<RunBackend> start_queue_backend(Archive& archive, const KevoConfig& config,
                                       const std::string& location, std::atomic<bool>& stop) {
  const std::string shown = archive.path();  // a URL without its password
  KEVO_ASSIGN_OR_RETURN(auto q, WorkQueue::open(location));
  std::string model = config.queue.gpu_model;
  KEVO_ASSIGN_OR_RETURN(auto kept, archive.value("queue_gpu_model"));
  if (model.empty() && kept && kept->is_string()) model = kept->get<std::string>();
  RunBackend out;
  if (model.empty()) {
    KEVO_ASSIGN_OR_RETURN(auto live, wait_for_workers(*q, shown, stop));
    std::set<std::string> models;
    for (const auto& w : live) models.insert(w.gpu_model);
    if (models.size() > 1) {
      std::string list;
      for (const auto& m : models) list += (list.empty() ? "" : ", ") + m;
      return Status::InvalidArgument("workers of several GPU models are registered (" + list +
                                     "): their speedups are not comparable; pick one with "
                                     "--gpu-model");
    }
    model = *models.begin();
  }
  if (!kept || !kept->is_string() || kept->get<std::string>() != model) {
    if (kept && kept->is_string()) {
      spdlog::warn("the run's tasks were for {}; from now on they are for {}",
                   kept->get<std::string>(), model);
    }
    KEVO_RETURN_IF_ERROR(archive.set_value("queue_gpu_model", model));
  }
  // The prompts' hardware facts: a worker's GPU of that model, when one has registered.
  KEVO_ASSIGN_OR_RETURN(auto all, q->workers());
  for (const auto& w : all) {
    if (w.gpu_model == model && w.info.is_object() && w.info.contains("name")) {
      out.hardware.push_back(gpu_info_from_json(w.info));
      break;
    }
  }
  if (out.hardware.empty()) {
    GpuInfo g;
    g.name = model;
    out.hardware.push_back(g);
  }
  QueueBackendOptions o;
  o.gpu_model = model;
  o.suite = config.evaluator.suite;
  o.max_claims = config.queue.max_claims;
  o.slots = config.queue.slots;
  KEVO_ASSIGN_OR_RETURN(auto backend, QueueBackend::start(location, o));
  out.backend = std::move(backend);
  out.description = "the GPUs of `kevo worker` processes (" + model + ")";
  return out;
}

}  // namespace kevo::cli
