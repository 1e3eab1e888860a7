// The built-in tuner: new children by changing `kevo:param` values within their declared choices
// (evaluator/task.h ParamSpec). Mutation moves one or two params to a neighbouring choice (small
// steps find the local optimum of a tile size) or, less often, to any other choice (jumps out of
// it); crossover mixes the params of two elites. Without an LLM this is the whole mutator, so a
// run works offline.
//
// Never returns a child equal to its parent (or to both parents, for crossover) when another
// choice exists; NotFound when none does. Deterministic for a seed and a call sequence. Not
// thread-safe (one RNG): give each thread its own tuner.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/status.h"
#include "evaluator/task.h"

namespace kevo {

using ParamValues = std::map<std::string, int64_t>;

struct TunerOptions {
  double two_params_share = 0.35;  // mutations that change two params instead of one
  double neighbour_share = 0.7;    // changed params that move to an adjacent choice
};

class ParamTuner {
 public:
  explicit ParamTuner(uint64_t seed, TunerOptions options = {});

  // A child of `parent`: every param of `specs` (parent's value, else the spec's default), with
  // one or two tunable params changed. Names in `parent` that `specs` lacks are dropped.
  Result<ParamValues> mutate(const std::vector<ParamSpec>& specs, const ParamValues& parent);

  // A child mixing `a` and `b`, different from both: each param where they differ comes from
  // one or the other. When they differ in fewer than two params no such mix exists, and the
  // child is a mutation of `a` that also differs from `b`.
  Result<ParamValues> crossover(const std::vector<ParamSpec>& specs, const ParamValues& a,
                                const ParamValues& b);

  // Every child that mutate() could return for `parent` (one param moved to any other choice,
  // then two), each once, the one-param moves first, each group in an order shuffled by this
  // tuner's RNG; at most `limit`. When random draws keep landing on programs already evaluated,
  // the untried ones among these are what is left to try of this parent.
  std::vector<ParamValues> neighbourhood(const std::vector<ParamSpec>& specs,
                                         const ParamValues& parent, size_t limit = 4096);

 private:
  uint64_t below(uint64_t n);  // uniform in [0, n), the same on every platform
  bool chance(double p);

  TunerOptions options_;
  std::mt19937_64 rng_;
};

// True when some param has a choice other than its default (the tuner has something to do).
bool has_tunable_params(const std::vector<ParamSpec>& specs);

}  // namespace kevo
