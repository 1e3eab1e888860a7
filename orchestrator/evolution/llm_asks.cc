// Asking the LLM and judging its replies (docs/design.md, Orchestrator), with what keeps a run from
// spending without return: a request bound and the cost budget (may_request), a breaker per model
// and a rest for parents whose asks keep failing (llm_roster.h), and no two requests in flight with
// the same parent, inspirations and template. A reply that gives nothing gets one retry, sent as a
// conversation: the model sees its own reply and what failed.
#include <algorithm>
#include <regex>
#include <set>

#include "common/log.h"
#include "orchestrator/evolution/evolution_impl.h"
#include "orchestrator/evolution/prompt.h"
#include "orchestrator/evolution/prompt_context.h"

namespace kevo {
namespace {

// A reply echoed back in a retry is cut here: a 1 MB reply must not become a 1 MB request.
constexpr size_t kMaxReplyEchoed = 64 * 1024;
// Selections tried for a parent that is neither resting nor already asked about in flight.
constexpr int kSelectionTries = 8;

std::string diversity_key(ProgramId parent, std::vector<ProgramId> inspirations,
                          const std::string& template_name) {
  std::sort(inspirations.begin(), inspirations.end());
  std::string key = std::to_string(parent) + "|";
  for (ProgramId i : inspirations) key += std::to_string(i) + ",";
  return key + "|" + template_name;
}

// The program's lines around `line` (1-based), numbered.
std::string lines_around(const std::string& source, int line, int radius) {
  std::string out;
  int n = 0;
  size_t pos = 0;
  while (pos <= source.size()) {
    size_t nl = source.find('\n', pos);
    if (nl == std::string::npos) nl = source.size();
    ++n;
    if (n >= line - radius && n <= line + radius) {
      out += std::to_string(n) + (n == line ? ">> " : ":  ") + source.substr(pos, nl - pos) + "\n";
    }
    if (n > line + radius) break;
    pos = nl + 1;
  }
  return out;
}

// The program line a compile message names first ("line 57: ..." or "candidate.cu(57): error").
int compile_error_line(const std::string& message, const std::string& log) {
  static const std::regex kLine(R"(line (\d+):)"), kLog(R"(\.cu\((\d+)\): (?:error|catastrophic))");
  std::smatch m;
  if (std::regex_search(message, m, kLine)) return std::stoi(m[1]);
  if (std::regex_search(log, m, kLog)) return std::stoi(m[1]);
  return 0;
}

std::string with_limit(const std::string& reply) {
  if (reply.size() <= kMaxReplyEchoed) return reply;
  return reply.substr(0, kMaxReplyEchoed) + "\n[... your reply was " +
         std::to_string(reply.size()) + " bytes; the rest is cut here]";
}

}  // namespace

bool Evolution::Impl::may_request() {
  if (!llm_stopped.empty()) return false;
  if (requests_sent >= max_requests) {
    llm_stopped = "the run has sent its " + std::to_string(max_requests) +
                  " LLM requests (llm.max_requests)";
    llm_stop_reason = StopReason::kLlmMaxRequests;
  } else if (config.run.max_cost_usd > 0) {
    auto t = archive.totals();
    if (t.ok() && t->cost_usd >= config.run.max_cost_usd) {
      char buf[128];
      std::snprintf(buf, sizeof buf, "the LLM cost $%.2f of the $%.2f budget (run.max_cost_usd)",
                    t->cost_usd, config.run.max_cost_usd);
      llm_stopped = buf;
      llm_stop_reason = StopReason::kMaxCostUsd;
    }
  }
  if (llm_stopped.empty()) return true;
  note("no more LLM requests: " + llm_stopped);
  (void)archive.add_event("llm_stopped",
                          {{"reason", stop_reason_name(llm_stop_reason)}, {"detail", llm_stopped}});
  return false;
}

bool Evolution::Impl::ask_llm(int model) {
  if (!templates) return false;
  std::optional<Selection> chosen, resting_fallback, last;
  EditFormat format = EditFormat::kDiff, fallback_format = EditFormat::kDiff;
  std::string key, fallback_key;
  for (int attempt = 0; attempt < kSelectionTries && !chosen; ++attempt) {
    auto sel = archive.select();
    if (!sel.ok()) return false;
    last = *sel;
    bool resting = parent_rest.resting(sel->parent, now_s());
    bool whole = std::uniform_real_distribution<double>(0, 1)(rng) < config.llm.whole_file_share;
    // The other template is tried before another selection: same parent, another kind of move.
    for (EditFormat f : {whole ? EditFormat::kWholeFile : EditFormat::kDiff,
                         whole ? EditFormat::kDiff : EditFormat::kWholeFile}) {
      std::string k = diversity_key(sel->parent, sel->inspirations,
                                    f == EditFormat::kWholeFile ? "rewrite" : "diff");
      if (in_flight_keys.count(k)) continue;
      if (resting) {
        if (!resting_fallback) resting_fallback = *sel, fallback_format = f, fallback_key = k;
        break;
      }
      chosen = *sel;
      format = f;
      key = k;
      break;
    }
  }
  // A rest sends the requests to other elites; when every elite selection found rests, the run
  // has no other to offer, and the breaker is what bounds a model that keeps failing.
  if (!chosen && resting_fallback) {
    chosen = resting_fallback;
    format = fallback_format;
    key = fallback_key;
  }
  if (!chosen && last) {
    // Requests in flight may share a parent only when no other elite exists to ask about.
    auto elites = archive.elites();
    std::set<ProgramId> distinct;
    if (elites.ok()) {
      for (const Elite& e : *elites) distinct.insert(e.program);
    }
    if (distinct.size() <= 1) {
      chosen = last;
      format = std::uniform_real_distribution<double>(0, 1)(rng) < config.llm.whole_file_share
                   ? EditFormat::kWholeFile
                   : EditFormat::kDiff;
      key = diversity_key(last->parent, last->inspirations,
                          format == EditFormat::kWholeFile ? "rewrite" : "diff");
    }
  }
  if (!chosen) return false;  // every try repeated a request in flight: ask in a later round
  auto p = archive.program(chosen->parent);
  if (!p.ok()) return false;
  std::optional<Program> parent(std::move(*p));

  PromptContext ctx;
  ctx.task = task_facts(config.evaluator);
  if (!hardware.empty()) ctx.hardware = hardware_facts(hardware.front());
  ctx.parent = shown_program(*parent);
  for (ProgramId id : chosen->inspirations) {
    auto insp = archive.program(id);
    if (insp.ok()) ctx.inspirations.push_back(shown_program(*insp));
  }
  auto kids = archive.children(chosen->parent, 8);
  if (kids.ok()) {
    std::vector<std::string> messages;
    for (const ProgramSummary& k : *kids) {
      auto full = archive.program(k.id);
      messages.push_back(full.ok() ? full->message : "");
    }
    ctx.failed_tries = failed_tries(*kids, messages);
  }
  ctx.format = format;
  const auto& directions = templates->directions();
  if (!directions.empty()) ctx.direction = directions[next_direction++ % directions.size()];
  auto prompt = templates->build(ctx);
  if (!prompt.ok()) {
    spdlog::error("prompt for program #{}: {}", chosen->parent, prompt.status().message());
    return false;
  }
  LlmAsk ask;
  ask.model = model;
  ask.parent = ask.rest_parent = chosen->parent;
  ask.island = chosen->island;
  ask.base_source = ctx.parent.source;
  ask.format = format;
  ask.diversity_key = key;
  std::string insp;
  for (ProgramId id : chosen->inspirations) insp += (insp.empty() ? "" : ",") + std::to_string(id);
  ask.label = "template=" + prompt->template_name + " insp=" + insp + " dir=" +
              std::to_string(directions.empty() ? 0 : (next_direction - 1) % directions.size() + 1);
  ask.request = LlmRequest::single(prompt->system, prompt->user);
  ask.request.parent = chosen->parent;
  send(std::move(ask));
  return true;
}

void Evolution::Impl::send(LlmAsk ask) {
  // A unique tag lets the recorder's row be found again for the child (call_ids).
  ask.request.tag = "ask=" + std::to_string(++next_ask) + " parent=" + std::to_string(ask.parent) +
                    " " + ask.label;
  ++requests_sent;
  (void)archive.add_counter("llm_requests", 1);  // a resumed run keeps counting
  roster->request_sent(ask.model);
  in_flight_keys.insert(ask.diversity_key);
  ++llm_waiting;
  LlmClient& client = *roster->model(ask.model).client;
  llm_pool->submit(client, ask.request, [this, ask](Result<LlmReply> reply) mutable {
    std::lock_guard lock(mu);
    llm_answers.push_back({std::move(ask), std::move(reply)});
    wake.notify_one();
  });
}

void Evolution::Impl::set_outcome(std::optional<LlmCallId> call, const std::string& outcome,
                                  std::optional<ProgramId> child) {
  if (!call) return;
  Status st = archive.set_llm_outcome(*call, outcome, child);
  if (!st.ok()) spdlog::error("archive: {}", st.message());
}

void Evolution::Impl::harvest_llm() {
  std::deque<LlmAnswer> answers;
  {
    std::lock_guard lock(mu);
    answers.swap(llm_answers);
  }
  for (auto& a : answers) {
    --llm_waiting;
    roster->reply_arrived(a.ask.model);
    auto key = in_flight_keys.find(a.ask.diversity_key);
    if (key != in_flight_keys.end()) in_flight_keys.erase(key);
    handle_answer(a);
  }
}

void Evolution::Impl::handle_answer(LlmAnswer& a) {
  std::optional<LlmCallId> call = call_ids ? call_ids(a.ask.request.tag) : std::nullopt;
  if (!a.reply.ok()) {
    const Status& st = a.reply.status();
    if (st.code() == StatusCode::kCancelled) return;  // the run is stopping: nobody's fault
    spdlog::warn("LLM request for program #{} failed: {}", a.ask.parent, st.message());
    std::string reason = std::string("request failed (") + status_code_name(st.code()) + ")";
    reject(a.ask, "", call, "request_failed", reason, st.message(), RetryCause::kEdit, false);
    return;
  }
  EditError error = EditError::kBadEdit;
  auto child = apply_edit_reply(a.ask.base_source, a.reply->text, &error);
  if (!child.ok()) {
    reject(a.ask, a.reply->text, call, edit_error_name(error), edit_error_words(error),
           child.status().message(), RetryCause::kEdit, true);
    return;
  }
  NewProgram p;
  p.source = *child;  // params are written into the source: the child's text is the whole kernel
  p.parent = a.ask.parent;
  p.island = a.ask.island;
  p.origin = "llm";
  p.llm_call = call;
  if (stopping) {
    // The reply is paid for: keep the child as pending, and `kevo resume` evaluates it.
    auto begun = archive.begin_evaluation(p);
    if (begun.ok() && !begun->duplicate) {
      set_outcome(call, "child", begun->id);
      ++summary.llm_children;
    }
    return;
  }
  auto origin = std::make_shared<LlmOrigin>(LlmOrigin{a.ask, a.reply->text, call});
  ProgramId duplicate_of = 0;
  auto id = start_program(p, origin, &duplicate_of);
  if (!id) {
    if (duplicate_of) {
      reject(a.ask, a.reply->text, call, "duplicate", "duplicate of an earlier program",
             "the edit gives program #" + std::to_string(duplicate_of) + " again", RetryCause::kEdit,
             false);
    }
    return;
  }
  set_outcome(call, "child", *id);
  ++summary.llm_children;
}

void Evolution::Impl::judge_compiled(Job& job) {
  const LlmOrigin& o = *job.llm;
  if (job.compiled.status == EvalStatus::kOk) {
    roster->judged(o.ask.model, true, "", now_s());
    parent_rest.succeeded(o.ask.rest_parent);
    return;
  }
  set_outcome(o.call, "compile_error", job.id);
  // The retry edits the program the reply made, shown around the line the compiler names.
  std::string feedback = std::string(eval_status_name(job.compiled.status)) + ": " +
                         job.compiled.message;
  int line = compile_error_line(job.compiled.message, job.compiled.log);
  if (line > 0) {
    feedback += "\n\nThe program your edit made, around line " + std::to_string(line) + ":\n" +
                lines_around(job.candidate.source, line, 4);
  }
  LlmAsk next = o.ask;
  next.parent = job.id;
  next.base_source = job.candidate.source;
  reject(next, o.reply_text, o.call, "", "compile error", feedback, RetryCause::kCompileError,
         true);
}

void Evolution::Impl::reject(const LlmAsk& ask, const std::string& reply_text,
                             std::optional<LlmCallId> call, const std::string& outcome,
                             const std::string& reason, const std::string& feedback,
                             RetryCause cause, bool retry) {
  if (!outcome.empty()) set_outcome(call, outcome);
  spdlog::debug("LLM reply for program #{} gave no child ({}): {}", ask.parent, reason, feedback);
  auto trip = roster->judged(ask.model, false, reason, now_s());
  if (trip) {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "LLM %s paused for %.0f s: its last %d replies gave no child (mostly: %s)",
                  trip->model.c_str(), trip->pause_s, trip->window, trip->main_reason.c_str());
    spdlog::warn("{}", buf);
    last_note = buf;  // the progress line shows it; note() would log it a second time
    (void)archive.add_event("llm_paused", {{"model", trip->model},
                                           {"reason", trip->main_reason},
                                           {"window", trip->window},
                                           {"pause_s", trip->pause_s}});
  }
  bool paused = roster->paused_until(ask.model) > now_s();  // its breaker holds it: no retry
  if (retry && !paused && ask.request.attempt == 1 && !stopping && may_request()) {
    auto text = templates->build_retry(feedback, cause, ask.format);
    if (text.ok()) {
      LlmAsk again = ask;
      again.request.attempt = 2;
      again.request.parent = again.parent;
      again.request.messages.push_back({"assistant", with_limit(reply_text)});
      again.request.messages.push_back({"user", *text});
      again.label = "retry " + ask.label;
      send(std::move(again));
      return;
    }
    spdlog::error("retry prompt: {}", text.status().message());
  }
  ++summary.llm_edit_failures;
  if (parent_rest.failed(ask.rest_parent, now_s())) {
    spdlog::info("program #{} rests: its last {} LLM asks gave no child", ask.rest_parent,
                 config.llm.parent_max_failures);
  }
  (void)archive.add_event("edit_rejected", {{"parent", ask.parent},
                                            {"reason", reason},
                                            {"message", feedback.substr(0, 2000)},
                                            {"llm_call", call.value_or(0)}});
}

LlmProgress Evolution::Impl::llm_progress() {
  LlmProgress p;
  p.requests = requests_sent;
  p.max_requests = max_requests;
  p.stopped = llm_stopped;
  double now = now_s();
  for (int i = 0; i < roster->size(); ++i) {
    const ModelStats& s = roster->stats(i);
    LlmProgress::Model m;
    m.name = roster->model(i).name;
    m.requests = s.requests;
    m.children = s.children;
    m.rejected = s.failures;
    m.accept_rate = s.accept_rate();
    double until = roster->paused_until(i);
    m.paused_for_s = until > now ? until - now : 0;
    p.children += s.children;
    p.rejected += s.failures;
    for (const auto& [reason, n] : s.rejections) p.rejections[reason] += n;
    p.price_unknown |= !roster->model(i).price_known;
    p.models.push_back(std::move(m));
  }
  return p;
}

}  // namespace kevo
