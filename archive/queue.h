// The work queue of a run whose GPU hosts share one PostgreSQL archive (DESIGN.md s.9). The
// orchestrator enqueues a task per evaluation it wants (a program, and what for: its evaluation,
// a holdout evaluation or hardware counters); `kevo worker` processes on the GPU hosts claim tasks
// for their GPU model (SELECT ... FOR UPDATE SKIP LOCKED: two workers never get one task), hold
// them under a lease they renew with heartbeats, and write the result back; the orchestrator takes
// the result and records it in the archive as a local evaluation would be. The archive's own
// tables are written by the orchestrator alone; workers write only `tasks` and `workers`.
//
// A worker that dies mid-evaluation stops renewing its lease; once the lease has expired the task
// is queued again (any worker's or the orchestrator's expire_leases() does it), and a task whose
// lease expired on its max_claims-th claim is finished as `crash`: a candidate that keeps taking
// workers down is not tried forever. Times are the database server's clock, so hosts with skewed
// clocks agree on leases.
//
// The same tables exist in a SQLite archive and every call works there too (one host, processes
// sharing a file: claims are serialized by SQLite's write lock), which the tests use; a real
// multi-host run needs PostgreSQL.
//
// Not thread-safe: one WorkQueue (one connection) per thread.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "archive/archive.h"

namespace kevo {

using TaskId = int64_t;

// What a task is for: the evaluation itself, or extra measurements of a new elite.
inline constexpr const char* kTaskEval = "eval";
inline constexpr const char* kTaskHoldout = "holdout";
inline constexpr const char* kTaskCounters = "counters";

struct TaskRequest {
  ProgramId program = 0;
  std::string purpose = kTaskEval;
  std::string suite;
  std::string gpu_model;  // only a worker with a GPU of this model (its name) takes the task
  int max_claims = 2;     // lease expiries before the candidate is recorded as crash
};

struct ClaimedTask {
  TaskId id = 0;
  ProgramId program = 0;
  std::string purpose;
  std::string suite;
  int claims = 0;  // this claim included
  std::string source;
  std::map<std::string, int64_t> params;
};

struct TaskResult {
  TaskId id = 0;
  nlohmann::json result;  // the evaluation result JSON (DESIGN s.3), artifacts included
};

struct WorkerRecord {
  int64_t id = 0;
  std::string host;
  int64_t pid = 0;
  std::string gpu_model;
  int gpus = 0;
  std::string state;  // "running" or "stopped"
  double started_at = 0;
  double heartbeat_age_s = 0;  // seconds since its last heartbeat, by the database's clock
  int64_t evaluations = 0;
  double busy_s = 0;
  nlohmann::json info;  // its first GPU, as it registered it
};

struct QueueCounts {
  std::map<std::string, int64_t> by_state;  // queued, running, done, recorded
  int64_t requeued = 0;                     // tasks claimed more than once
};

class WorkQueue {
 public:
  // A connection to the archive at `location` (a PostgreSQL URL, or a SQLite file for tests);
  // its schema must be current (the orchestrator's Archive upgrades it). NotFound when the
  // location holds no kevo schema yet.
  static Result<std::unique_ptr<WorkQueue>> open(const std::string& location,
                                                 const ArchiveOptions& options = {});
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // The run the archive holds (workers evaluate with its config); none before the orchestrator
  // has created it.
  Result<std::optional<RunInfo>> run();

  // ---- The orchestrator's side ----
  // Queues a task, or finds the one already there for (program, purpose) and returns its id: a
  // resumed orchestrator finds what its predecessor queued, done or not. A task whose result was
  // taken before (then lost with the orchestrator) is queued again.
  Result<TaskId> enqueue(const TaskRequest& request);
  // The same for the program with this hash (program_hash()); NotFound when there is none.
  Result<TaskId> enqueue_by_hash(const std::string& hash, TaskRequest request);
  // Takes the results of those of `ids` that are done: each task is marked recorded and its copy
  // of the result dropped, in one transaction. The caller records them in the archive.
  Result<std::vector<TaskResult>> take_results(const std::vector<TaskId>& ids);
  // Drops holdout and counters tasks not yet taken: at start, no orchestrator waits for them.
  Status withdraw_extras();

  // ---- A worker's side ----
  // `info`: what the worker says of its GPU (evaluator/gpu_info.h JSON), for the prompts'
  // hardware facts.
  Result<int64_t> register_worker(const std::string& host, int64_t pid,
                                  const std::string& gpu_model, int gpus,
                                  const nlohmann::json& info = nlohmann::json::object());
  // Renews the leases of every task the worker holds and its own heartbeat.
  Status heartbeat(int64_t worker, double lease_s);
  // The oldest queued task for `gpu_model`, now running under the worker's lease; none when
  // nothing is queued for that model. `label` says who ran it ("host pid 1234 gpu 0").
  Result<std::optional<ClaimedTask>> claim(int64_t worker, const std::string& label,
                                           const std::string& gpu_model, double lease_s);
  // The oldest `n` queued tasks for `gpu_model`, unclaimed (their claims as they stand), so a
  // worker can compile them while its GPU evaluates: compiling takes longer than evaluating.
  Result<std::vector<ClaimedTask>> peek(const std::string& gpu_model, int n);
  // Stores the result of a claimed task. False when the worker had lost it (its lease expired and
  // the task went back to the queue or to another worker): the result is dropped.
  Result<bool> finish(TaskId task, int64_t worker, const nlohmann::json& result, double eval_s);
  Status stop_worker(int64_t worker);

  // ---- Both ----
  // Leases past their end: the task is queued again, or finished as crash at its max_claims-th
  // claim. The number of tasks changed.
  Result<int> expire_leases();
  // Asks to be woken by wait(): the orchestrator on "results", workers on "tasks". PostgreSQL
  // only (LISTEN); elsewhere wait() simply sleeps.
  Status listen(const std::string& channel);
  // Waits up to timeout_ms for a notification on a listened channel; true when one came.
  Result<bool> wait(int timeout_ms);
  // Workers that heart-beat within `alive_within_s` (all when < 0), newest first.
  Result<std::vector<WorkerRecord>> workers(double alive_within_s = -1);
  Result<QueueCounts> counts();

  struct Impl;

 private:
  explicit WorkQueue(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kevo
