// `kevo status` and `kevo top` on a run the test writes as the loop would (three seeds named in
// the seeds_added event, children of each, failures with messages, LLM calls and rejected
// replies, a stop and a resume): running state and stop reason, active time and evaluations per
// minute, failures by status, the best program of every method, the method column of `top`,
// and `top --status` with messages.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "archive/archive.h"
#include "archive/sql.h"
#include "tests/archive_fixtures.h"
#include "tests/test_support.h"

namespace kevo {
namespace {
using nlohmann::json;
using testing::eval_json;
using testing::kernel_source;
using testing::run_kevo;
using testing::TempDir;

json with_spread(json r, double spread) {
  r["metrics"]["speedup_spread"] = spread;
  return r;
}

// Seeds: #1 dense_flashdecode (1.0: the dense kernel against itself), #2 hash_topk, #3
// quest_pages. Children: hash_topk 2.2 (#4), 2.6 (#6, a grandchild), a compile error (#5);
// quest_pages 1.7 (#7), an inaccurate one (#8) and a timeout (#9); dense 1.01 (#10).
class StatusCli : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.file("kevo-runs/quick/kevo.db");
    auto ar = std::move(Archive::create(db_, testing::test_run(), testing::test_config(2))).value();
    auto add = [&](int variant, std::optional<ProgramId> parent, const char* origin,
                   const json& result) {
      auto b = ar->begin_evaluation({kernel_source(variant), {}, parent, 0, origin, std::nullopt});
      EXPECT_TRUE(b.ok() && !b->duplicate);
      EXPECT_TRUE(ar->record_result(b->id, result).ok());
      return b->id;
    };
    ProgramId dense =
        add(1, std::nullopt, "seed", with_spread(eval_json("ok", 1.0, 0.001, 0), 0.01));
    ProgramId hash = add(2, std::nullopt, "seed", eval_json("ok", 1.9, 0.03, 8));
    ProgramId quest = add(3, std::nullopt, "seed", eval_json("ok", 1.5, 0.02, 16));
    ASSERT_TRUE(
        ar->add_event("seeds_added",
                      {{"seeds", {"dense_flashdecode", "seeds/hash_topk.cu", "quest_pages"}},
                       {"programs",
                        {{{"id", dense}, {"name", "dense_flashdecode"}},
                         {{"id", hash}, {"name", "seeds/hash_topk.cu"}},
                         {{"id", quest}, {"name", "quest_pages"}}}}})
            .ok());
    ProgramId h1 = add(4, hash, "llm", eval_json("ok", 2.2, 0.03, 8));
    json broken = eval_json("compile_error", 0, 0, 0);
    broken["message"] = "line 12: identifier \"nope\" is undefined";
    add(5, hash, "llm", broken);
    add(6, h1, "tuner", with_spread(eval_json("ok", 2.6, 0.04, 8), 0.015));
    add(7, quest, "llm", eval_json("ok", 1.7, 0.02, 16));
    json loose = eval_json("inaccurate", 0, 0, 0);
    loose["message"] = "workload B1-N32768: mean relative error 0.31 > 0.2";
    add(8, quest, "llm", loose);
    json hang = eval_json("timeout", 0, 0, 0);
    hang["message"] = "workload B1-N8192: decode call 2 still running after 2 s";
    add(9, quest, "llm", hang);
    add(10, dense, "tuner", eval_json("ok", 1.01, 0.001, 0));
    LlmCall call;
    call.model = "gpt-test";
    call.tokens_in = 1000;
    call.cost_usd = 0.5;
    call.outcome = "child";
    ASSERT_TRUE(ar->record_llm_call(call).ok());
    call.status = "http_error";
    call.outcome = "request_failed";
    ASSERT_TRUE(ar->record_llm_call(call).ok());
    call.status = "ok";
    call.outcome = "no_match";
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(ar->record_llm_call(call).ok());
      ASSERT_TRUE(ar->add_event("edit_rejected", {{"parent", hash}, {"message", "no match"}}).ok());
    }
    ASSERT_TRUE(ar->add_event("stopped", {{"reason", "max_evaluations"}}).ok());
    ASSERT_TRUE(ar->set_run_status("finished").ok());
  }

  // Moves the run's clock: started at t0, evaluations every 30 s, stopped at t0 + 300 s.
  void set_times(double t0, bool resumed_and_killed) {
    auto db = std::move(sql::Db::open(db_, sql::Db::Mode::kReadWrite, 1000)).value();
    ASSERT_TRUE(db.exec("UPDATE runs SET created_at = " + std::to_string(t0) +
                        "; UPDATE programs SET evaluated_at = " + std::to_string(t0) +
                        " + 30 * id; UPDATE events SET time = " + std::to_string(t0 + 300) +
                        " WHERE kind = 'stopped'")
                    .ok());
    if (resumed_and_killed) {
      // Resumed at t0 + 1000; evaluations 9 and 10 at t0 + 1030, t0 + 1060; then killed.
      ASSERT_TRUE(db.exec("INSERT INTO events (time, kind, message) VALUES (" +
                          std::to_string(t0 + 1000) +
                          ", 'resumed', '{}'); "
                          "UPDATE programs SET evaluated_at = " +
                          std::to_string(t0 + 1000) +
                          " + 30 * (id - 8) WHERE id > 8; UPDATE runs SET status = 'running'")
                      .ok());
    }
  }

  TempDir dir_;
  std::string db_;
};

TEST_F(StatusCli, ShowsTimeStopReasonFailuresAndTheBestOfEachMethod) {
  set_times(1.7e9, false);
  auto r = run_kevo("status --db " + db_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* want :
       {"finished (max_evaluations: the evaluation budget (run.max_evaluations) was used)",
        "active 5m 00s, 2.0 evaluations/minute",  // 10 in 300 s
        "  ok         7 (70.0%)",
        "  failed     3 (30.0%): compile_error 1, inaccurate 1, timeout 1",
        "(see 'kevo top --status failed')", "best         speedup 2.6: program #6 (hash_topk;",
        "methods      the best program of each method",
        "LLM          5 requests: 1 gave a child, 4 rejected",
        "rejected by reason: no_match 3, request_failed 1"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  }
  // One row per method, in seed order, each with its own best: the sparse methods are visible
  // beside the dense kernel's 1.01.
  size_t d = r.out.find("\n  dense_flashdecode "), h = r.out.find("\n  hash_topk "),
         q = r.out.find("\n  quest_pages ");
  ASSERT_TRUE(d != std::string::npos && h != std::string::npos && q != std::string::npos) << r.out;
  EXPECT_LT(d, h);
  EXPECT_LT(h, q);
  auto row = [&](size_t at) { return r.out.substr(at + 1, r.out.find('\n', at + 1) - at - 1); };
  EXPECT_NE(row(d).find("1.01"), std::string::npos) << row(d);
  EXPECT_NE(row(d).find("#10"), std::string::npos) << row(d);
  EXPECT_NE(row(h).find("2.6"), std::string::npos) << row(h);
  EXPECT_NE(row(h).find("1.5%"), std::string::npos) << row(h);  // its noise
  EXPECT_NE(row(h).find("#6"), std::string::npos) << row(h);
  EXPECT_NE(row(q).find("1.7"), std::string::npos) << row(q);

  auto j = json::parse(run_kevo("status --json --db " + db_).out);
  EXPECT_EQ(j["stop_reason"], "max_evaluations");
  EXPECT_FALSE(j["running"].get<bool>());
  EXPECT_NEAR(j["active_s"].get<double>(), 300, 1e-6);
  EXPECT_NEAR(j["evaluations_per_minute"].get<double>(), 2.0, 1e-9);
  EXPECT_EQ(j["failed"], 3);
  EXPECT_EQ(j["by_status"]["timeout"], 1);
  ASSERT_EQ(j["methods"].size(), 3u);
  EXPECT_EQ(j["methods"][1]["method"], "hash_topk");
  EXPECT_EQ(j["methods"][1]["evaluated"], 4);
  EXPECT_EQ(j["methods"][1]["by_status"]["compile_error"], 1);
  EXPECT_EQ(j["methods"][1]["best"]["program"], 6);
  EXPECT_EQ(j["methods"][2]["best"]["program"], 7);
  EXPECT_EQ(j["llm"]["rejected"], 4);
  EXPECT_EQ(j["llm"]["failed"], 1);
}

TEST_F(StatusCli, ARunKilledAfterAResumeCountsOnlyItsActiveTime) {
  set_times(1.7e9, true);
  auto r = run_kevo("status --db " + db_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // 300 s before the stop, 60 s after the resume; the gap between them does not count.
  EXPECT_NE(r.out.find("active 6m 00s in 2 sessions"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not running: it ended without stopping (killed or crashed); "
                       "'kevo resume test-run' continues it"),
            std::string::npos)
      << r.out;
  auto j = json::parse(run_kevo("status --json --db " + db_).out);
  EXPECT_TRUE(j["stop_reason"].is_null());
  EXPECT_EQ(j["sessions"], 2);
}

TEST_F(StatusCli, StatusSaysRunningWhileAWriterHoldsTheRun) {
  auto writer = Archive::open(db_);
  ASSERT_TRUE(writer.ok()) << writer.status().to_string();
  auto j = json::parse(run_kevo("status --json --db " + db_).out);
  EXPECT_TRUE(j["running"].get<bool>());
  EXPECT_EQ(run_kevo("status --db " + db_).out.find("run          test-run  running\n"), 0u);
}

TEST_F(StatusCli, TopNamesTheMethodAndListsFailuresWithMessages) {
  auto top = run_kevo("top --db " + db_);
  ASSERT_EQ(top.exit_code, 0) << top.err;
  EXPECT_NE(top.out.find("method"), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("noise"), std::string::npos) << top.out;
  auto first = top.out.substr(top.out.find("\n1 ") + 1);
  first = first.substr(0, first.find('\n'));
  EXPECT_NE(first.find(" 6 "), std::string::npos) << first;
  EXPECT_NE(first.find("hash_topk"), std::string::npos) << first;
  EXPECT_NE(first.find("1.5%"), std::string::npos) << first;
  auto tj = json::parse(run_kevo("top --json -n 20 --db " + db_).out);
  for (const auto& p : tj["programs"]) {
    const int id = p["id"];
    const char* want = id == 1 || id == 10  ? "dense_flashdecode"
                       : id == 3 || id == 7 ? "quest_pages"
                                            : "hash_topk";
    EXPECT_EQ(p["method"], want) << id;
  }

  auto failed = run_kevo("top --status failed --db " + db_);
  ASSERT_EQ(failed.exit_code, 0) << failed.err;
  for (const char* want :
       {"line 12: identifier \"nope\" is undefined", "mean relative error 0.31 > 0.2",
        "still running after 2 s", "compile_error", "quest_pages", "hash_topk"}) {
    EXPECT_NE(failed.out.find(want), std::string::npos) << want << "\n" << failed.out;
  }
  EXPECT_LT(failed.out.find("still running"), failed.out.find("identifier"));  // newest first
  auto fj = json::parse(run_kevo("top --status inaccurate --json --db " + db_).out);
  ASSERT_EQ(fj["programs"].size(), 1u);
  EXPECT_EQ(fj["programs"][0]["id"], 8);
  EXPECT_EQ(fj["programs"][0]["method"], "quest_pages");
  EXPECT_EQ(fj["programs"][0]["message"], "workload B1-N32768: mean relative error 0.31 > 0.2");
  EXPECT_NE(run_kevo("top --status crash --db " + db_).out.find("no program with status crash"),
            std::string::npos);
  auto bad = run_kevo("top --status borked --db " + db_);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("one of: failed, pending, ok, rejected_source"), std::string::npos)
      << bad.err;
}

}  // namespace
}  // namespace kevo
