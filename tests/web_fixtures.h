// A small run for the web view and report suites: three seeds on two islands, a few hundred
// children with every status, LLM calls of every outcome, events, and hostile archive text (a
// kernel source and an LLM reply holding <script> and </textarea>, a model name holding markup),
// which the pages must show as text.
#pragma once

#include <cmath>
#include <memory>
#include <string>

#include "archive/archive.h"
#include "archive/rng.h"
#include "tests/archive_fixtures.h"

namespace kevo::testing {

inline constexpr const char* kHostileSource =
    "// </textarea><script>alert('source')</script>\n"
    "#include \"kevo/sparse_decode.cuh\"\n"
    "extern \"C\" __global__ void attend(const kevo::Args a) { /* <b>bold</b> & co */ }\n";
inline constexpr const char* kHostileReply =
    "Here is the edit.</textarea><script>alert('reply')</script>\n<<<<<<< SEARCH\nx\n=======\ny\n"
    ">>>>>>> REPLACE\n";
inline constexpr const char* kHostileModel = "m\"><img src=x onerror=alert(1)>";

struct DemoRun {
  std::string db;
  ProgramId hostile = 0;       // the program with the hostile source, made by `hostile_call`
  LlmCallId hostile_call = 0;  // its reply is kHostileReply, its model kHostileModel
  ProgramId best = 0;
  int64_t evaluated = 0;
  int64_t pending = 0;
};

// Writes the run to `db` and leaves the writer open in `writer` when given (a live run).
inline DemoRun make_demo_run(const std::string& db, int children = 240,
                             std::unique_ptr<Archive>* writer = nullptr) {
  DemoRun d;
  d.db = db;
  ArchiveConfig cfg = test_config(2);
  auto ar = std::move(Archive::create(db, test_run(), cfg)).value();
  std::vector<ProgramId> ok;
  const char* seeds[3] = {"hash_topk", "quest_pages", "dense_flashdecode"};
  for (int s = 0; s < 3; ++s) {
    auto b = ar->begin_evaluation({"// " + std::string(seeds[s]) + ": seed\n" + kernel_source(s),
                                   {{"BITS", 32}},
                                   std::nullopt,
                                   s % 2,
                                   "seed",
                                   std::nullopt});
    (void)ar->record_result(b->id, eval_json("ok", 0.8 + 0.3 * s, 0.004 + 0.01 * s, 2 << s));
    ok.push_back(b->id);
  }
  (void)ar->add_event("seeds_added", {{"seeds", {seeds[0], seeds[1], seeds[2]}}});
  Rng rng(11);
  const char* failures[] = {"compile_error", "inaccurate", "timeout", "crash"};
  double best = 0;
  // The hostile child: one made by a successful, applied LLM reply (see the rules below).
  int hostile_n = children / 2;
  while (hostile_n % 3 == 0 || hostile_n % 17 == 5 || hostile_n % 13 == 2) ++hostile_n;
  for (int n = 0; n < children; ++n) {
    ProgramId parent = ok[rng.below(ok.size())];
    std::optional<LlmCallId> call;
    const bool hostile = n == hostile_n;
    if (n % 3 != 0) {
      LlmCall c;
      c.model = hostile ? kHostileModel : (n % 2 ? "gpt-test" : "claude-test");
      c.provider = "openai";
      c.prompt = nlohmann::json{{"system", "You write CUDA."},
                                {"user", "Improve program #" + std::to_string(parent)},
                                {"tag", "t" + std::to_string(n)}}
                     .dump();
      c.response = hostile ? kHostileReply : "<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n";
      c.tokens_in = 3000 + n;
      c.tokens_out = 500;
      c.cost_usd = 0.002;
      c.latency_s = 3.5;
      if (n % 17 == 5) {
        c.status = "unavailable";
        c.error = "HTTP 503: <html>overloaded</html>";
      }
      call = *ar->record_llm_call(c);
      if (c.status != "ok") continue;  // no child from a failed request
      if (n % 13 == 2) {
        (void)ar->add_event("edit_rejected", {{"parent", parent},
                                              {"message", "SEARCH block 1 does not match"},
                                              {"llm_call", *call}});
        continue;
      }
    }
    std::string src =
        hostile ? std::string(kHostileSource)
                : kernel_source(1000 + n) + "// child of " + std::to_string(parent) + "\n";
    auto b = ar->begin_evaluation({src,
                                   {{"BITS", 16 << rng.below(3)}},
                                   parent,
                                   static_cast<int>(n % 2),
                                   call ? "llm" : "tuner",
                                   call});
    if (!b.ok() || b->duplicate) continue;
    if (hostile) d.hostile = b->id, d.hostile_call = *call;
    if (n == children - 1) {
      ++d.pending;  // the last one stays in flight
      continue;
    }
    const bool good = hostile || rng.below(10) < 6;
    double speedup = 0.5 + 3.0 * rng.uniform() * (1 + n / static_cast<double>(children));
    double err = 0.002 * static_cast<double>(1 + rng.below(60));
    const double idx = static_cast<double>(1 << rng.below(7));
    (void)ar->record_result(b->id,
                            eval_json(good ? "ok" : failures[rng.below(4)], speedup, err, idx));
    if (good) {
      ok.push_back(b->id);
      if (speedup > best) best = speedup, d.best = b->id;
    }
  }
  (void)ar->add_event("new_best", {{"program", d.best}, {"fitness", best}});
  auto t = ar->totals();
  d.evaluated = t->evaluations;
  if (writer) {
    *writer = std::move(ar);
  } else {
    (void)ar->set_run_status("stopped");
    (void)ar->add_event("stopped", {{"reason", "max_evaluations"}});
  }
  return d;
}

}  // namespace kevo::testing
