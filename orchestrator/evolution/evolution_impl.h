// Private to the evolution loop: the state shared by evolution.cc (the coordinator and the GPU
// threads), children.cc (making children with the tuner) and llm_asks.cc (asking the LLM and
// judging its replies).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "orchestrator/evolution/evolution.h"
#include "orchestrator/evolution/llm_roster.h"
#include "orchestrator/evolution/prompt.h"
#include "orchestrator/evolution/tuner.h"

namespace kevo {

// An LLM request in flight and what its reply is for.
struct LlmAsk {
  int model = 0;              // index in the roster
  ProgramId parent = 0;       // the program the edit applies to (parent of the child)
  ProgramId rest_parent = 0;  // the elite the ask was for (a retry after a compile error edits
                              // the failed child, but success or failure counts for the elite)
  int island = 0;
  std::string base_source;    // what the edit applies to, as the model saw it (params written in)
  EditFormat format = EditFormat::kDiff;
  std::string diversity_key;  // parent, inspirations and template: two in flight never share one
  std::string label;          // "template=diff insp=4,9 dir=2" (a retry adds "retry "), in tags
  LlmRequest request;
};

struct LlmAnswer {
  LlmAsk ask;
  Result<LlmReply> reply = Status::Internal("no reply");
};

// What a compiling LLM child needs for its reply to be judged once the compile ends.
struct LlmOrigin {
  LlmAsk ask;
  std::string reply_text;
  std::optional<LlmCallId> call;
};

// One program on its way through compile and GPU evaluation.
struct Job {
  ProgramId id = 0;
  int island = 0;  // where the program was born: with GPU models kept apart, which GPUs take it
  Candidate candidate;
  bool holdout = false;  // a new elite's holdout evaluation (recorded apart, never in prompts)
  bool counters = false;  // a new elite's hardware counters, merged into `result` (its own)
  std::future<CompileOutcome> compile;
  CompileOutcome compiled;
  EvalResult result;
  std::shared_ptr<LlmOrigin> llm;  // set for LLM children
};

struct Evolution::Impl {
  Impl(const KevoConfig& c, Archive& a, EvaluationBackend& b, std::vector<LlmModelHandle> m,
       std::vector<GpuInfo> h);

  // ---- children.cc: the tuner ----
  // A tuner child of a selected parent (mutation, or crossover with an inspiration of the same
  // source). Returns nullopt when the tuner has nothing new to offer for this parent.
  std::optional<NewProgram> make_tuner_child(const Selection& s);
  // True when this program (source and stored params) is in the archive, evaluated or pending.
  Result<bool> already_in_archive(const std::string& source,
                                  const std::map<std::string, int64_t>& params);
  // Another elite for the tuner when selection picked one whose neighbours are all evaluated:
  // one of the same island first, else of any island; none when every elite is tuned out.
  std::optional<Selection> untuned_elite(const Selection& picked);

  // ---- llm_asks.cc: the LLM ----
  // Sends one request to `model` for a parent chosen by selection (resting parents and requests
  // already in flight avoided); false when no request could be made now.
  bool ask_llm(int model);
  // Counts, tags and submits a request; the answer lands in llm_answers.
  void send(LlmAsk ask);
  // Turns an answer into a child (started or kept pending), a retry, or a recorded rejection.
  void handle_answer(LlmAnswer& answer);
  // The compile of an LLM child ended: judge the reply (and retry once on a compile error).
  void judge_compiled(Job& job);
  // A reply that gave nothing: outcome, breaker, parent rest, and a retry when `retry` is set.
  void reject(const LlmAsk& ask, const std::string& reply_text, std::optional<LlmCallId> call,
              const std::string& outcome, const std::string& reason, const std::string& feedback,
              RetryCause cause, bool retry);
  // Whether one more request may go out (budget, cost, stopping); sets llm_stopped once not.
  bool may_request();
  void set_outcome(std::optional<LlmCallId> call, const std::string& outcome,
                   std::optional<ProgramId> child = std::nullopt);
  LlmProgress llm_progress();

  // ---- evolution.cc ----
  // begin_evaluation + compile submit. The id, or nullopt for a duplicate or an archive error
  // (`duplicate_of` then holds the program it repeats, 0 for an error).
  std::optional<ProgramId> start_program(const NewProgram& p, std::shared_ptr<LlmOrigin> llm,
                                         ProgramId* duplicate_of = nullptr);
  void start_job(ProgramId id, int island, Candidate c, bool holdout,
                 std::shared_ptr<LlmOrigin> llm = nullptr);
  void gpu_thread(int gpu);
  // Which island group each GPU serves (all 0 unless GPU models are kept apart), from the models
  // the run recorded; InvalidArgument when this host lacks a model the run's islands need.
  Status assign_gpu_groups();
  // Waits on compile futures in submission order, hands each finished job to the coordinator
  // and wakes it. As many waiters as compile workers: the jobs they wait on are the ones running.
  void compile_waiter();
  void harvest_compiles();
  void harvest_results();
  void harvest_llm();
  void produce();
  std::optional<StopReason> budget_reached();
  // When the coordinator must look again though nothing arrives: the progress tick, the stop
  // flag, the idle timer, the wall budget, a model's pause or a parent's rest ending.
  double next_due_s(double last_progress_s, std::optional<double> idle_since_s) const;
  Progress snapshot(bool final);
  void note(const std::string& text);
  double now_s() const;  // seconds since the run started, on `clock`

  const KevoConfig& config;
  Archive& archive;
  EvaluationBackend& backend;
  std::vector<GpuInfo> hardware;
  std::unique_ptr<LlmRoster> roster;  // null without an LLM
  std::unique_ptr<LlmPool> llm_pool;
  std::function<std::optional<LlmCallId>(const std::string&)> call_ids;
  std::mt19937_64 rng;  // tuner/LLM choice; seeded from the run seed and the evaluation count
  ParamTuner tuner{0};  // reseeded in run() like rng
  std::set<ProgramId> tuned_out;  // parents whose every tuner neighbour is in the archive
  // The last produce() could not read the archive (a PostgreSQL server restarting): an idle loop
  // then waits for it rather than calling the search exhausted.
  bool archive_unreadable = false;

  // LLM state (coordinator thread only).
  std::optional<PromptTemplates> templates;
  int64_t next_ask = 0;        // makes request tags unique
  int64_t requests_sent = 0;   // in all, from the archive's counter at start
  int64_t max_requests = 0;
  size_t next_direction = 0;
  std::multiset<std::string> in_flight_keys;
  ParentRest parent_rest{4, 300};
  std::string llm_stopped;  // why no more requests go out ("" while they may)
  StopReason llm_stop_reason = StopReason::kLlmMaxRequests;  // what it means without the tuner

  Clock* clock = &real_clock();
  double started_s = 0;  // on `clock`
  int64_t evaluations_at_start = 0;
  bool stopping = false;
  std::optional<StopReason> stop_reason;
  bool no_ok_program = false;  // every seed failed: run() returns an error
  std::string stop_detail;
  RunSummary summary;
  std::string last_note;

  // Jobs by stage, shared with the compile waiters and the GPU threads under `mu`.
  std::mutex mu;
  std::condition_variable gpu_cv;
  std::condition_variable compile_cv;
  // The coordinator waits on it: a compile ended, a GPU result or an LLM answer arrived.
  std::condition_variable wake;
  size_t compiling = 0;                            // submitted, not yet harvested
  std::deque<std::shared_ptr<Job>> compile_waits;  // submitted, no waiter on it yet
  std::deque<std::shared_ptr<Job>> compiled;       // compile ended, waiting to be harvested
  std::deque<std::shared_ptr<Job>> ready;  // compiled, waiting for a GPU
  std::deque<std::shared_ptr<Job>> done;   // evaluated, waiting to be recorded
  std::deque<LlmAnswer> llm_answers;
  int gpu_running = 0;
  int llm_waiting = 0;  // requests sent whose answers have not been harvested
  bool gpu_threads_exit = false;
  bool compile_waiters_exit = false;
  double gpu_busy_s = 0;
  std::vector<int64_t> gpu_jobs;  // by GPU index (Progress::gpu_jobs)
  std::vector<std::thread> gpu_threads;
  std::vector<int> gpu_group;  // by GPU index
  std::vector<std::thread> compile_waiters;
};

}  // namespace kevo
