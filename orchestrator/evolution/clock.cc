#include "orchestrator/evolution/clock.h"

#include <chrono>

namespace kevo {
namespace {

class RealClock final : public Clock {
 public:
  double now_s() const override {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  bool wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                  double deadline_s, const std::function<bool()>& ready) override {
    const double wait_s = deadline_s - now_s();
    if (wait_s <= 0) return ready();
    return cv.wait_for(lock, std::chrono::duration<double>(wait_s), ready);
  }
};

}  // namespace

Clock& real_clock() {
  static RealClock clock;
  return clock;
}

}  // namespace kevo
