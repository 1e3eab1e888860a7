// The archive's store: program identity and duplicates, the elite rule, results, pending work,
// LLM accounting, counters, schema migrations and the single-writer lock. Real SQLite files, and
// the same suite on real PostgreSQL databases (tests/pg_support.h).
#include <gtest/gtest.h>

#include <map>

#include "archive/archive.h"
#include "archive/rng.h"
#include "archive/schema.h"
#include "archive/sql.h"
#include "tests/archive_fixtures.h"
#include "tests/pg_support.h"
#include "tests/test_support.h"

namespace kevo {
namespace {
using testing::eval_json;
using testing::kernel_source;
using testing::ArchiveBackendTest;
using testing::Backend;
using testing::TempDir;

std::vector<Elite> all_elites(Archive& ar, int island) {
  auto e = ar.elites(island);
  EXPECT_TRUE(e.ok()) << e.status().to_string();
  return e.ok() ? *e : std::vector<Elite>{};
}

std::unique_ptr<Archive> make(const std::string& where,
                              const ArchiveConfig& c = testing::test_config()) {
  auto ar = Archive::create(where, testing::test_run(), c);
  EXPECT_TRUE(ar.ok()) << ar.status().to_string();
  return std::move(ar).value();
}

ProgramId add(Archive& ar, const std::string& src, int island = 0,
              std::optional<ProgramId> parent = std::nullopt) {
  auto b = ar.begin_evaluation({src, {{"BITS", 32}}, parent, island, "llm", std::nullopt});
  EXPECT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_FALSE(b->duplicate);
  return b->id;
}

class ArchiveStore : public ArchiveBackendTest {};
INSTANTIATE_TEST_SUITE_P(Backends, ArchiveStore,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         testing::backend_name);

TEST(ArchiveIdentity, NormalizesWhitespaceButKeepsComments) {
  EXPECT_EQ(normalize_source("a  \r\nb\t\rc\n\n\n\n"), "a\nb\nc\n");
  EXPECT_EQ(normalize_source("x"), "x\n");
  EXPECT_EQ(normalize_source("\n\n"), "");
  EXPECT_EQ(normalize_source("  lead\n"), "  lead\n");  // leading space is code layout
  std::map<std::string, int64_t> p = {{"A", 1}, {"B", 2}};
  EXPECT_EQ(program_hash("int x;  \r\n\n\n", p), program_hash("int x;\n", p));
  EXPECT_NE(program_hash("int x; // a\n", p), program_hash("int x; // b\n", p));
  EXPECT_NE(program_hash("int x;\n", p), program_hash("int x;\n", {{"A", 1}, {"B", 3}}));
  EXPECT_NE(program_hash("int x;\n", {{"AB", 1}}), program_hash("int x;\n", {{"A", 1}}));
  EXPECT_EQ(program_hash("s", {}).size(), 64u);
}

TEST(ArchiveGrid, BinsAreUpperEdgesWithAFinalOverflowBin) {
  FeatureAxis err{"mean_rel_err", {0.005, 0.01, 0.02}};
  EXPECT_EQ(bin_index(err, 0.0), 0);
  EXPECT_EQ(bin_index(err, 0.005), 0);
  EXPECT_EQ(bin_index(err, 0.006), 1);
  EXPECT_EQ(bin_index(err, 0.02), 2);
  EXPECT_EQ(bin_index(err, 0.5), 3);
  EXPECT_EQ(bin_label(err, 1), "<=0.01");
  EXPECT_EQ(bin_label(err, 3), ">0.02");
  EXPECT_EQ(cell_bins("2,13"), (std::vector<int>{2, 13}));
  EXPECT_TRUE(cell_bins("2,x").empty());
  EXPECT_EQ(cell_label(testing::test_config(), "2,2"),
            "mean_rel_err<=0.02 index_bytes_per_token<=4");
}

TEST_P(ArchiveStore, DuplicatesByContentHashAreFoundAndNotEvaluatedAgain) {
  auto ar = make(location());
  ProgramId id = add(*ar, kernel_source(1));
  // Same program with other line endings and trailing blanks: the same id, nothing inserted.
  std::string variant = kernel_source(1);
  for (size_t i = 0; (i = variant.find('\n', i)) != std::string::npos; i += 3) {
    variant.replace(i, 1, " \r\n");
  }
  auto dup = ar->begin_evaluation({variant + "\n\n", {{"BITS", 32}}, std::nullopt, 1, "tuner", std::nullopt});
  ASSERT_TRUE(dup.ok());
  EXPECT_TRUE(dup->duplicate);
  EXPECT_EQ(dup->id, id);
  EXPECT_EQ(dup->status, kPending);  // still in flight
  ASSERT_TRUE(ar->record_result(id, eval_json("ok", 2.0, 0.01, 4)).ok());
  dup = ar->begin_evaluation({kernel_source(1), {{"BITS", 32}}, std::nullopt, 0, "llm", std::nullopt});
  EXPECT_TRUE(dup->duplicate);
  EXPECT_EQ(dup->status, "ok");
  auto found = ar->lookup_by_hash(program_hash(variant, {{"BITS", 32}}));
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->value_or(-1), id);
  EXPECT_FALSE(ar->lookup_by_hash(program_hash(kernel_source(2), {}))->has_value());
  // Other params make another program.
  auto other = ar->begin_evaluation({kernel_source(1), {{"BITS", 64}}, std::nullopt, 0, "tuner", std::nullopt});
  EXPECT_FALSE(other->duplicate);
  // A program is evaluated once.
  auto again = ar->record_result(id, eval_json("ok", 9.0, 0.01, 4));
  EXPECT_EQ(again.status().code(), StatusCode::kInvalidArgument) << again.status().to_string();
  EXPECT_EQ(ar->totals()->evaluations, 1);
}

TEST_P(ArchiveStore, EliteIsNeverReplacedByAWorseOrEqualProgram) {
  auto ar = make(location());
  auto elite_of = [&](const std::string& cell) -> std::optional<Elite> {
    for (const Elite& e : all_elites(*ar, 0)) {
      if (e.cell == cell) return e;
    }
    return std::nullopt;
  };
  ProgramId a = add(*ar, kernel_source(1));
  auto oa = ar->record_result(a, eval_json("ok", 2.0, 0.01, 4));
  ASSERT_TRUE(oa.ok()) << oa.status().to_string();
  EXPECT_TRUE(oa->new_elite && oa->new_island_best && oa->new_global_best);
  EXPECT_EQ(oa->cell, "1,2");
  ProgramId worse = add(*ar, kernel_source(2));
  EXPECT_FALSE(ar->record_result(worse, eval_json("ok", 1.5, 0.009, 3))->new_elite);
  ProgramId tie = add(*ar, kernel_source(3));
  EXPECT_FALSE(ar->record_result(tie, eval_json("ok", 2.0, 0.01, 4))->new_elite);
  // A failed program never competes, whatever its metrics say.
  ProgramId failed = add(*ar, kernel_source(4));
  auto of = ar->record_result(failed, eval_json("inaccurate", 50.0, 0.01, 4));
  EXPECT_FALSE(of->new_elite);
  EXPECT_FALSE(of->fitness.has_value());
  EXPECT_EQ(elite_of("1,2")->program, a);
  ProgramId better = add(*ar, kernel_source(5));
  EXPECT_TRUE(ar->record_result(better, eval_json("ok", 2.5, 0.01, 4))->new_elite);
  EXPECT_EQ(elite_of("1,2")->program, better);

  // Many random programs: every cell's elite is always the best ok program that landed there.
  Rng rng(3);
  std::map<std::string, double> best;
  for (const Elite& e : all_elites(*ar, 0)) best[e.cell] = e.fitness;
  for (int i = 0; i < 300; ++i) {
    ProgramId id = add(*ar, kernel_source(100 + i));
    bool ok = rng.below(4) != 0;
    double f = 0.5 + rng.uniform() * 4;
    double err = rng.below(2) ? 0.004 : 0.03;
    double idx = static_cast<double>(rng.below(3) * 8);
    auto o = ar->record_result(id, eval_json(ok ? "ok" : "crash", f, err, idx));
    ASSERT_TRUE(o.ok()) << o.status().to_string();
    if (ok) {
      auto it = best.find(o->cell);
      EXPECT_EQ(o->new_elite, it == best.end() || f > it->second);
      if (o->new_elite) best[o->cell] = f;
    } else {
      EXPECT_FALSE(o->new_elite);
    }
    for (const Elite& e : all_elites(*ar, 0)) EXPECT_EQ(e.fitness, best[e.cell]) << e.cell;
  }
}

TEST_P(ArchiveStore, StoresTheWholeResultAndLineage) {
  auto ar = make(location());
  ProgramId seed = ar->begin_evaluation({kernel_source(1), {}, std::nullopt, 1, "seed", std::nullopt})->id;
  ASSERT_TRUE(ar->record_result(seed, eval_json("ok", 1.0, 0.001, 0)).ok());
  LlmCall call;
  call.model = "m1";
  call.provider = "openai";
  call.prompt = "{\"user\":\"make it faster\"}";
  call.response = "<<<<<<< SEARCH";
  call.tokens_in = 1000;
  call.tokens_out = 200;
  call.cost_usd = 0.25;
  auto call_id = ar->record_llm_call(call);
  ASSERT_TRUE(call_id.ok());
  auto child = ar->begin_evaluation({kernel_source(2), {{"BITS", 16}}, seed, 1, "llm", *call_id});
  ASSERT_TRUE(ar->record_result(child->id, eval_json("compile_error", 0, 0, 0)).ok());
  auto p = ar->program(child->id);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->status, "compile_error");
  EXPECT_EQ(p->message, "line 3: something went wrong");
  EXPECT_EQ(p->generation, 1);
  EXPECT_EQ(p->parent.value_or(-1), seed);
  EXPECT_EQ(p->island, 1);
  EXPECT_EQ(p->llm_call.value_or(-1), *call_id);
  EXPECT_EQ(p->params.at("BITS"), 16);
  EXPECT_EQ(p->source, normalize_source(kernel_source(2)));
  EXPECT_EQ(p->compile_log, "kernel.cu(3): error: expected ';'");
  EXPECT_EQ(p->feedback, "score 3.1 us, attend 4.8 us");
  EXPECT_FALSE(p->result.contains("artifacts"));
  EXPECT_EQ(p->result["workloads"][0]["kernels"][1]["name"], "attend");
  EXPECT_TRUE(p->evaluated_at.has_value());
  ASSERT_TRUE(ar->record_holdout(seed, eval_json("ok", 0.9, 0.002, 0)).ok());
  EXPECT_EQ(ar->program(seed)->holdout["metrics"]["speedup"], 0.9);
  EXPECT_EQ(ar->record_holdout(9999, eval_json("ok", 1, 0, 0)).code(), StatusCode::kNotFound);
  auto kids = ar->children(seed, 5);
  ASSERT_EQ(kids->size(), 1u);
  EXPECT_EQ((*kids)[0].status, "compile_error");
  EXPECT_EQ(ar->llm_call(*call_id)->response, "<<<<<<< SEARCH");
  EXPECT_EQ(ar->program(12345).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ar->record_result(12345, eval_json("ok", 1, 0, 0)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ar->record_result(child->id, {{"metrics", {}}}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(ArchiveStore, PendingWorkCountersAndTotalsSurviveReopening) {
  std::string path = location();
  ProgramId lost, cancelled;
  {
    auto ar = make(location());
    ProgramId done = add(*ar, kernel_source(1));
    ASSERT_TRUE(ar->record_result(done, eval_json("ok", 3.0, 0.01, 4)).ok());
    lost = add(*ar, kernel_source(2));
    cancelled = add(*ar, kernel_source(3));
    ASSERT_TRUE(ar->cancel_evaluation(cancelled).ok());
    EXPECT_EQ(ar->cancel_evaluation(done).code(), StatusCode::kNotFound);
    for (double cost : {0.5, 0.25}) {
      LlmCall c;
      c.model = "m";
      c.tokens_in = 100;
      c.tokens_out = 10;
      c.cost_usd = cost;
      c.status = cost < 0.3 ? "timeout" : "ok";
      ASSERT_TRUE(ar->record_llm_call(c).ok());
    }
    EXPECT_EQ(*ar->add_counter("generation", 5), 5);
    ASSERT_TRUE(ar->set_value("tuner_rng", {{"state", "abc"}}).ok());
    ASSERT_TRUE(ar->set_run_status("stopped").ok());
  }
  auto ar = Archive::open(path);
  ASSERT_TRUE(ar.ok()) << ar.status().to_string();
  EXPECT_EQ(*(*ar)->pending_evaluations(), std::vector<ProgramId>{lost});
  auto t = (*ar)->totals();
  EXPECT_EQ(t->evaluations, 1);
  EXPECT_EQ(t->pending, 1);
  EXPECT_EQ(t->by_status.at("ok"), 1);
  EXPECT_EQ(t->llm_calls, 2);
  EXPECT_EQ(t->llm_failed, 1);
  EXPECT_EQ(t->tokens_in, 200);
  EXPECT_EQ(t->tokens_out, 20);
  EXPECT_DOUBLE_EQ(t->cost_usd, 0.75);
  EXPECT_DOUBLE_EQ(t->best->fitness, 3.0);
  EXPECT_EQ(*(*ar)->counter("generation"), 5);
  EXPECT_EQ(*(*ar)->counter("never_set"), 0);
  EXPECT_EQ((**(*ar)->value("tuner_rng"))["state"], "abc");
  EXPECT_FALSE((*ar)->value("missing")->has_value());
  EXPECT_EQ((*ar)->run().status, "stopped");
  EXPECT_EQ((*ar)->run().name, "test-run");
  EXPECT_EQ((*ar)->config().islands, 2);
  // The in-flight program can still be evaluated after the reopen.
  EXPECT_TRUE((*ar)->record_result(lost, eval_json("timeout", 0, 0, 0)).ok());
}

TEST_P(ArchiveStore, OneWriterAtATimeAndNoSecondRunInAFile) {
  auto ar = make(location());
  auto second = Archive::open(location());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable) << second.status().to_string();
  ar.reset();
  auto again = Archive::create(location(), testing::test_run(), testing::test_config());
  EXPECT_EQ(again.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Archive::open(location("nothing")).status().code(), StatusCode::kNotFound);
  ArchiveConfig bad = testing::test_config();
  bad.features.clear();
  EXPECT_FALSE(Archive::create(location("bad"), testing::test_run(), bad).ok());
}

// A file from the previous schema version is upgraded on open; a newer one is refused.
TEST(ArchiveSchema, OlderFilesAreReadAsTheyAreMigratedByTheWriterNewerOnesRefused) {
  TempDir dir;
  std::string path = dir.file("run/kevo.db");
  {
    auto ar = make(path);
    ASSERT_TRUE(ar->record_result(add(*ar, kernel_source(1)), eval_json("ok", 2, 0.01, 4)).ok());
  }
  auto raw = [&] { return std::move(sql::Db::open(path, sql::Db::Mode::kReadWrite, 1000)).value(); };
  {
    // Roll the file back to version 1 as an older kevo would have left it.
    auto db = raw();
    ASSERT_TRUE(db.exec("DROP INDEX programs_by_status_fitness; DROP INDEX programs_by_status_island; "
                        "DROP INDEX events_by_kind; DELETE FROM kv WHERE key LIKE 'archive.count.%'; "
                        "DROP INDEX llm_calls_by_model_outcome; DROP INDEX llm_calls_by_parent; "
                        "ALTER TABLE llm_calls DROP COLUMN tag; "
                        "ALTER TABLE llm_calls DROP COLUMN parent_id; "
                        "ALTER TABLE llm_calls DROP COLUMN attempt; "
                        "ALTER TABLE llm_calls DROP COLUMN outcome; "
                        "ALTER TABLE llm_calls DROP COLUMN child_id; "
                        "DROP TABLE tasks; DROP TABLE workers; "
                        "UPDATE schema_version SET version = 1")
                    .ok());
  }
  auto count_indexes = [&] {
    auto db = raw();
    return *db.query_int("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name IN "
                         "('programs_by_status_fitness', 'programs_by_status_island')");
  };
  ASSERT_EQ(count_indexes(), 0);
  {
    auto reader = ArchiveReader::open(path);
    ASSERT_TRUE(reader.ok()) << reader.status().to_string();
    auto report = (*reader)->status_report();
    ASSERT_TRUE(report.ok()) << report.status().to_string();
    EXPECT_EQ(report->totals.evaluations, 1);
    // Counted by a scan: readers never write, so the file is not upgraded by reading it.
    EXPECT_EQ(report->totals.by_status, (std::map<std::string, int64_t>{{"ok", 1}}));
  }
  EXPECT_EQ(count_indexes(), 0);
  {
    auto db = raw();
    EXPECT_EQ(*archive_schema::version(db), 1);
  }
  ASSERT_TRUE(Archive::open(path).ok());  // the writer upgrades it
  EXPECT_EQ(count_indexes(), 2);
  {
    // v4: the LLM call columns are back, and a call can carry its outcome.
    auto ar = Archive::open(path);
    ASSERT_TRUE(ar.ok()) << ar.status().to_string();
    LlmCall call;
    call.model = "m";
    call.outcome = "no_edit";
    auto id = (*ar)->record_llm_call(call);
    ASSERT_TRUE(id.ok()) << id.status().to_string();
    EXPECT_EQ((*ar)->llm_call(*id)->outcome, "no_edit");
  }
  {
    auto db = raw();
    EXPECT_EQ(*archive_schema::version(db), archive_schema::latest_version());
    ASSERT_TRUE(db.exec("UPDATE schema_version SET version = 99").ok());
  }
  auto newer = Archive::open(path);
  EXPECT_EQ(newer.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(newer.status().message().find("newer"), std::string::npos);
  EXPECT_FALSE(ArchiveReader::open(path).ok());
}

// Both engines refuse a database written by a newer kevo, writer and reader alike.
TEST_P(ArchiveStore, ANewerSchemaIsRefused) {
  std::string where = location();
  make(where).reset();
  {
    auto db = postgres() ? sql::Db::connect(where, 1000)
                         : sql::Db::open(where, sql::Db::Mode::kReadWrite, 1000);
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    EXPECT_EQ(*archive_schema::version(*db), archive_schema::latest_version());
    ASSERT_TRUE(db->exec("UPDATE schema_version SET version = 99").ok());
  }
  auto newer = Archive::open(where);
  EXPECT_EQ(newer.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(newer.status().message().find("newer"), std::string::npos);
  EXPECT_FALSE(ArchiveReader::open(where).ok());
}

TEST(ArchiveRng, StateRoundTripsAndContinuesTheStream) {
  Rng a(42);
  for (int i = 0; i < 10; ++i) a.next();
  auto b = Rng::from_state(a.state());
  ASSERT_TRUE(b.ok());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next(), b->next());
  EXPECT_NE(Rng(1).next(), Rng(2).next());
  EXPECT_FALSE(Rng::from_state("xyz").ok());
  EXPECT_FALSE(Rng::from_state(std::string(64, '0')).ok());
  for (int i = 0; i < 1000; ++i) {
    EXPECT_LT(a.below(7), 7u);
    double u = a.uniform();
    EXPECT_TRUE(u >= 0 && u < 1);
  }
}

}  // namespace
}  // namespace kevo
