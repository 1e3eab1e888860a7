// Making children with the built-in tuner: new kevo:param values for the same source (mutation,
// or crossover with an inspiration of the same source). The LLM's children: llm_asks.cc.
#include <algorithm>
#include <sstream>

#include "common/log.h"
#include "orchestrator/evolution/evolution_impl.h"
#include "orchestrator/evolution/tuner.h"

namespace kevo {

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

}  // namespace kevo
