// The breaker, the per-model cap and the parent rest, with time passed in (no sleeping).
#include "orchestrator/evolution/llm_roster.h"

#include <gtest/gtest.h>

namespace kevo {
namespace {

class NullClient : public LlmClient {
 public:
  Result<LlmReply> complete(const LlmRequest&) override { return Status::Internal("unused"); }
};

LlmConfig breaker(int window, double pause, double max_pause) {
  LlmConfig c;
  c.breaker_window = window;
  c.breaker_pause_s = pause;
  c.breaker_max_pause_s = max_pause;
  return c;
}

TEST(LlmRoster, BreakerPausesAfterAWindowOfFailuresWithGrowingPauses) {
  NullClient c;
  LlmRoster r({{"m", &c, 1, 0, true}}, breaker(3, 10, 25), 1);
  EXPECT_EQ(r.pick(0), 0);
  EXPECT_FALSE(r.judged(0, false, "no_edit", 0));
  EXPECT_FALSE(r.judged(0, false, "compile error", 0));
  auto trip = r.judged(0, false, "no_edit", 1);
  ASSERT_TRUE(trip);
  EXPECT_EQ(trip->main_reason, "no_edit");
  EXPECT_EQ(trip->pause_s, 10);
  EXPECT_FALSE(r.pick(5).has_value()) << "paused";
  EXPECT_TRUE(r.all_paused(5));
  EXPECT_EQ(r.pick(11.5), 0) << "awake after the pause";
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(r.judged(0, false, "no_match", 12));
  trip = r.judged(0, false, "no_match", 12);
  ASSERT_TRUE(trip);
  EXPECT_EQ(trip->pause_s, 20) << "doubles";
  for (int i = 0; i < 2; ++i) r.judged(0, false, "x", 40);
  EXPECT_EQ(r.judged(0, false, "x", 40)->pause_s, 25) << "capped";
  // A child ends the back-off.
  r.judged(0, true, "", 70);
  for (int i = 0; i < 2; ++i) r.judged(0, false, "x", 70);
  EXPECT_EQ(r.judged(0, false, "x", 70)->pause_s, 10);
  EXPECT_EQ(r.stats(0).children, 1);
  EXPECT_EQ(r.stats(0).rejections.at("x"), 6);
}

TEST(LlmRoster, PicksByWeightSkippingPausedAndCappedModels) {
  NullClient a, b;
  LlmRoster r({{"a", &a, 3, 1, true}, {"b", &b, 1, 0, true}}, breaker(1, 100, 100), 7);
  int picks_a = 0;
  for (int i = 0; i < 400; ++i) picks_a += *r.pick(0) == 0;
  EXPECT_GT(picks_a, 240);
  EXPECT_LT(picks_a, 360);
  r.request_sent(0);  // a's own cap is 1
  for (int i = 0; i < 20; ++i) EXPECT_EQ(r.pick(0), 1);
  r.reply_arrived(0);
  r.judged(1, false, "no_edit", 0);  // b pauses
  for (int i = 0; i < 20; ++i) EXPECT_EQ(r.pick(1), 0);
  r.judged(0, false, "no_edit", 0);
  EXPECT_FALSE(r.pick(1).has_value());
  EXPECT_TRUE(r.all_paused(1));
  EXPECT_EQ(r.next_wake_s(1), 100);
  EXPECT_EQ(r.next_wake_s(100), 0) << "a pause that has ended is no wake-up to wait for";
}

TEST(ParentRest, RestsAfterConsecutiveFailuresAndDoubles) {
  ParentRest rest(2, 30);
  EXPECT_FALSE(rest.failed(7, 0));
  EXPECT_TRUE(rest.failed(7, 1));
  EXPECT_TRUE(rest.resting(7, 30));
  EXPECT_FALSE(rest.resting(7, 31.5));
  EXPECT_FALSE(rest.resting(8, 2));
  EXPECT_FALSE(rest.failed(7, 40));
  EXPECT_TRUE(rest.failed(7, 40));
  EXPECT_TRUE(rest.resting(7, 99)) << "the second rest lasts 60 s";
  EXPECT_FALSE(rest.resting(7, 101));
  EXPECT_EQ(rest.next_wake_s(50), 100) << "the loop waits for the rest to end";
  EXPECT_EQ(rest.next_wake_s(101), 0);
  rest.succeeded(7);
  EXPECT_FALSE(rest.failed(7, 200));
}

}  // namespace
}  // namespace kevo
