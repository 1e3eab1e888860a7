// Making children: the built-in tuner (new kevo:param values for the same source) and the LLM
// (a prompt built from the parent, its inspirations and its failed tries; the reply applied as
// SEARCH/REPLACE blocks or a whole file, strictly, with one retry that shows the LLM its error).
#include <algorithm>
#include <sstream>

#include "common/log.h"
#include "orchestrator/evolution_impl.h"
#include "orchestrator/prompt.h"
#include "orchestrator/tuner.h"

namespace kevo {
namespace {

ProgramInfo program_info(const Program& p) {
  auto info = program_from_result_json(p.source, p.params, p.result);
  if (info.ok()) return *info;
  ProgramInfo fallback;
  fallback.source = p.source;
  fallback.params = p.params;
  return fallback;
}

}  // namespace

std::map<std::string, int64_t> Evolution::Impl::carry_params(
    const std::string& child_source, const std::map<std::string, int64_t>& parent_params) {
  std::map<std::string, int64_t> out;
  auto spec = parse_task_spec(child_source);
  if (!spec.ok()) return out;  // the compile step reports what is wrong with the child
  for (const ParamSpec& p : spec->params) {
    auto it = parent_params.find(p.name);
    if (it == parent_params.end()) continue;
    bool allowed = p.choices.empty() ||
                   std::find(p.choices.begin(), p.choices.end(), it->second) != p.choices.end();
    if (allowed && it->second != p.value) out[p.name] = it->second;
  }
  return out;
}

std::optional<NewProgram> Evolution::Impl::make_tuner_child(const Selection& s) {
  auto parent = archive.program(s.parent);
  if (!parent.ok()) return std::nullopt;
  auto spec = parse_task_spec(parent->source);
  if (!spec.ok() || spec->params.empty()) return std::nullopt;
  auto resolved = spec->resolve_params(parent->params);
  if (!resolved.ok()) return std::nullopt;

  // Crossover with an inspiration of the same source (same params to trade), else mutation.
  std::optional<std::map<std::string, int64_t>> params;
  for (ProgramId other : s.inspirations) {
    auto o = archive.program(other);
    if (!o.ok() || o->source != parent->source) continue;
    auto other_resolved = spec->resolve_params(o->params);
    if (!other_resolved.ok()) continue;
    if (std::uniform_real_distribution<double>(0, 1)(rng) < 0.5) {
      auto mixed = tuner.crossover(spec->params, *resolved, *other_resolved);
      if (mixed.ok()) params = std::move(*mixed);
    }
    break;
  }
  if (!params) {
    auto mutated = tuner.mutate(spec->params, *resolved);
    if (!mutated.ok()) return std::nullopt;  // nothing left to tune on this parent
    params = std::move(*mutated);
  }
  NewProgram child;
  child.source = parent->source;
  // Store only what differs from the file's defaults: the same program always has the same key.
  for (const ParamSpec& p : spec->params) {
    auto it = params->find(p.name);
    if (it != params->end() && it->second != p.value) child.params[p.name] = it->second;
  }
  child.parent = s.parent;
  child.island = s.island;
  child.origin = "tuner";
  return child;
}

bool Evolution::Impl::ask_llm(const Selection& s) {
  static const Result<PromptTemplates> templates = PromptTemplates::load_default();
  if (!templates.ok()) {
    spdlog::error("prompts: {}", templates.status().message());
    return false;
  }
  auto parent = archive.program(s.parent);
  if (!parent.ok()) return false;
  PromptContext ctx;
  ctx.task.max_mean_rel_err = config.evaluator.max_mean_rel_err;
  ctx.task.index_cap_bytes_per_token = config.evaluator.index_cap_bytes_per_token;
  ctx.task.suite = config.evaluator.suite;
  if (!hardware.empty()) {
    const GpuInfo& g = hardware.front();
    ctx.hardware = {g.name, g.arch(), g.sm_count, g.copy_gbps, g.l2_bytes, g.max_smem_per_block_optin};
  }
  ctx.parent = program_info(*parent);
  for (ProgramId id : s.inspirations) {
    auto p = archive.program(id);
    if (p.ok()) ctx.inspirations.push_back(program_info(*p));
  }
  auto kids = archive.children(s.parent, 8);
  if (kids.ok()) {
    for (const ProgramSummary& k : *kids) {
      if (k.status == "ok" || k.status == kPending) continue;
      auto full = archive.program(k.id);
      ctx.failed_tries.push_back({k.status, full.ok() ? full->message : ""});
    }
  }
  // Mostly diffs (cheap, focused); now and then a whole rewrite for larger moves.
  ctx.format = std::uniform_real_distribution<double>(0, 1)(rng) < 0.8 ? EditFormat::kDiff
                                                                       : EditFormat::kWholeFile;
  auto prompt = templates->build(ctx);
  if (!prompt.ok()) {
    spdlog::error("prompt for program #{}: {}", s.parent, prompt.status().message());
    return false;
  }
  LlmAsk ask;
  ask.parent = s.parent;
  ask.island = s.island;
  ask.parent_source = parent->source;
  ask.parent_params = parent->params;
  ask.request = {prompt->system, prompt->user, "template=" + prompt->template_name};
  send(std::move(ask));
  return true;
}

void Evolution::Impl::send(LlmAsk ask) {
  // A unique tag lets the recorder's row be found again for the child (call_ids).
  ask.request.tag = "ask=" + std::to_string(++next_ask) + " parent=" +
                    std::to_string(ask.parent) + " " + ask.request.tag;
  ++llm_waiting;
  llm_pool->submit(ask.request, [this, ask](Result<LlmReply> reply) mutable {
    std::lock_guard lock(mu);
    llm_answers.push_back({std::move(ask), std::move(reply)});
  });
}

std::optional<NewProgram> Evolution::Impl::child_from_answer(LlmAnswer& a) {
  if (!a.reply.ok()) {
    spdlog::warn("LLM request for program #{} failed: {}", a.ask.parent, a.reply.status().message());
    return std::nullopt;
  }
  std::optional<LlmCallId> call_id = call_ids ? call_ids(a.ask.request.tag) : std::nullopt;
  auto child = apply_edit_reply(a.ask.parent_source, a.reply->text);
  if (!child.ok()) {
    if (a.ask.attempt == 1 && !stopping) {
      // Strict edits: the failure goes back to the LLM once, in its own words.
      LlmAsk retry = a.ask;
      retry.attempt = 2;
      retry.request.user = a.ask.request.user +
                           "\n\n## Your previous reply could not be applied\n" +
                           child.status().message() +
                           "\nReply again, following the edit format exactly.\n";
      retry.request.tag = "retry";
      send(std::move(retry));
      return std::nullopt;
    }
    ++summary.llm_edit_failures;
    (void)archive.add_event("edit_rejected", {{"parent", a.ask.parent},
                                              {"message", child.status().message()},
                                              {"llm_call", call_id.value_or(0)}});
    return std::nullopt;
  }
  NewProgram p;
  p.source = *child;
  p.params = carry_params(p.source, a.ask.parent_params);
  p.parent = a.ask.parent;
  p.island = a.ask.island;
  p.origin = "llm";
  p.llm_call = call_id;
  return p;
}

}  // namespace kevo
