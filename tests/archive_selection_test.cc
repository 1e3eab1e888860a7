// Selection and islands: the same seed gives the same parents and inspirations, also across a
// resume; selection modes follow the configured ratios; ring migration copies elites.
#include <gtest/gtest.h>

#include <set>

#include "archive/archive.h"
#include "archive/rng.h"
#include "tests/archive_fixtures.h"
#include "tests/pg_support.h"
#include "tests/test_support.h"

namespace kevo {
namespace {
using testing::eval_json;
using testing::kernel_source;
using testing::ArchiveBackendTest;
using testing::Backend;

std::vector<Elite> all_elites(Archive& ar, int island) {
  auto e = ar.elites(island);
  EXPECT_TRUE(e.ok()) << e.status().to_string();
  return e.ok() ? *e : std::vector<Elite>{};
}

std::string describe(const Selection& s) {
  std::string out = std::to_string(s.island) + ":" + s.mode + ":" + std::to_string(s.parent) + ":";
  for (ProgramId i : s.inspirations) out += std::to_string(i) + ",";
  return out;
}

// One evolution step: select, make a child whose metrics depend only on the step number,
// record it. Returns the selection.
Selection step(Archive& ar, int i) {
  auto s = ar.select();
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  Rng metrics(1000 + i);  // the "evaluation": a function of the step alone
  auto b = ar.begin_evaluation({kernel_source(10000 + i), {}, s->parent, s->island, "tuner", std::nullopt});
  EXPECT_TRUE(b.ok() && !b->duplicate);
  double err = 0.001 * static_cast<double>(1 + metrics.below(120));
  double idx = static_cast<double>(metrics.below(40));
  EXPECT_TRUE(ar.record_result(b->id, eval_json(metrics.below(5) ? "ok" : "compile_error",
                                               0.5 + 5 * metrics.uniform(), err, idx))
                  .ok());
  return *s;
}

void seed_archive(Archive& ar) {
  for (int i = 0; i < ar.config().islands; ++i) {
    auto b = ar.begin_evaluation({kernel_source(i), {}, std::nullopt, i, "seed", std::nullopt});
    ASSERT_TRUE(ar.record_result(b->id, eval_json("ok", 1.0 + i * 0.1, 0.01, 4)).ok());
  }
}

ArchiveConfig config() {
  ArchiveConfig c = testing::test_config(3);
  c.migration_interval = 17;
  c.migration_count = 2;
  return c;
}

std::vector<std::string> run_steps(Archive& ar, int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(describe(step(ar, i)));
  return out;
}

class ArchiveSelection : public ArchiveBackendTest {};
INSTANTIATE_TEST_SUITE_P(Backends, ArchiveSelection,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         testing::backend_name);

TEST_P(ArchiveSelection, ResumeContinuesTheSameSequenceAsAnUninterruptedRun) {
  std::vector<std::string> straight, resumed;
  {
    auto ar = std::move(Archive::create(location("a"), testing::test_run(11), config())).value();
    seed_archive(*ar);
    straight = run_steps(*ar, 0, 150);
  }
  {
    auto ar = std::move(Archive::create(location("b"), testing::test_run(11), config())).value();
    seed_archive(*ar);
    resumed = run_steps(*ar, 0, 60);
  }
  for (int part : {0, 1}) {  // two resumes, from the file alone
    auto ar = Archive::open(location("b"));
    ASSERT_TRUE(ar.ok()) << ar.status().to_string();
    auto more = run_steps(**ar, part == 0 ? 60 : 100, part == 0 ? 100 : 150);
    resumed.insert(resumed.end(), more.begin(), more.end());
  }
  ASSERT_EQ(straight.size(), 150u);
  EXPECT_EQ(straight, resumed);
  // Every mode appears in 150 steps (0.6 / 0.3 / 0.1), so the sequence really exercised them.
  std::set<std::string> modes;
  for (const auto& s : straight) modes.insert(s.substr(2, s.find(':', 2) - 2));
  EXPECT_EQ(modes, (std::set<std::string>{"exploit", "explore", "global"}));

  // Another seed gives another sequence.
  auto other = std::move(Archive::create(location("c"), testing::test_run(12), config())).value();
  seed_archive(*other);
  EXPECT_NE(run_steps(*other, 0, 150), straight);
}

// The two engines order cells and break ties alike, so one seed draws the same parents on both:
// a run moved from a laptop's SQLite to a cluster's PostgreSQL explores the same way.
TEST(ArchiveSelectionEngines, OneSeedGivesTheSameSequenceOnSqliteAndPostgres) {
  KEVO_REQUIRE_POSTGRES();
  testing::TempDir dir;
  testing::ScratchDatabase pg;
  std::vector<std::vector<std::string>> runs;
  for (const std::string& where : {dir.file("a/kevo.db"), pg.url()}) {
    auto ar = Archive::create(where, testing::test_run(11), config());
    ASSERT_TRUE(ar.ok()) << ar.status().to_string();
    seed_archive(**ar);
    runs.push_back(run_steps(**ar, 0, 120));
  }
  EXPECT_EQ(runs[0], runs[1]);
}

TEST_P(ArchiveSelection, NothingToSelectFromIsNotFoundAndConsumesNoRandomness) {
  auto a = std::move(Archive::create(location("a"), testing::test_run(5), config())).value();
  auto b = std::move(Archive::create(location("b"), testing::test_run(5), config())).value();
  EXPECT_EQ(a->select().status().code(), StatusCode::kNotFound);
  for (Archive* ar : {a.get(), b.get()}) {
    auto failed = ar->begin_evaluation({kernel_source(99), {}, std::nullopt, 0, "seed", std::nullopt});
    ASSERT_TRUE(ar->record_result(failed->id, eval_json("crash", 0, 0, 0)).ok());
  }
  EXPECT_EQ(a->select().status().code(), StatusCode::kNotFound);  // failures do not compete
  seed_archive(*a);
  seed_archive(*b);
  EXPECT_EQ(describe(*a->select()), describe(*b->select()));
}

TEST_P(ArchiveSelection, ModesFollowTheRatiosAndInspirationsExcludeTheParent) {
  ArchiveConfig c = testing::test_config(1);
  c.exploit_ratio = 1.0;
  c.explore_ratio = 0.0;
  c.inspirations = 4;
  auto ar = std::move(Archive::create(location("a"), testing::test_run(), c)).value();
  // Eight elites in eight cells, fitness 1..8.
  const double index_bytes[8] = {0, 2, 4, 8, 16, 32, 64, 128};  // one bin each
  for (int i = 0; i < 8; ++i) {
    auto b = ar->begin_evaluation({kernel_source(i), {}, std::nullopt, 0, "seed", std::nullopt});
    ASSERT_TRUE(ar->record_result(b->id, eval_json("ok", 1.0 + i, 0.004, index_bytes[i])).ok());
  }
  for (int i = 0; i < 20; ++i) {
    auto s = ar->select();
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->mode, "exploit");
    EXPECT_EQ(s->parent, 8);  // the island's best
    ASSERT_EQ(s->inspirations.size(), 4u);
    EXPECT_EQ(s->inspirations[0], 7);  // then its best other elites
    EXPECT_EQ(s->inspirations[1], 6);
    std::set<ProgramId> distinct(s->inspirations.begin(), s->inspirations.end());
    EXPECT_EQ(distinct.size(), 4u);
    EXPECT_FALSE(distinct.count(s->parent));
  }
  ar.reset();
  c.exploit_ratio = 0.0;
  c.explore_ratio = 1.0;
  ar = std::move(Archive::create(location("b"), testing::test_run(), c)).value();
  auto b = ar->begin_evaluation({kernel_source(0), {}, std::nullopt, 0, "seed", std::nullopt});
  ASSERT_TRUE(ar->record_result(b->id, eval_json("ok", 1.0, 0.004, 0)).ok());
  auto s = ar->select();
  EXPECT_EQ(s->mode, "explore");
  EXPECT_TRUE(s->inspirations.empty());  // nothing else to show
  EXPECT_EQ(ar->select(3).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(ArchiveSelection, RingMigrationCopiesTopElitesToTheNextIsland) {
  ArchiveConfig c = testing::test_config(3);
  c.migration_interval = 4;
  c.migration_count = 1;
  auto ar = std::move(Archive::create(location("a"), testing::test_run(), c)).value();
  auto put = [&](int i, int island, double f, double err) {
    auto b = ar->begin_evaluation({kernel_source(i), {}, std::nullopt, island, "seed", std::nullopt});
    auto o = ar->record_result(b->id, eval_json("ok", f, err, 4));
    EXPECT_TRUE(o.ok());
    return std::make_pair(b->id, o->migrated);
  };
  auto [strong, m1] = put(1, 0, 5.0, 0.01);  // island 0's best, cell 1,2
  auto [weak, m2] = put(2, 0, 2.0, 0.004);   // island 0, cell 0,2
  auto [holder, m3] = put(3, 1, 9.0, 0.004); // island 1 already holds cell 0,2... with 9.0
  EXPECT_FALSE(m1 || m2 || m3);
  EXPECT_TRUE(ar->elites(2)->empty());
  auto [last, m4] = put(4, 2, 1.0, 0.05);  // the 4th evaluation: migration
  EXPECT_TRUE(m4);
  // Island 0 -> 1: its best (strong) lands in island 1's empty cell 1,2, same program id.
  bool found = false;
  for (const Elite& e : all_elites(*ar, 1)) {
    if (e.cell == "1,2") {
      EXPECT_EQ(e.program, strong);
      found = true;
    }
  }
  EXPECT_TRUE(found);
  // Island 1 -> 2: holder (9.0) moves on; island 2 -> 0: last (1.0, cell 3,2) fills island 0.
  std::set<ProgramId> on2, on0;
  for (const Elite& e : all_elites(*ar, 2)) on2.insert(e.program);
  for (const Elite& e : all_elites(*ar, 0)) on0.insert(e.program);
  EXPECT_TRUE(on2.count(holder));
  EXPECT_TRUE(on0.count(last));
  EXPECT_FALSE(on0.count(holder));  // one step per migration, not around the whole ring
  EXPECT_EQ(ar->program(strong)->island, 0);  // the row keeps its birth island

  // A migrant never displaces a better elite: island 1's cell 0,2 keeps holder.
  auto [weaker, m5] = put(5, 0, 8.0, 0.004);  // island 0's cell 0,2 now 8.0 (< 9.0)
  (void)weaker;
  for (int i = 6; i < 9; ++i) put(i, 2, 0.5, 0.2);
  for (const Elite& e : all_elites(*ar, 1)) {
    if (e.cell == "0,2") {
      EXPECT_EQ(e.program, holder);
    }
  }
  auto reader = ArchiveReader::open(location("a"));
  auto events = (*reader)->events("migration", 10);
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].message["evaluations"], 4);
  EXPECT_EQ((*events)[0].message["moves"][0]["programs"][0], strong);
}

// GPU models kept apart (island_groups 2 over 4 islands): parents, migration and the global best
// stay in their group, so no elite of a group was measured on the other group's GPUs.
TEST_P(ArchiveSelection, IslandGroupsNeverMixParentsOrElites) {
  ArchiveConfig c = testing::test_config(4);
  c.island_groups = 2;
  c.migration_interval = 5;
  c.migration_count = 2;
  c.exploit_ratio = 0.3;
  c.explore_ratio = 0.3;  // 0.4 global
  auto ar = std::move(Archive::create(location(), testing::test_run(9), c)).value();
  seed_archive(*ar);
  std::set<std::string> modes;
  for (int i = 0; i < 120; ++i) {
    Selection s = step(*ar, i);
    modes.insert(s.mode);
    EXPECT_EQ(ar->program(s.parent)->island % 2, s.island % 2) << describe(s);
  }
  EXPECT_TRUE(modes.count("global"));
  int migrated_elites = 0;
  for (int island = 0; island < 4; ++island) {
    for (const Elite& e : all_elites(*ar, island)) {
      int born = ar->program(e.program)->island;
      EXPECT_EQ(born % 2, island % 2) << "#" << e.program << " on island " << island;
      migrated_elites += born != island;
    }
  }
  EXPECT_GT(migrated_elites, 0);  // migration ran, inside the groups
  ArchiveConfig bad = testing::test_config(3);
  bad.island_groups = 2;
  EXPECT_EQ(Archive::create(location("bad"), testing::test_run(), bad).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kevo
