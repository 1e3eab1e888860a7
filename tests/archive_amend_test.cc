// Archive::amend_result: a new elite's hardware counters, measured after its evaluation, go into
// its stored result; status, fitness, cell, metrics and artifacts stay as recorded.
#include <gtest/gtest.h>

#include "archive/archive.h"
#include "evaluator/counters.h"
#include "tests/archive_fixtures.h"
#include "tests/pg_support.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

using nlohmann::json;

class ArchiveAmend : public testing::ArchiveBackendTest {};
INSTANTIATE_TEST_SUITE_P(Backends, ArchiveAmend,
                         ::testing::Values(testing::Backend::kSqlite, testing::Backend::kPostgres),
                         testing::backend_name);

TEST_P(ArchiveAmend, ReplacesTheStoredResultAndNothingElse) {
  auto ar = Archive::create(location(), testing::test_run(), testing::test_config());
  ASSERT_TRUE(ar.ok()) << ar.status().message();
  auto b = (*ar)->begin_evaluation({testing::kernel_source(1), {}, std::nullopt, 0, "seed"});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*ar)->amend_result(b->id, testing::eval_json("ok", 2, 0.01, 4)).code(),
            StatusCode::kNotFound);  // still pending
  json first = testing::eval_json("ok", 2, 0.01, 4);
  auto rec = (*ar)->record_result(b->id, first);
  ASSERT_TRUE(rec.ok());
  ASSERT_TRUE(rec->new_elite);

  json amended = first;
  amended["workloads"][0]["kernels"][1]["counters"] = {{"dram_read_bytes", 4.6e7},
                                                       {"stalls", json::array()}};
  amended["counters"] = {{"passes", 7}, {"ms", 90.0}};
  amended["artifacts"]["feedback"] = "rewritten";  // ignored: artifacts stay as recorded
  json other = amended;
  other["metrics"]["speedup"] = 99;  // another evaluation, not an amendment
  EXPECT_EQ((*ar)->amend_result(b->id, other).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE((*ar)->amend_result(b->id, amended).ok());
  auto p = (*ar)->program(b->id);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->result["workloads"][0]["kernels"][1]["counters"]["dram_read_bytes"], 4.6e7);
  EXPECT_EQ(p->result["counters"]["passes"], 7);
  EXPECT_FALSE(p->result.contains("artifacts"));
  EXPECT_EQ(p->status, "ok");
  EXPECT_EQ(p->fitness, 2);
  EXPECT_EQ(p->metrics["speedup"], 2);
  EXPECT_EQ(p->feedback, "score 3.1 us, attend 4.8 us");
  EXPECT_FALSE(p->cell.empty());

  // `kevo show` prints the stored counters as a table.
  KernelCounters kc;
  kc.dram_read_bytes = 152.4e6;
  kc.dram_gbps = 673;
  kc.dram_copy_pct = 16.7;
  kc.warps_per_sm = 11.1;
  kc.stalls.push_back({"long_scoreboard", 0.53, 3.4});
  amended["workloads"][0]["kernels"][1]["counters"] = to_json(kc);
  ASSERT_TRUE((*ar)->amend_result(b->id, amended).ok());
  auto shown =
      testing::run_kevo("show " + std::to_string(b->id) + " --db '" + location() + "'");
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const size_t table =
      shown.out.find("hardware counters (one call, replayed after the timed calls)");
  ASSERT_NE(table, std::string::npos) << shown.out;
  const std::string row = shown.out.substr(shown.out.find("attend", table));
  EXPECT_NE(row.find("152.4"), std::string::npos) << row;
  EXPECT_NE(row.find("long_scoreboard 53%"), std::string::npos) << row;

  // A result of another status is not the same evaluation; unknown programs are not found.
  EXPECT_EQ((*ar)->amend_result(b->id, testing::eval_json("crash", 0, 0, 0)).code(),
            StatusCode::kNotFound);
  EXPECT_EQ((*ar)->amend_result(9999, first).code(), StatusCode::kNotFound);
  EXPECT_EQ((*ar)->amend_result(b->id, json::object()).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kevo
