// The built-in tuner on hand-built ParamSpecs: mutation and crossover stay in the declared
// choices, never repeat a parent, and replay from the seed.
#include <gtest/gtest.h>

#include <set>

#include "orchestrator/evolution/tuner.h"

namespace kevo {
namespace {

ParamSpec param(const std::string& name, int64_t value, std::vector<int64_t> choices) {
  ParamSpec s;
  s.name = name;
  s.value = value;
  s.choices = std::move(choices);
  return s;
}

std::vector<ParamSpec> specs() {
  return {param("TILE", 2, {8, 1, 4, 2}),  // unsorted on purpose: neighbours are by value
          param("BITS", 32, {16, 32}),
          param("WARPS", 4, {2, 4, 8, 16}),
          param("FIXED", 7, {}),
          param("ONLY", 3, {3})};
}

int changed(const ParamValues& a, const ParamValues& b) {
  int n = 0;
  for (const auto& [k, v] : a) n += b.at(k) != v;
  return n;
}

bool in_choices(const std::vector<ParamSpec>& s, const ParamValues& v) {
  for (const auto& p : s) {
    int64_t x = v.at(p.name);
    if (p.choices.empty() ? x != p.value
                          : std::find(p.choices.begin(), p.choices.end(), x) == p.choices.end()) {
      return false;
    }
  }
  return v.size() == s.size();
}

TEST(Tuner, MutationChangesOneOrTwoParamsWithinChoicesAndNeverRepeatsTheParent) {
  ParamTuner t(42);
  ParamValues parent = {{"TILE", 2}, {"BITS", 32}, {"WARPS", 4}, {"FIXED", 7}, {"ONLY", 3}};
  std::set<int> counts;
  std::set<std::string> touched;
  for (int i = 0; i < 2000; ++i) {
    auto child = t.mutate(specs(), parent);
    ASSERT_TRUE(child.ok()) << child.status().to_string();
    ASSERT_NE(*child, parent);
    ASSERT_TRUE(in_choices(specs(), *child));
    int n = changed(parent, *child);
    ASSERT_TRUE(n == 1 || n == 2) << n;
    counts.insert(n);
    EXPECT_EQ(child->at("FIXED"), 7);
    EXPECT_EQ(child->at("ONLY"), 3);
    for (const auto& [k, v] : *child) {
      if (parent.at(k) != v) touched.insert(k);
    }
  }
  EXPECT_EQ(counts, (std::set<int>{1, 2}));
  EXPECT_EQ(touched, (std::set<std::string>{"TILE", "BITS", "WARPS"}));
}

TEST(Tuner, NeighbourStepsAndRandomJumps) {
  std::vector<ParamSpec> one = {param("TILE", 2, {8, 1, 4, 2})};
  ParamTuner near(1, {0.0, 1.0});
  std::set<int64_t> seen;
  for (int i = 0; i < 500; ++i) seen.insert(near.mutate(one, {{"TILE", 2}})->at("TILE"));
  EXPECT_EQ(seen, (std::set<int64_t>{1, 4}));  // adjacent by value only

  ParamTuner far(1, {0.0, 0.0});
  seen.clear();
  for (int i = 0; i < 500; ++i) seen.insert(far.mutate(one, {{"TILE", 2}})->at("TILE"));
  EXPECT_EQ(seen, (std::set<int64_t>{1, 4, 8}));

  seen.clear();  // a parent value outside the choices still has neighbours
  for (int i = 0; i < 500; ++i) seen.insert(near.mutate(one, {{"TILE", 3}})->at("TILE"));
  EXPECT_EQ(seen, (std::set<int64_t>{2, 4}));
  seen.clear();
  for (int i = 0; i < 100; ++i) seen.insert(near.mutate(one, {{"TILE", 8}})->at("TILE"));
  EXPECT_EQ(seen, (std::set<int64_t>{4}));  // the top choice has one neighbour
}

TEST(Tuner, SameSeedSameChildren) {
  auto run = [](uint64_t seed) {
    ParamTuner t(seed);
    std::vector<ParamValues> out;
    ParamValues p;
    for (int i = 0; i < 50; ++i) {
      p = *t.mutate(specs(), p);
      out.push_back(p);
      out.push_back(*t.crossover(specs(), p, {{"TILE", 8}, {"BITS", 16}, {"WARPS", 16}}));
    }
    return out;
  };
  EXPECT_EQ(run(9), run(9));
  EXPECT_NE(run(9), run(10));
}

TEST(Tuner, MissingParamsTakeDefaultsAndUnknownNamesAreDropped) {
  ParamTuner t(3);
  auto child = t.mutate(specs(), {{"STALE", 99}});
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->count("STALE"), 0u);
  EXPECT_TRUE(in_choices(specs(), *child));
  ParamValues defaults = {{"TILE", 2}, {"BITS", 32}, {"WARPS", 4}, {"FIXED", 7}, {"ONLY", 3}};
  EXPECT_NE(*child, defaults);
}

TEST(Tuner, OneParamOfTwoChoicesAlwaysFlips) {
  ParamTuner t(5);
  std::vector<ParamSpec> s = {param("BITS", 32, {16, 32}), param("FIXED", 1, {})};
  for (int i = 0; i < 100; ++i) EXPECT_EQ(t.mutate(s, {{"BITS", 32}})->at("BITS"), 16);
}

TEST(Tuner, NothingToTuneIsNotFound) {
  ParamTuner t(5);
  std::vector<ParamSpec> s = {param("FIXED", 1, {}), param("ONLY", 3, {3})};
  EXPECT_FALSE(has_tunable_params(s));
  auto child = t.mutate(s, {});
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(t.mutate({}, {}).ok());
  EXPECT_TRUE(has_tunable_params(specs()));
}

TEST(Tuner, CrossoverMixesParentsAndDiffersFromBoth) {
  ParamTuner t(11);
  ParamValues a = {{"TILE", 1}, {"BITS", 16}, {"WARPS", 2}, {"FIXED", 7}, {"ONLY", 3}};
  ParamValues b = {{"TILE", 8}, {"BITS", 32}, {"WARPS", 16}, {"FIXED", 7}, {"ONLY", 3}};
  std::set<ParamValues> seen;
  for (int i = 0; i < 1000; ++i) {
    auto child = t.crossover(specs(), a, b);
    ASSERT_TRUE(child.ok());
    ASSERT_NE(*child, a);
    ASSERT_NE(*child, b);
    for (const auto& [k, v] : *child) ASSERT_TRUE(v == a.at(k) || v == b.at(k)) << k;
    seen.insert(*child);
  }
  EXPECT_EQ(seen.size(), 6u);  // 2^3 mixes minus the two parents
}

TEST(Tuner, CrossoverOfNearTwinsFallsBackToMutation) {
  ParamTuner t(13);
  ParamValues a = {{"TILE", 1}, {"BITS", 16}, {"WARPS", 2}};
  for (int i = 0; i < 200; ++i) {
    ParamValues ra = {{"TILE", 1}, {"BITS", 16}, {"WARPS", 2}, {"FIXED", 7}, {"ONLY", 3}};
    auto same = t.crossover(specs(), a, a);  // identical parents: a mutation of them
    ASSERT_TRUE(same.ok());
    EXPECT_NE(*same, ra);
    EXPECT_TRUE(in_choices(specs(), *same));

    ParamValues b = a;
    b["BITS"] = 32;  // differ in one param: no mix is new
    auto child = t.crossover(specs(), a, b);
    ASSERT_TRUE(child.ok());
    ParamValues rb = ra;
    rb["BITS"] = 32;
    EXPECT_NE(*child, ra);
    EXPECT_NE(*child, rb);
  }
}

TEST(Tuner, CrossoverWithNoThirdOptionIsNotFound) {
  ParamTuner t(17);
  std::vector<ParamSpec> s = {param("BITS", 32, {16, 32})};
  auto child = t.crossover(s, {{"BITS", 16}}, {{"BITS", 32}});
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace kevo

namespace kevo {
namespace {

// TILE 3 other choices, BITS 1, WARPS 3: 7 one-param moves and 3*1 + 3*3 + 1*3 = 15 two-param.
TEST(Tuner, NeighbourhoodHoldsEveryOneAndTwoParamMoveOnceOneParamMovesFirst) {
  ParamTuner t(11);
  const ParamValues parent = {{"TILE", 2}, {"BITS", 32}, {"WARPS", 4}};
  auto n = t.neighbourhood(specs(), parent);
  ASSERT_EQ(n.size(), 22u);
  std::set<ParamValues> distinct(n.begin(), n.end());
  EXPECT_EQ(distinct.size(), n.size());
  const ParamValues full = {{"TILE", 2}, {"BITS", 32}, {"WARPS", 4}, {"FIXED", 7}, {"ONLY", 3}};
  for (size_t i = 0; i < n.size(); ++i) {
    EXPECT_TRUE(in_choices(specs(), n[i]));
    EXPECT_EQ(changed(full, n[i]), i < 7 ? 1 : 2) << "position " << i;
  }
  // Every child mutate() returns is in the neighbourhood.
  for (int i = 0; i < 200; ++i) {
    auto m = t.mutate(specs(), parent);
    ASSERT_TRUE(m.ok());
    EXPECT_TRUE(distinct.count(*m));
  }
  // Shuffled by the tuner's RNG: the same seed gives the same order, another seed another.
  ParamTuner a(5), b(5), c(6);
  EXPECT_EQ(a.neighbourhood(specs(), parent), b.neighbourhood(specs(), parent));
  EXPECT_NE(a.neighbourhood(specs(), parent), c.neighbourhood(specs(), parent));
  EXPECT_EQ(t.neighbourhood(specs(), parent, 5).size(), 5u);
  EXPECT_TRUE(t.neighbourhood({param("ONLY", 3, {3})}, {}).empty());
}

}  // namespace
}  // namespace kevo
