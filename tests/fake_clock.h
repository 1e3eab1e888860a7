// A clock for loop tests: time stands still while the loop has work, and a wait that nothing
// ends within a moment of real time (the loop is idle, waiting only for time to pass) jumps to its
// deadline. An idle timer, a breaker pause or a progress tick then costs no wall time.
// Header-only: test executables include it.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>

#include "orchestrator/evolution/clock.h"

namespace kevo::testing {

class FakeClock : public Clock {
 public:
  // `grace_ms`: how long a wait gives other threads to notify before it counts as idle. A test
  // that counts the loop's idle time raises it, so a loaded machine's slow threads are not
  // taken for idleness.
  explicit FakeClock(int grace_ms = 2) : grace_ms_(grace_ms) {}
  double now_s() const override {
    std::lock_guard lock(mu_);
    return now_s_;
  }
  void advance(double s) {
    std::lock_guard lock(mu_);
    now_s_ += s;
  }
  bool wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                  double deadline_s, const std::function<bool()>& ready) override {
    // Another thread of the loop (a GPU thread, a compile waiter) may be about to notify.
    if (cv.wait_for(lock, std::chrono::milliseconds(grace_ms_), ready)) return true;
    {
      std::lock_guard guard(mu_);
      // One step past the deadline: the loop's deadline is its start plus a run time, rounded,
      // and landing exactly on it can leave the run time (now - start) a hair short of what was
      // due, so the loop would wait for the same instant forever (a parent rest of 0.05 s did).
      now_s_ =
          std::max(now_s_, std::nextafter(deadline_s, std::numeric_limits<double>::infinity()));
      ++jumps_;
    }
    return ready();
  }
  int jumps() const {
    std::lock_guard lock(mu_);
    return jumps_;
  }

 private:
  const int grace_ms_;
  mutable std::mutex mu_;
  double now_s_ = 1000;
  int jumps_ = 0;
};

}  // namespace kevo::testing
