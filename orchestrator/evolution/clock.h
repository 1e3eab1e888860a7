// Time for the evolution loop: the steady clock in a run, a clock the tests drive
// (tests/fake_clock.h), so that no test of the loop sleeps through an idle timer, a breaker
// pause or a progress tick.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>

namespace kevo {

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds on a monotonic scale (its zero is arbitrary). Thread-safe.
  virtual double now_s() const = 0;
  // Waits on `cv`, whose mutex `lock` holds, until `ready()` (called with the lock held) or until
  // now_s() reaches `deadline_s`. Returns ready().
  virtual bool wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                          double deadline_s, const std::function<bool()>& ready) = 0;
};

// std::chrono::steady_clock. Lives as long as the program; thread-safe.
Clock& real_clock();

}  // namespace kevo
