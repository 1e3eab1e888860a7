// RunViews on real SQLite files: points and lineage roots, methods and their names, the evaluation
// rate, LLM calls with derived outcomes (today's schema) and stored ones (the v4 columns, added
// here with ALTER TABLE as the LLM loop's migration will), pagination, and open errors.
#include <gtest/gtest.h>
#include <map>
#include <sqlite3.h>

#include "archive/archive.h"
#include "archive/run_views.h"
#include "tests/archive_fixtures.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

using testing::eval_json;
using testing::kernel_source;
using testing::TempDir;

void exec_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

// Two seeds. hash_topk #1 (1.0) -> #3 (2.0, llm call 1) -> #5 (3.0, tuner); #4 compile error
// (llm call 2, a child of #1). quest_pages #2 (0.5) -> #6 pending. Calls: 1 made #3, 2 made #4,
// 3 failed (http_error), 4 was rejected (edit_rejected event), 5 answered with nothing applied.
class Views : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.file("kevo.db");
    auto ar = std::move(Archive::create(db_, testing::test_run(), testing::test_config(2))).value();
    auto call = [&](const std::string& status) {
      LlmCall c;
      c.model = "m";
      c.provider = "openai";
      c.prompt = "{\"system\":\"s\",\"user\":\"u\"}";
      c.response = "reply " + status;
      c.status = status;
      c.error = status == "ok" ? "" : "HTTP 500";
      return *ar->record_llm_call(c);
    };
    auto add = [&](int v, std::optional<ProgramId> parent, int island, const char* origin,
                   std::optional<LlmCallId> c) {
      return ar->begin_evaluation({kernel_source(v), {}, parent, island, origin, c})->id;
    };
    ProgramId s1 = add(1, std::nullopt, 0, "seed", std::nullopt);
    ProgramId s2 = add(2, std::nullopt, 1, "seed", std::nullopt);
    ASSERT_TRUE(
        ar->add_event("seeds_added", {{"seeds", {"hash_topk", "seeds/quest_pages.cu"}}}).ok());
    ASSERT_TRUE(ar->record_result(s1, eval_json("ok", 1.0, 0.004, 4)).ok());
    ASSERT_TRUE(ar->record_result(s2, eval_json("ok", 0.5, 0.03, 8)).ok());
    LlmCallId c1 = call("ok"), c2 = call("ok");
    ProgramId p3 = add(3, s1, 0, "llm", c1);
    ProgramId p4 = add(4, s1, 0, "llm", c2);
    ASSERT_TRUE(ar->record_result(p3, eval_json("ok", 2.0, 0.015, 4)).ok());
    ASSERT_TRUE(ar->record_result(p4, eval_json("compile_error", 0, 0, 0)).ok());
    ProgramId p5 = add(5, p3, 0, "tuner", std::nullopt);
    ASSERT_TRUE(ar->record_result(p5, eval_json("ok", 3.0, 0.05, 2)).ok());
    add(6, s2, 1, "tuner", std::nullopt);  // pending
    call("http_error");
    LlmCallId c4 = call("ok");
    ASSERT_TRUE(ar->add_event("edit_rejected", {{"parent", s1},
                                                {"message",
                                                 "SEARCH does not "
                                                 "match"},
                                                {"llm_call", c4}})
                    .ok());
    call("ok");
  }

  std::unique_ptr<RunViews> open() { return std::move(RunViews::open(db_)).value(); }

  TempDir dir_;
  std::string db_;
};

TEST_F(Views, PointsAreEvaluatedProgramsInIdOrderWithTheirRoots) {
  auto v = open();
  auto pts = v->points();
  ASSERT_TRUE(pts.ok()) << pts.status().to_string();
  ASSERT_EQ(pts->size(), 5u);  // #6 is pending
  std::vector<ProgramId> ids, roots;
  for (const auto& p : *pts) ids.push_back(p.id), roots.push_back(p.root);
  EXPECT_EQ(ids, (std::vector<ProgramId>{1, 2, 3, 4, 5}));
  EXPECT_EQ(roots, (std::vector<ProgramId>{1, 2, 1, 1, 1}));
  EXPECT_EQ((*pts)[3].status, "compile_error");
  EXPECT_FALSE((*pts)[3].fitness);
  EXPECT_DOUBLE_EQ(*(*pts)[4].fitness, 3.0);
  EXPECT_EQ((*pts)[4].parent, 3);
  EXPECT_EQ((*pts)[1].island, 1);
  auto later = v->points_after(3);
  ASSERT_TRUE(later.ok());
  ASSERT_EQ(later->points.size(), 2u);
  EXPECT_EQ(later->points[0].id, 4);
  EXPECT_EQ(later->points[1].root, 1);  // roots are found although the parents are before `after`
  EXPECT_EQ(later->next_after, 5);      // #6 is pending but comes after every point
}

TEST(ViewsLive, AProgramFinishingOutOfOrderIsNotSkipped) {
  TempDir dir;
  auto ar =
      std::move(Archive::create(dir.file("kevo.db"), testing::test_run(), testing::test_config(1)))
          .value();
  auto add = [&](int v) {
    return ar->begin_evaluation({kernel_source(v), {}, {}, 0, "seed", {}})->id;
  };
  ProgramId a = add(1), b = add(2), c = add(3);
  ASSERT_TRUE(ar->record_result(a, eval_json("ok", 1.0, 0.01, 4)).ok());
  ASSERT_TRUE(ar->record_result(c, eval_json("ok", 2.0, 0.01, 4)).ok());  // before b
  auto v = std::move(RunViews::open(dir.file("kevo.db"))).value();
  auto first = v->points_after(0);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->points.size(), 2u);
  EXPECT_EQ(first->next_after, a);  // b is still pending: ask again from just below it
  ASSERT_TRUE(ar->record_result(b, eval_json("crash", 0, 0, 0)).ok());
  auto second = v->points_after(first->next_after);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->points.size(), 2u);
  EXPECT_EQ(second->points[0].id, b);
  EXPECT_EQ(second->points[1].id, c);
  EXPECT_EQ(second->next_after, c);
}

TEST_F(Views, MethodsAreNamedSeedsWithTheirBestDescendant) {
  auto m = open()->methods();
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].name, "hash_topk");
  EXPECT_EQ((*m)[0].evaluated, 4);
  EXPECT_EQ((*m)[0].ok, 3);
  EXPECT_EQ((*m)[0].best, 5);
  EXPECT_DOUBLE_EQ(*(*m)[0].best_fitness, 3.0);
  EXPECT_DOUBLE_EQ(*(*m)[0].seed_fitness, 1.0);
  EXPECT_EQ((*m)[1].name, "quest_pages");  // folder and .cu dropped
  EXPECT_EQ((*m)[1].best, 2);
  EXPECT_EQ((*m)[1].evaluated, 1);
}

TEST(ViewsNames, WithoutTheEventASeedIsNamedByItsFirstComment) {
  TempDir dir;
  auto ar =
      std::move(Archive::create(dir.file("kevo.db"), testing::test_run(), testing::test_config(1)))
          .value();
  ASSERT_TRUE(ar->begin_evaluation(
                    {"// socket_soft: SOCKET scoring\n" + kernel_source(1), {}, {}, 0, "seed", {}})
                  .ok());
  ASSERT_TRUE(ar->begin_evaluation({kernel_source(2), {}, {}, 0, "seed", {}}).ok());
  auto m = std::move(RunViews::open(dir.file("kevo.db"))).value()->methods();
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].name, "socket_soft");
  EXPECT_EQ((*m)[1].name, "seed #2");
  EXPECT_EQ((*m)[1].seed_status, "pending");
  EXPECT_FALSE((*m)[1].best);
}

TEST_F(Views, RateCountsEvaluationsInTheWindowEndingAtNow) {
  auto v = open();
  double now = v->reader().status_report()->run.updated_at + 1;
  auto r = v->rate(600, now);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->in_window, 5);
  EXPECT_GT(r->recent_per_min, 0);
  ASSERT_TRUE(r->last_evaluated_at);
  auto later = v->rate(600, now + 3600);  // an hour later, nothing new
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->in_window, 0);
  EXPECT_EQ(later->recent_per_min, 0);
  EXPECT_GT(later->overall_per_min, 0);
}

// The archive as kevo wrote it before schema v4: no stored call outcomes (they are derived).
void drop_call_outcomes(const std::string& db) {
  exec_sql(db,
           "DROP INDEX llm_calls_by_model_outcome; DROP INDEX llm_calls_by_parent;"
           "ALTER TABLE llm_calls DROP COLUMN tag; ALTER TABLE llm_calls DROP COLUMN parent_id;"
           "ALTER TABLE llm_calls DROP COLUMN attempt; ALTER TABLE llm_calls DROP COLUMN outcome;"
           "ALTER TABLE llm_calls DROP COLUMN child_id; UPDATE schema_version SET version = 3;");
}

TEST_F(Views, CallsGetDerivedOutcomesOnTodaysSchema) {
  drop_call_outcomes(db_);
  auto v = open();
  EXPECT_FALSE(v->has_call_outcomes());
  auto page = v->llm_calls({});
  ASSERT_TRUE(page.ok()) << page.status().to_string();
  ASSERT_EQ(page->rows.size(), 5u);
  EXPECT_FALSE(page->next_before);
  std::vector<std::string> outcomes;
  for (const auto& r : page->rows) outcomes.push_back(r.outcome);  // newest first
  EXPECT_EQ(outcomes,
            (std::vector<std::string>{"no_child", "rejected", "request_failed", "child", "child"}));
  EXPECT_TRUE(page->rows[0].outcome_derived);
  EXPECT_EQ(page->rows[1].rejection, "SEARCH does not match");
  EXPECT_EQ(page->rows[2].error, "HTTP 500");
  EXPECT_EQ(page->rows[3].child, 4);
  EXPECT_EQ(page->rows[3].child_status, "compile_error");
  EXPECT_EQ(page->rows[4].child, 3);
}

// `kevo status` counts outcomes per model; on a file before v4 it derives them as the call list
// does, so the two never disagree (they once said "0 gave a child" beside a list of children).
TEST_F(Views, OutcomeCountsOfAnOldFileAgreeWithTheDerivedCalls) {
  drop_call_outcomes(db_);
  auto page = open()->llm_calls({});
  ASSERT_TRUE(page.ok()) << page.status().to_string();
  std::map<std::string, int64_t> from_calls;
  for (const auto& r : page->rows) from_calls[r.outcome] += 1;
  auto reader = ArchiveReader::open(db_);
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  auto counts = (*reader)->llm_outcomes();
  ASSERT_TRUE(counts.ok()) << counts.status().to_string();
  std::map<std::string, int64_t> from_counts;
  for (const auto& c : *counts) from_counts[c.outcome] += c.calls;
  EXPECT_EQ(from_counts, from_calls);
  EXPECT_EQ(from_counts, (std::map<std::string, int64_t>{
                             {"child", 2}, {"no_child", 1}, {"rejected", 1}, {"request_failed", 1}}));
}

TEST_F(Views, CallsFilterByStatusAndOutcomeAndPage) {
  drop_call_outcomes(db_);
  auto v = open();
  LlmCallQuery q;
  q.status = "http_error";
  auto failed = v->llm_calls(q);
  ASSERT_TRUE(failed.ok());
  ASSERT_EQ(failed->rows.size(), 1u);
  EXPECT_EQ(failed->rows[0].id, 3);
  q = {};
  q.outcome = "child";
  auto made = v->llm_calls(q);
  ASSERT_TRUE(made.ok());
  ASSERT_EQ(made->rows.size(), 2u);
  EXPECT_EQ(made->rows[0].id, 2);
  q = {};
  q.limit = 2;
  auto first = v->llm_calls(q);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->rows.size(), 2u);
  ASSERT_TRUE(first->next_before);
  EXPECT_EQ(*first->next_before, 4);
  q.before = first->next_before;
  auto second = v->llm_calls(q);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->rows[0].id, 3);
  // A bounded scan: 2 ids examined, none match, and the page says where to go on.
  q = {};
  q.status = "http_error";
  q.max_scan = 2;
  auto bounded = v->llm_calls(q);
  ASSERT_TRUE(bounded.ok());
  EXPECT_TRUE(bounded->rows.empty());
  ASSERT_TRUE(bounded->next_before);
  EXPECT_EQ(*bounded->next_before, 4);
  q.before = bounded->next_before;
  auto next = v->llm_calls(q);
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->rows.size(), 1u);
  EXPECT_EQ(next->rows[0].id, 3);
}

TEST_F(Views, StoredOutcomeColumnsAreReadWhenTheFileHasThem) {
  exec_sql(db_,
           "UPDATE llm_calls SET tag = 'diff', parent_id = 1, outcome = 'no_match' WHERE id = 5;"
           "UPDATE llm_calls SET outcome = 'child', child_id = 4, tag = 'retry' WHERE id = 2;");
  auto v = open();
  EXPECT_TRUE(v->has_call_outcomes());
  LlmCallQuery q;
  q.outcome = "no_match";
  auto page = v->llm_calls(q);
  ASSERT_TRUE(page.ok()) << page.status().to_string();
  ASSERT_EQ(page->rows.size(), 1u);
  EXPECT_EQ(page->rows[0].tag, "diff");
  EXPECT_EQ(page->rows[0].parent, 1);
  EXPECT_FALSE(page->rows[0].outcome_derived);
  auto d = v->llm_call(2);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->row.outcome, "child");
  EXPECT_EQ(d->row.child, 4);
  EXPECT_EQ(d->row.child_status, "compile_error");
  EXPECT_EQ(d->row.tag, "retry");
  EXPECT_EQ(d->call.response, "reply ok");
}

TEST_F(Views, ChildrenAreLookedForFromTheEarliestCallsTimeOn) {
  // Seeds from long before the first call (a run resumed a day later) are not searched; the
  // children made after the calls are found. A program stamped before its call is not (it cannot
  // have been made by it), which shows the bound is applied.
  drop_call_outcomes(db_);
  exec_sql(db_,
           "UPDATE programs SET created_at = created_at - 86400 WHERE id <= 2;"
           "UPDATE programs SET llm_call_id = 5 WHERE id = 2;");
  auto page = open()->llm_calls({});
  ASSERT_TRUE(page.ok()) << page.status().to_string();
  ASSERT_EQ(page->rows.size(), 5u);
  EXPECT_EQ(page->rows[0].outcome, "no_child");  // call 5: #2 is a day older than the call
  EXPECT_EQ(page->rows[3].child, 4);
  EXPECT_EQ(page->rows[4].child, 3);
  // The program page knows its own call's child (checked: it names the call); no search.
  auto d = open()->llm_call(1, 3);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->row.outcome, "child");
  EXPECT_EQ(d->row.child_status, "ok");
  auto wrong = open()->llm_call(1, 4);  // #4 names call 2: not taken, the search finds #3
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->row.child, 3);
}

TEST_F(Views, OneCallHasItsPromptReplyAndOutcome) {
  drop_call_outcomes(db_);
  auto v = open();
  auto d = v->llm_call(4);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->call.prompt, "{\"system\":\"s\",\"user\":\"u\"}");
  EXPECT_EQ(d->row.outcome, "rejected");
  auto missing = v->llm_call(99);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("#99"), std::string::npos);
  auto all = v->all_llm_calls();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ(all->front().id, 1);
  EXPECT_EQ(all->front().outcome, "child");
}

TEST_F(Views, OkMetricsCarryFitnessErrorAndRoot) {
  auto m = open()->ok_metrics("mean_rel_err");
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  ASSERT_EQ(m->size(), 4u);  // #1, #2, #3, #5
  EXPECT_EQ((*m)[3].id, 5);
  EXPECT_EQ((*m)[3].root, 1);
  EXPECT_DOUBLE_EQ((*m)[3].fitness, 3.0);
  ASSERT_TRUE((*m)[3].error);
  EXPECT_DOUBLE_EQ(*(*m)[3].error, 0.05);
  auto none = open()->ok_metrics("no_such_metric");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE((*none)[0].error);
}

TEST(ViewsOpen, MissingAndCorruptFilesAreErrorsNamingThePath) {
  TempDir dir;
  auto missing = RunViews::open(dir.file("nope.db"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope.db"), std::string::npos);
  testing::write_file(dir.file("junk.db"), std::string(8192, 'x'));
  auto junk = RunViews::open(dir.file("junk.db"));
  ASSERT_FALSE(junk.ok());
  EXPECT_NE(junk.status().message().find("junk.db"), std::string::npos) << junk.status().message();
}

}  // namespace
}  // namespace kevo
