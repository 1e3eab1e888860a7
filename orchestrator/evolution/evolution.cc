// The coordinator: one thread that keeps every stage fed and records results, plus one thread
// per GPU that evaluates compiled candidates. All archive writes happen on the coordinator.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "common/log.h"
#include "common/paths.h"
#include "common/yaml_config.h"
#include "orchestrator/evolution/evolution_impl.h"

namespace kevo {
namespace {

constexpr double kProgressEvery_s = 1;  // the progress callback, about once a second
// The stop flag is set by a signal handler, which cannot wake the coordinator: looked at this
// often.
constexpr double kStopFlagEvery_s = 0.25;
// Nothing in flight and nothing new to try for this long ends the run (search_exhausted).
constexpr double kIdleBeforeExhausted_s = 2;

struct StopReasonInfo {
  StopReason reason;
  const char* name;
  const char* words;
};
constexpr StopReasonInfo kStopReasons[] = {
    {StopReason::kMaxEvaluations, "max_evaluations",
     "the evaluation budget (run.max_evaluations) was used"},
    {StopReason::kMaxWallMinutes, "max_wall_minutes",
     "the time budget (run.max_wall_minutes) was used"},
    {StopReason::kInterrupted, "interrupted", "stopped by Ctrl-C or a signal"},
    {StopReason::kSearchExhausted, "search_exhausted",
     "the tuner and the LLM had nothing new to try"},
    {StopReason::kMaxCostUsd, "max_cost_usd", "the cost budget (run.max_cost_usd) was used"},
    {StopReason::kLlmMaxRequests, "llm_max_requests",
     "the LLM request budget (llm.max_requests) was used"},
    {StopReason::kLlmPaused, "llm_paused",
     "every LLM model was paused by its breaker and tuner_share is 0"},
};

const StopReasonInfo& info(StopReason reason) {
  for (const StopReasonInfo& i : kStopReasons) {
    if (i.reason == reason) return i;
  }
  assert(false && "every StopReason has a row in kStopReasons");
  return kStopReasons[0];
}

}  // namespace

const char* stop_reason_name(StopReason reason) {
  return info(reason).name;
}
const char* stop_reason_words(StopReason reason) {
  return info(reason).words;
}

std::optional<StopReason> parse_stop_reason(std::string_view name) {
  for (const StopReasonInfo& i : kStopReasons) {
    if (name == i.name) return i.reason;
  }
  return std::nullopt;
}

Evolution::Impl::Impl(const KevoConfig& c, Archive& a, EvaluationBackend& b,
                      std::vector<LlmModelHandle> models, std::vector<GpuInfo> h)
    : config(c), archive(a), backend(b), hardware(std::move(h)) {
  if (models.empty()) return;
  std::vector<RosterModel> roster_models;
  for (const auto& m : models) {
    assert(m.client && "every LLM model handle needs a client");
    roster_models.push_back({m.name, m.client, m.weight, m.max_in_flight, m.price_known});
  }
  roster = std::make_unique<LlmRoster>(std::move(roster_models), config.llm, config.run.seed);
  llm_pool = std::make_unique<LlmPool>(config.llm.max_in_flight);
  parent_rest = ParentRest(config.llm.parent_max_failures, config.llm.parent_rest_s);
  max_requests = effective_max_requests(config.llm, config.run.max_evaluations);
}

Evolution::Evolution(const KevoConfig& config, Archive& archive, EvaluationBackend& backend,
                     std::vector<LlmModelHandle> models, std::vector<GpuInfo> hardware)
    : impl_(std::make_unique<Impl>(config, archive, backend, std::move(models),
                                   std::move(hardware))) {}

Evolution::~Evolution() = default;

void Evolution::set_call_ids(std::function<std::optional<LlmCallId>(const std::string&)> lookup) {
  impl_->call_ids = std::move(lookup);
}

void Evolution::set_clock(Clock& clock) {
  impl_->clock = &clock;
}

Status Evolution::add_seeds() {
  Impl& s = *impl_;
  int island = 0;
  // Each seed program with its name: `kevo status` and `kevo top` name a program's method by it.
  nlohmann::json programs = nlohmann::json::array();
  for (const std::string& name : s.config.run.seeds) {
    std::string file = name;
    if (file.find('/') == std::string::npos) {
      auto path = data_path("seeds/" + name + (name.ends_with(".cu") ? "" : ".cu"));
      if (!path.ok()) return path.status();
      file = *path;
    }
    std::string source;
    KEVO_RETURN_IF_ERROR(read_text_file(file, source).with_context("seed '" + name + "'"));
    NewProgram p;
    p.source = source;
    p.island = island++ % s.config.archive.islands;
    p.origin = "seed";
    auto begun = s.archive.begin_evaluation(p);
    if (!begun.ok()) return begun.status();
    programs.push_back({{"id", begun->id}, {"name", name}});
    // Seeds are evaluated by run(), which starts with every pending program.
  }
  return s.archive.add_event("seeds_added",
                             {{"seeds", s.config.run.seeds}, {"programs", programs}});
}

std::optional<ProgramId> Evolution::Impl::start_program(const NewProgram& p,
                                                      std::shared_ptr<LlmOrigin> llm,
                                                      ProgramId* duplicate_of) {
  if (duplicate_of) *duplicate_of = 0;
  auto begun = archive.begin_evaluation(p);
  if (!begun.ok()) {
    spdlog::error("archive: {}", begun.status().message());
    return std::nullopt;
  }
  if (begun->duplicate) {
    ++summary.duplicates;
    if (duplicate_of) *duplicate_of = begun->id;
    spdlog::debug("child of #{} is program #{} again (status {}): not evaluated twice",
                  p.parent.value_or(0), begun->id, begun->status);
    return std::nullopt;
  }
  Candidate c{"program " + std::to_string(begun->id), normalize_source(p.source), p.params};
  start_job(begun->id, p.island, std::move(c), false, std::move(llm));
  return begun->id;
}

void Evolution::Impl::start_job(ProgramId id, int island, Candidate c, bool holdout,
                                std::shared_ptr<LlmOrigin> llm) {
  auto job = std::make_shared<Job>();
  job->id = id;
  job->island = island;
  job->holdout = holdout;
  job->llm = std::move(llm);
  job->candidate = std::move(c);
  job->compile = backend.compile(job->candidate);
  std::lock_guard lock(mu);
  ++compiling;
  compile_waits.push_back(std::move(job));
  compile_cv.notify_one();
}

void Evolution::Impl::compile_waiter() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mu);
      compile_cv.wait(lock, [&] { return compile_waiters_exit || !compile_waits.empty(); });
      if (compile_waits.empty()) return;  // exit requested and nothing left
      job = compile_waits.front();
      compile_waits.pop_front();
    }
    job->compile.wait();
    std::lock_guard lock(mu);
    compiled.push_back(std::move(job));
    wake.notify_one();
  }
}

void Evolution::Impl::gpu_thread(int gpu) {
  const int groups = std::max(1, archive.config().island_groups);
  const int mine = gpu < static_cast<int>(gpu_group.size()) ? gpu_group[gpu] : 0;
  auto for_me = [&](const std::shared_ptr<Job>& j) { return j->island % groups == mine; };
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mu);
      auto next = ready.end();
      gpu_cv.wait(lock, [&] {
        next = std::find_if(ready.begin(), ready.end(), for_me);
        return gpu_threads_exit || next != ready.end();
      });
      if (next == ready.end()) return;  // exit requested and nothing left for this GPU
      job = *next;
      ready.erase(next);
      ++gpu_running;
    }
    const double t0 = clock->now_s();
    const std::string& suite = job->holdout ? config.evaluator.holdout_suite : config.evaluator.suite;
    if (job->counters) {
      merge_counters(job->result,
                     backend.measure_counters(gpu, job->candidate, job->compiled, suite));
    } else {
      job->result = backend.evaluate(gpu, job->candidate, job->compiled, suite);
    }
    const double busy = clock->now_s() - t0;
    std::lock_guard lock(mu);
    gpu_busy_s += busy;
    if (gpu >= 0 && gpu < static_cast<int>(gpu_jobs.size())) ++gpu_jobs[gpu];
    --gpu_running;
    done.push_back(std::move(job));
    wake.notify_one();
  }
}

void Evolution::Impl::harvest_compiles() {
  std::deque<std::shared_ptr<Job>> batch;
  {
    std::lock_guard lock(mu);
    batch.swap(compiled);
  }
  for (auto& job : batch) {
    job->compiled = job->compile.get();
    if (job->llm) judge_compiled(*job);
    if (job->compiled.status == EvalStatus::kOk) {
      std::lock_guard lock(mu);
      ready.push_back(job);
      gpu_cv.notify_all();
    } else {
      EvalResult r = EvalResult::failure(job->compiled.status, job->compiled.message);
      r.compile_log = job->compiled.log;
      r.metrics["compile_ms"] = job->compiled.compile_ms;
      job->result = std::move(r);
      std::lock_guard lock(mu);
      done.push_back(job);
    }
    std::lock_guard lock(mu);
    --compiling;
  }
}

void Evolution::Impl::note(const std::string& text) {
  last_note = text;
  spdlog::info("{}", text);
}

void Evolution::Impl::harvest_results() {
  std::deque<std::shared_ptr<Job>> batch;
  {
    std::lock_guard lock(mu);
    batch.swap(done);
  }
  for (auto& job : batch) {
    nlohmann::json j = to_json(job->result);
    if (job->holdout || job->counters) {
      Status st =
          job->holdout ? archive.record_holdout(job->id, j) : archive.amend_result(job->id, j);
      if (!st.ok()) spdlog::error("archive: {}", st.message());
      continue;
    }
    auto outcome = archive.record_result(job->id, j);
    if (!outcome.ok()) {
      spdlog::error("archive: recording program #{}: {}", job->id, outcome.status().message());
      continue;
    }
    const EvalResult& r = job->result;
    if (!r.ok()) {
      spdlog::debug("program #{}: {}: {}", job->id, eval_status_name(r.status), r.message);
    }
    if (outcome->new_global_best) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "new best: program #%lld, fitness %.3f (%s)",
                    static_cast<long long>(job->id), r.fitness, outcome->cell.c_str());
      note(buf);
      (void)archive.add_event("new_best", {{"program", job->id}, {"fitness", r.fitness}});
    }
    // Holdout runs on new elites only (docs/design.md, Workloads), and its figures never reach a
    // prompt.
    if (outcome->new_elite && !config.evaluator.holdout_suite.empty()) {
      auto job2 = std::make_shared<Job>();
      job2->id = job->id;
      job2->island = job->island;
      job2->holdout = true;
      job2->candidate = job->candidate;
      job2->compiled = job->compiled;
      std::lock_guard lock(mu);
      ready.push_back(std::move(job2));
      gpu_cv.notify_all();
    }
    // Hardware counters for the programs prompts show as parents (evaluator.counters: elites).
    if (outcome->new_elite && config.evaluator.counters == "elites") {
      auto job3 = std::make_shared<Job>();
      job3->id = job->id;
      job3->island = job->island;
      job3->counters = true;
      job3->candidate = job->candidate;
      job3->compiled = job->compiled;
      job3->result = r;  // the counters are merged into it, then it replaces the stored one
      std::lock_guard lock(mu);
      ready.push_back(std::move(job3));
      gpu_cv.notify_all();
    }
  }
}

std::optional<StopReason> Evolution::Impl::budget_reached() {
  auto totals = archive.totals();
  if (!totals.ok()) return std::nullopt;
  if (totals->evaluations + totals->pending >= config.run.max_evaluations) {
    return StopReason::kMaxEvaluations;
  }
  if (config.run.max_wall_minutes > 0 && now_s() > config.run.max_wall_minutes * 60) {
    return StopReason::kMaxWallMinutes;
  }
  return std::nullopt;
}

double Evolution::Impl::next_due_s(double last_progress_s,
                                   std::optional<double> idle_since_s) const {
  const double now = now_s();
  double due = std::min(last_progress_s + kProgressEvery_s, now + kStopFlagEvery_s);
  if (idle_since_s) due = std::min(due, *idle_since_s + kIdleBeforeExhausted_s);
  if (config.run.max_wall_minutes > 0) due = std::min(due, config.run.max_wall_minutes * 60);
  if (roster) {
    // A model's pause or a parent's rest ending may let a request go out.
    for (double wake_s : {roster->next_wake_s(now), parent_rest.next_wake_s(now)}) {
      if (wake_s > 0) due = std::min(due, wake_s);
    }
  }
  return started_s + std::max(due, now);
}

void Evolution::Impl::produce() {
  auto totals = archive.totals();
  archive_unreadable = !totals.ok();
  if (!totals.ok()) return;
  if (totals->by_status["ok"] == 0) return;  // children need a parent: wait for the seeds
  const int gpus = std::max(1, backend.active_gpus());
  // Enough compiled work queued that a GPU finishing a candidate finds the next one waiting.
  const size_t target_depth =
      size_t(gpus) * 2 + size_t(resolved_compile_workers(config.sandbox));
  int64_t room = config.run.max_evaluations - totals->evaluations - totals->pending;
  const double now = now_s();

  // LLM requests: keep the pool full, counting each request as a future child for the budget.
  // Every request counts against llm.max_requests and the cost budget; paused models are skipped.
  bool llm_usable = roster && llm_stopped.empty() && !roster->all_paused(now);
  if (llm_usable) {
    while (llm_waiting < config.llm.max_in_flight && room - llm_waiting > 0) {
      // The tuner's share of children is taken from the same slots.
      if (std::uniform_real_distribution<double>(0, 1)(rng) < config.run.tuner_share) break;
      if (!may_request()) break;
      auto model = roster->pick(now);
      if (!model) break;
      if (!ask_llm(*model)) break;
    }
    llm_usable = llm_stopped.empty();
  }
  // The tuner fills the pipeline: always without an LLM, never with one at tuner_share 0; in
  // between, its share of children plus whatever keeps the GPU from waiting on slow replies, and
  // everything while the LLM cannot be asked.
  if (roster && config.run.tuner_share <= 0) return;
  size_t depth;
  {
    std::lock_guard lock(mu);
    depth = compiling + ready.size();
  }
  int guard = 0;
  while (depth < target_depth && room - llm_waiting > 0 && guard++ < 16) {
    bool llm_starving = llm_usable && depth > 0;
    if (llm_starving &&
        std::uniform_real_distribution<double>(0, 1)(rng) >= config.run.tuner_share) {
      break;
    }
    auto sel = archive.select();
    if (!sel.ok()) break;
    auto child = make_tuner_child(*sel);
    if (!child && tuned_out.count(sel->parent)) {
      auto other = untuned_elite(*sel);
      if (other) child = make_tuner_child(*other);
    }
    if (!child) continue;
    if (start_program(*child, nullptr)) {
      ++summary.tuner_children;
      ++depth;
      --room;
    }
  }
}

std::optional<Selection> Evolution::Impl::untuned_elite(const Selection& picked) {
  auto elites = archive.elites();
  if (!elites.ok()) return std::nullopt;
  std::vector<const Elite*> same, other;
  for (const Elite& e : *elites) {
    if (tuned_out.count(e.program)) continue;
    (e.island == picked.island ? same : other).push_back(&e);
  }
  const auto& pool = same.empty() ? other : same;
  if (pool.empty()) return std::nullopt;
  const Elite* e = pool[std::uniform_int_distribution<size_t>(0, pool.size() - 1)(rng)];
  Selection s;
  s.island = e->island;
  s.parent = e->program;
  s.mode = "untuned";
  return s;
}

Progress Evolution::Impl::snapshot(bool final) {
  Progress p;
  p.final = final;
  p.max_evaluations = config.run.max_evaluations;
  p.elapsed_s = now_s();
  auto t = archive.totals();
  if (t.ok()) {
    p.evaluations = t->evaluations;
    p.ok = t->by_status.count("ok") ? t->by_status.at("ok") : 0;
    p.failed = p.evaluations - p.ok;
    p.tokens = t->tokens_in + t->tokens_out;
    p.cost_usd = t->cost_usd;
    if (t->best) {
      p.best_fitness = t->best->fitness;
      p.best_program = t->best->program;
    }
  }
  double minutes = std::max(p.elapsed_s, 1e-3) / 60;
  p.evals_per_minute = double(p.evaluations - evaluations_at_start) / minutes;
  {
    std::lock_guard lock(mu);
    double gpus = std::max(1, backend.active_gpus());
    double busy = backend.gpu_busy_s().value_or(gpu_busy_s);
    p.gpu_busy = std::min(1.0, busy / (std::max(p.elapsed_s, 1e-3) * gpus));
    p.llm_in_flight = llm_waiting;
    p.gpu_jobs = gpu_jobs;
  }
  if (roster) p.llm = llm_progress();
  p.note = last_note;
  return p;
}

Status Evolution::Impl::assign_gpu_groups() {
  const int groups = std::max(1, archive.config().island_groups);
  const int gpus = std::max(1, backend.gpu_count());
  gpu_group.assign(gpus, 0);
  if (groups == 1) return Status::Ok();
  // The models in group order, as the run first recorded them (so a resumed run on the same
  // host gives each model the same islands again).
  KEVO_ASSIGN_OR_RETURN(auto stored, archive.value("gpu_models"));
  std::vector<std::string> models;
  if (stored && stored->is_array()) {
    for (const auto& m : *stored) models.push_back(m.get<std::string>());
  } else {
    for (const GpuInfo& g : hardware) {
      if (std::find(models.begin(), models.end(), g.name) == models.end()) {
        models.push_back(g.name);
      }
    }
    KEVO_RETURN_IF_ERROR(archive.set_value("gpu_models", models));
  }
  if (static_cast<int>(models.size()) != groups ||
      static_cast<int>(hardware.size()) != gpus) {
    return Status::InvalidArgument("the run keeps " + std::to_string(groups) +
                                   " GPU models apart, but its GPUs are not known for each");
  }
  std::vector<bool> served(groups, false);
  for (int g = 0; g < gpus; ++g) {
    auto it = std::find(models.begin(), models.end(), hardware[g].name);
    if (it == models.end()) {
      return Status::InvalidArgument("GPU " + std::to_string(hardware[g].index) + " (" +
                                     hardware[g].name + ") is not one of this run's GPU models");
    }
    gpu_group[g] = static_cast<int>(it - models.begin());
    served[gpu_group[g]] = true;
  }
  for (int i = 0; i < groups; ++i) {
    if (!served[i]) {
      return Status::InvalidArgument("the run's islands for " + models[i] +
                                     " need a GPU of that model, and none is selected");
    }
  }
  return Status::Ok();
}

double Evolution::Impl::now_s() const {
  return clock->now_s() - started_s;
}

Result<RunSummary> Evolution::run(std::atomic<bool>& stop,
                                  const std::function<void(const Progress&)>& progress) {
  Impl& s = *impl_;
  s.started_s = s.clock->now_s();
  KEVO_ASSIGN_OR_RETURN(Totals t0, s.archive.totals());
  s.evaluations_at_start = t0.evaluations;
  // Seeded by the run seed and the evaluations so far: a resumed run goes on deterministically.
  s.rng.seed(s.config.run.seed * 0x9E3779B97F4A7C15ull + uint64_t(t0.evaluations));
  s.tuner = ParamTuner(s.rng());
  if (!s.roster) {
    spdlog::info("no LLM configured: the built-in tuner evolves the seeds' kevo:param values");
  } else {
    KEVO_ASSIGN_OR_RETURN(PromptTemplates templates, PromptTemplates::load_default());
    s.templates = std::move(templates);
    KEVO_ASSIGN_OR_RETURN(s.requests_sent, s.archive.counter("llm_requests"));
    if (s.requests_sent > 0) {
      spdlog::info("{} LLM requests sent before, of {} allowed", s.requests_sent, s.max_requests);
    }
  }

  KEVO_RETURN_IF_ERROR(s.assign_gpu_groups());
  // Programs a stopped or crashed run left pending (the seeds of a new run, too) come first.
  KEVO_ASSIGN_OR_RETURN(std::vector<ProgramId> pending, s.archive.pending_evaluations());
  for (ProgramId id : pending) {
    KEVO_ASSIGN_OR_RETURN(Program p, s.archive.program(id));
    s.start_job(id, p.island, Candidate{"program " + std::to_string(id), p.source, p.params},
                false);
  }
  if (!pending.empty()) spdlog::info("evaluating {} pending program(s) first", pending.size());

  {
    std::lock_guard lock(s.mu);
    s.gpu_jobs.assign(std::max(1, s.backend.gpu_count()), 0);
  }
  for (int g = 0; g < std::max(1, s.backend.gpu_count()); ++g) {
    s.gpu_threads.emplace_back([&s, g] { s.gpu_thread(g); });
  }
  for (int w = 0; w < std::max(1, resolved_compile_workers(s.config.sandbox)); ++w) {
    s.compile_waiters.emplace_back([&s] { s.compile_waiter(); });
  }
  double last_progress_s = -10;  // on the run's time (now_s())
  bool seeds_checked = false;
  std::optional<double> idle_since_s;
  for (;;) {
    if (!s.stopping) {
      if (stop.load()) {
        s.stop_reason = StopReason::kInterrupted;
      } else {
        s.stop_reason = s.budget_reached();
      }
      s.stopping = s.stop_reason.has_value();
      if (s.stopping) {
        spdlog::info("stopping ({}): finishing the evaluations in flight",
                     stop_reason_name(*s.stop_reason));
        stop.store(true);  // also cancels LLM transfers when the client shares the flag
      }
    }
    if (s.roster) s.harvest_llm();
    s.harvest_compiles();
    s.harvest_results();
    if (!s.stopping) s.produce();

    size_t in_flight;
    {
      std::lock_guard lock(s.mu);
      in_flight = s.compiling + s.ready.size() + size_t(s.gpu_running) + s.done.size();
    }
    // With the tuner off (tuner_share 0), an LLM that may not or cannot be asked ends the run,
    // saying why, once its answers are in.
    if (!s.stopping && s.roster && s.config.run.tuner_share <= 0 && s.llm_waiting == 0 &&
        seeds_checked) {
      if (!s.llm_stopped.empty()) {
        s.stopping = true;
        s.stop_reason = s.llm_stop_reason;
        s.stop_detail = s.llm_stopped;
      } else if (s.roster->all_paused(s.now_s())) {
        s.stopping = true;
        s.stop_reason = StopReason::kLlmPaused;
        s.stop_detail = "every LLM model is paused by its breaker (see the log) and tuner_share "
                        "is 0, so nothing is left to make children";
      }
      if (s.stopping) spdlog::warn("stopping: {}", s.stop_detail);
    }
    // Nothing in flight and nothing new to try (the tuner has visited every one- and two-param
    // move of every elite, and no LLM is asking or will again): stop rather than spin.
    bool llm_may_return = s.roster && s.llm_stopped.empty();
    if (!s.stopping && in_flight == 0 && s.llm_waiting == 0 && seeds_checked && !llm_may_return &&
        !s.archive_unreadable) {
      if (!idle_since_s) idle_since_s = s.now_s();
      if (s.now_s() - *idle_since_s >= kIdleBeforeExhausted_s) {
        s.stopping = true;
        s.stop_reason = StopReason::kSearchExhausted;
        s.stop_detail =
            "the tuner has tried every one- and two-param change of every elite, and no LLM can "
            "be asked";
        spdlog::warn("{}: stopping", s.stop_detail);
      }
    } else {
      idle_since_s.reset();
    }
    if (!seeds_checked && in_flight == 0 && s.llm_waiting == 0) {
      // Everything pending is evaluated: without one ok program there is nothing to evolve.
      seeds_checked = true;
      auto t = s.archive.totals();
      if (t.ok() && (!t->by_status.count("ok") || t->by_status.at("ok") == 0)) {
        s.stopping = true;
        s.no_ok_program = true;
      }
    }
    if (s.now_s() - last_progress_s >= kProgressEvery_s) {
      progress(s.snapshot(false));
      last_progress_s = s.now_s();
    }
    // Once stopping, compiles and GPU work already started finish (their deadlines bound the
    // wait) and are recorded; LLM requests still out are cancelled through the shared flag.
    if (s.stopping && in_flight == 0) break;
    // Woken by what arrives (a compile ended, a GPU result, an LLM answer), or when the next
    // timed thing is due.
    const double due_s = s.next_due_s(last_progress_s, idle_since_s);
    std::unique_lock lock(s.mu);
    s.clock->wait_until(s.wake, lock, due_s, [&] {
      return !s.compiled.empty() || !s.done.empty() || !s.llm_answers.empty();
    });
  }
  {
    std::lock_guard lock(s.mu);
    s.gpu_threads_exit = true;
    s.compile_waiters_exit = true;
  }
  s.gpu_cv.notify_all();
  s.compile_cv.notify_all();
  for (auto& t : s.gpu_threads) t.join();
  s.gpu_threads.clear();
  for (auto& t : s.compile_waiters) t.join();
  s.compile_waiters.clear();
  s.harvest_results();
  if (s.roster) s.harvest_llm();  // answers that arrived meanwhile are kept as pending programs
  s.llm_pool.reset();  // cancels what is still queued or running (the flag is set)

  if (s.no_ok_program) {
    return Status::InvalidArgument(
        "no seed evaluated ok, so there is nothing to evolve: see 'kevo top' and 'kevo show ID' "
        "for each seed's status and message");
  }
  s.summary.progress = s.snapshot(true);
  s.summary.stop_reason = *s.stop_reason;
  s.summary.stop_detail = s.stop_detail;
  s.summary.tuned_out_parents = int64_t(s.tuned_out.size());
  progress(s.summary.progress);
  (void)s.archive.add_event("stopped", {{"reason", stop_reason_name(*s.stop_reason)},
                                        {"detail", s.stop_detail},
                                        {"tuner_children", s.summary.tuner_children},
                                        {"llm_children", s.summary.llm_children}});
  return s.summary;
}

}  // namespace kevo
