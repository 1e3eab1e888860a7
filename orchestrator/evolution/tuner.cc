#include "orchestrator/evolution/tuner.h"

#include <algorithm>
#include <iterator>

namespace kevo {
namespace {

int64_t value_of(const ParamSpec& s, const ParamValues& v) {
  auto it = v.find(s.name);
  return it == v.end() ? s.value : it->second;
}

ParamValues resolve(const std::vector<ParamSpec>& specs, const ParamValues& v) {
  ParamValues out;
  for (const auto& s : specs) out[s.name] = value_of(s, v);
  return out;
}

std::vector<int64_t> sorted_choices(const ParamSpec& s) {
  std::vector<int64_t> c = s.choices;
  std::sort(c.begin(), c.end());
  c.erase(std::unique(c.begin(), c.end()), c.end());
  return c;
}

bool has_other_choice(const ParamSpec& s, int64_t current) {
  return std::any_of(s.choices.begin(), s.choices.end(), [&](int64_t c) { return c != current; });
}

}  // namespace

bool has_tunable_params(const std::vector<ParamSpec>& specs) {
  return std::any_of(specs.begin(), specs.end(),
                     [](const ParamSpec& s) { return has_other_choice(s, s.value); });
}

ParamTuner::ParamTuner(uint64_t seed, TunerOptions options) : options_(options), rng_(seed) {}

uint64_t ParamTuner::below(uint64_t n) {
  assert(n > 0);
  // Rejection sampling: std::uniform_int_distribution differs between standard libraries, and a
  // run must replay the same on any of them.
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do {
    x = rng_();
  } while (x >= limit);
  return x % n;
}

bool ParamTuner::chance(double p) {
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53 < p;
}

Result<ParamValues> ParamTuner::mutate(const std::vector<ParamSpec>& specs,
                                       const ParamValues& parent) {
  ParamValues child = resolve(specs, parent);
  std::vector<const ParamSpec*> tunable;
  for (const auto& s : specs) {
    if (has_other_choice(s, child[s.name])) tunable.push_back(&s);
  }
  if (tunable.empty()) {
    return Status::NotFound("no kevo:param has a choice other than its current value");
  }
  size_t k = (tunable.size() >= 2 && chance(options_.two_params_share)) ? 2 : 1;
  for (size_t i = 0; i < k; ++i) {  // partial Fisher-Yates: k distinct params
    std::swap(tunable[i], tunable[i + below(tunable.size() - i)]);
    const ParamSpec& s = *tunable[i];
    int64_t cur = child[s.name];
    std::vector<int64_t> choices = sorted_choices(s);
    std::vector<int64_t> options;
    if (chance(options_.neighbour_share)) {
      // Adjacent by value, so a parent value outside the choices still has neighbours.
      auto above = std::upper_bound(choices.begin(), choices.end(), cur);
      auto below_it = std::lower_bound(choices.begin(), choices.end(), cur);
      if (below_it != choices.begin()) options.push_back(*(below_it - 1));
      if (above != choices.end()) options.push_back(*above);
    } else {
      for (int64_t c : choices) {
        if (c != cur) options.push_back(c);
      }
    }
    child[s.name] = options[below(options.size())];
  }
  return child;
}

std::vector<ParamValues> ParamTuner::neighbourhood(const std::vector<ParamSpec>& specs,
                                                   const ParamValues& parent, size_t limit) {
  const ParamValues base = resolve(specs, parent);
  // Per param, the values it may move to.
  std::vector<std::pair<std::string, std::vector<int64_t>>> moves;
  for (const auto& s : specs) {
    std::vector<int64_t> others;
    for (int64_t c : sorted_choices(s)) {
      if (c != base.at(s.name)) others.push_back(c);
    }
    if (!others.empty()) moves.emplace_back(s.name, std::move(others));
  }
  auto shuffle = [this](std::vector<ParamValues>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  };
  std::vector<ParamValues> ones, twos;
  for (const auto& [name, values] : moves) {
    for (int64_t v : values) {
      if (ones.size() >= limit) break;
      ParamValues child = base;
      child[name] = v;
      ones.push_back(std::move(child));
    }
  }
  for (size_t i = 0; i < moves.size() && ones.size() + twos.size() < limit; ++i) {
    for (size_t j = i + 1; j < moves.size(); ++j) {
      for (int64_t vi : moves[i].second) {
        for (int64_t vj : moves[j].second) {
          if (ones.size() + twos.size() >= limit) break;
          ParamValues child = base;
          child[moves[i].first] = vi;
          child[moves[j].first] = vj;
          twos.push_back(std::move(child));
        }
      }
    }
  }
  shuffle(ones);
  shuffle(twos);
  ones.insert(ones.end(), std::make_move_iterator(twos.begin()),
              std::make_move_iterator(twos.end()));
  return ones;
}

Result<ParamValues> ParamTuner::crossover(const std::vector<ParamSpec>& specs, const ParamValues& a,
                                          const ParamValues& b) {
  ParamValues pa = resolve(specs, a), pb = resolve(specs, b);
  std::vector<std::string> differ;
  for (const auto& s : specs) {
    if (pa[s.name] != pb[s.name]) differ.push_back(s.name);
  }
  if (differ.size() >= 2) {
    // One differing param forced from each parent keeps the child apart from both.
    size_t from_a = below(differ.size());
    size_t from_b = (from_a + 1 + below(differ.size() - 1)) % differ.size();
    ParamValues child = pa;
    for (size_t i = 0; i < differ.size(); ++i) {
      bool take_b = i == from_b || (i != from_a && chance(0.5));
      if (take_b) child[differ[i]] = pb[differ[i]];
    }
    return child;
  }
  // A bounded number of tries: with one param of two choices every mutation of a is b.
  for (int attempt = 0; attempt < 16; ++attempt) {
    KEVO_ASSIGN_OR_RETURN(ParamValues child, mutate(specs, pa));
    if (child != pb) return child;
  }
  return Status::NotFound("no params differ from both parents");
}

}  // namespace kevo
