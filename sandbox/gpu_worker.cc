// `kevo sandbox-worker gpu --device N`: the GPU runner process. Keeps one GpuSession (context, suite data,
// reference outputs) across candidates and exits after a sticky CUDA error, so the orchestrator
// starts a clean one. Candidates bring only device code, so the runner is not confined like a
// compile worker (the driver needs /dev/nvidia*, ioctls and its own files); it gets a scrubbed
// environment, no core dumps, no new privileges and dies with its parent.
#include <sys/prctl.h>
#include <sys/resource.h>

#include "common/log.h"
#include "evaluator/gpu_info.h"
#include "sandbox/protocol.h"
#include "sandbox/sandbox.h"
#include "sandbox/worker_io.h"

namespace kevo {
namespace {

nlohmann::json evaluate(GpuSession& session, const nlohmann::json& req) {
  nlohmann::json reply = {{"id", req.value("id", uint64_t{0})}};
  EvalResult r;
  try {
    auto cand = candidate_from_json(req.at("candidate"));
    auto compiled = compile_outcome_from_json(req.at("compiled"));
    if (!cand.ok() || !compiled.ok()) {
      const Status& bad = !cand.ok() ? cand.status() : compiled.status();
      r = EvalResult::failure(EvalStatus::kCrash, "GPU runner got a bad request: " + bad.message());
    } else {
      EvalOptions options;
      options.counters = req.value("counters", false);
      options.counters_only = req.value("counters_only", false);
      r = session.evaluate(*cand, *compiled, req.value("suite", std::string()), options);
    }
  } catch (const std::exception& e) {
    r = EvalResult::failure(EvalStatus::kCrash, std::string("GPU runner: ") + e.what());
  }
  reply["result"] = to_json(r);
  reply["poisoned"] = session.poisoned();
  reply["free_bytes"] = free_gpu_memory_bytes();
  return reply;
}

}  // namespace

int run_gpu_worker(const GpuWorkerArgs& args) {
  auto channel = sandbox::WorkerChannel::open();
  sandbox::start_parent_watchdog();
  rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);

  std::string error;
  auto first = channel.read_line(sandbox::kMaxLineBytes, &error);
  if (!first) return 1;
  auto init = sandbox::parse_message(*first);
  Result<EvaluatorConfig> config = init.ok() && init->contains("evaluator")
                                       ? sandbox::evaluator_config_from_json(init->at("evaluator"))
                                       : Result<EvaluatorConfig>(Status::InvalidArgument("no init message"));
  if (!config.ok()) {
    channel.write({{"ready", false}, {"error", config.status().message()}});
    return 1;
  }
  auto session = open_gpu_session(args.device, *config);
  if (!session.ok()) {
    channel.write({{"ready", false}, {"error", session.status().message()}});
    sandbox::quick_exit_worker(3);
  }
  channel.write({{"ready", true},
                 {"device", args.device},
                 {"arch", (*session)->arch()},
                 {"free_bytes", free_gpu_memory_bytes()}});

  while (auto line = channel.read_line(sandbox::kMaxLineBytes, &error)) {
    auto req = sandbox::parse_message(*line);
    nlohmann::json reply;
    if (!req.ok()) {
      reply = {{"id", 0}, {"result", to_json(EvalResult::failure(EvalStatus::kCrash, req.status().message()))}};
    } else {
      reply = evaluate(**session, *req);
    }
    bool poisoned = reply.value("poisoned", false);
    if (!channel.write(reply) || poisoned) {
      // A poisoned context cannot even be torn down reliably: leave without touching it.
      sandbox::quick_exit_worker(0);
    }
  }
  if (!error.empty()) spdlog::error("GPU runner: {}", error);
  session->reset();
  sandbox::quick_exit_worker(error.empty() ? 0 : 1);
}

}  // namespace kevo
