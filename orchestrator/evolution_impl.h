// Private to the evolution loop: the state shared by evolution.cc (the coordinator and the GPU
// threads) and children.cc (making children with the tuner and the LLM).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "orchestrator/evolution.h"
#include "orchestrator/tuner.h"

namespace kevo {

// One program on its way through compile and GPU evaluation.
struct Job {
  ProgramId id = 0;
  Candidate candidate;
  bool holdout = false;  // a new elite's holdout evaluation (recorded apart, never in prompts)
  bool counters = false;  // a new elite's hardware counters, merged into `result` (its own)
  std::future<CompileOutcome> compile;
  CompileOutcome compiled;
  EvalResult result;
};

// An LLM request in flight and what its reply is for.
struct LlmAsk {
  ProgramId parent = 0;
  int island = 0;
  std::string parent_source;
  std::map<std::string, int64_t> parent_params;
  LlmRequest request;
  int attempt = 1;  // 2 = the retry after an edit that did not apply
};

struct LlmAnswer {
  LlmAsk ask;
  Result<LlmReply> reply = Status::Internal("no reply");
};

struct Evolution::Impl {
  Impl(const KevoConfig& c, Archive& a, EvaluationBackend& b, LlmClient* l, std::vector<GpuInfo> h);

  // ---- children.cc ----
  // A tuner child of a selected parent (mutation, or crossover with an inspiration of the same
  // source). Returns nullopt when the tuner has nothing new to offer for this parent.
  std::optional<NewProgram> make_tuner_child(const Selection& s);
  // Builds the prompt for a selected parent and sends it; false when the prompt cannot be built.
  bool ask_llm(const Selection& s);
  // Tags the request uniquely and submits it; the answer lands in llm_answers.
  void send(LlmAsk ask);
  // Turns an LLM reply into a child (or a retry request); nullopt when nothing came of it.
  std::optional<NewProgram> child_from_answer(LlmAnswer& answer);
  // Params of `parent_params` that the child's directives still declare with a valid value.
  static std::map<std::string, int64_t> carry_params(const std::string& child_source,
                                                     const std::map<std::string, int64_t>& parent_params);

  // ---- evolution.cc ----
  // begin_evaluation + compile submit; false for a duplicate or an archive error.
  bool start_program(const NewProgram& p);
  void start_job(ProgramId id, Candidate c, bool holdout);
  void gpu_thread(int gpu);
  void harvest_compiles();
  void harvest_results();
  void harvest_llm();
  void produce();
  bool budget_reached(std::string& reason);
  Progress snapshot(bool final);
  void note(const std::string& text);

  const KevoConfig& config;
  Archive& archive;
  EvaluationBackend& backend;
  LlmClient* llm;
  std::vector<GpuInfo> hardware;
  std::unique_ptr<LlmPool> llm_pool;
  std::function<std::optional<LlmCallId>(const std::string&)> call_ids;
  int64_t next_ask = 0;  // makes request tags unique
  std::mt19937_64 rng;  // tuner/LLM choice; seeded from the run seed and the evaluation count
  ParamTuner tuner{0};  // reseeded in run() like rng

  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  int64_t evaluations_at_start = 0;
  bool stopping = false;
  std::string stop_reason;
  RunSummary summary;
  std::string last_note;

  // Jobs by stage. `compiling` is the coordinator's own; the rest are shared with GPU threads.
  std::vector<std::shared_ptr<Job>> compiling;
  std::mutex mu;
  std::condition_variable gpu_cv;
  std::deque<std::shared_ptr<Job>> ready;  // compiled, waiting for a GPU
  std::deque<std::shared_ptr<Job>> done;   // evaluated, waiting to be recorded
  std::deque<LlmAnswer> llm_answers;
  int gpu_running = 0;
  int llm_waiting = 0;  // requests sent whose answers have not been harvested
  bool gpu_threads_exit = false;
  double gpu_busy_s = 0;
  std::vector<std::thread> gpu_threads;
};

}  // namespace kevo
