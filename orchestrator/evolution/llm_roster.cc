#include "orchestrator/evolution/llm_roster.h"

#include <algorithm>
#include <cmath>

namespace kevo {

LlmRoster::LlmRoster(std::vector<RosterModel> models, const LlmConfig& config, uint64_t seed)
    : models_(std::move(models)), state_(models_.size()), config_(config), rng_(seed) {
  for (auto& s : state_) s.next_pause_s = config.breaker_pause_s;
}

std::optional<int> LlmRoster::pick(double now_s) {
  double total = 0;
  std::vector<double> w(models_.size(), 0);
  for (size_t i = 0; i < models_.size(); ++i) {
    const State& s = state_[i];
    bool capped = models_[i].max_in_flight > 0 && s.in_flight >= models_[i].max_in_flight;
    if (s.paused_until_s > now_s || capped) continue;
    w[i] = models_[i].weight;
    total += w[i];
  }
  if (total <= 0) return std::nullopt;
  double x = std::uniform_real_distribution<double>(0, total)(rng_);
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] <= 0) continue;
    if (x < w[i]) return static_cast<int>(i);
    x -= w[i];
  }
  for (size_t i = w.size(); i-- > 0;) {
    if (w[i] > 0) return static_cast<int>(i);  // rounding at the top end
  }
  return std::nullopt;
}

void LlmRoster::request_sent(int m) {
  ++state_.at(m).in_flight;
  ++state_.at(m).stats.requests;
}

void LlmRoster::reply_arrived(int m) { state_.at(m).in_flight = std::max(0, state_.at(m).in_flight - 1); }

std::optional<BreakerTrip> LlmRoster::judged(int m, bool gave_child, const std::string& reason,
                                             double now_s) {
  State& s = state_.at(m);
  if (gave_child) {
    ++s.stats.children;
    s.window.clear();
    s.next_pause_s = config_.breaker_pause_s;  // a child ends the growing back-off
    return std::nullopt;
  }
  ++s.stats.failures;
  ++s.stats.rejections[reason];
  s.window.push_back(reason);
  if (static_cast<int>(s.window.size()) < config_.breaker_window) return std::nullopt;
  // The last `window` replies in a row gave nothing: pause, and name the main reason.
  std::map<std::string, int> count;
  for (const auto& r : s.window) ++count[r];
  auto main = std::max_element(count.begin(), count.end(),
                               [](auto& a, auto& b) { return a.second < b.second; });
  BreakerTrip trip{models_[m].name, main->first, config_.breaker_window, s.next_pause_s,
                   now_s + s.next_pause_s};
  s.paused_until_s = trip.until_s;
  s.next_pause_s = std::min(config_.breaker_max_pause_s, s.next_pause_s * 2);
  s.window.clear();  // after the pause, another full window of failures trips it again
  return trip;
}

bool LlmRoster::all_paused(double now_s) const {
  return std::all_of(state_.begin(), state_.end(),
                     [&](const State& s) { return s.paused_until_s > now_s; });
}

double LlmRoster::next_wake_s(double now_s) const {
  double t = 0;
  for (const auto& s : state_) {
    if (s.paused_until_s > now_s && (t == 0 || s.paused_until_s < t)) t = s.paused_until_s;
  }
  return t;
}

bool ParentRest::resting(int64_t parent, double now_s) const {
  auto it = state_.find(parent);
  return it != state_.end() && it->second.until_s > now_s;
}

bool ParentRest::failed(int64_t parent, double now_s) {
  State& s = state_[parent];
  if (++s.failures < max_failures_) return false;
  s.until_s = now_s + rest_s_ * std::pow(2.0, s.rests);
  ++s.rests;
  s.failures = 0;
  return true;
}

double ParentRest::next_wake_s(double now_s) const {
  double t = 0;
  for (const auto& [parent, s] : state_) {
    if (s.until_s > now_s && (t == 0 || s.until_s < t)) t = s.until_s;
  }
  return t;
}

void ParentRest::succeeded(int64_t parent) {
  auto it = state_.find(parent);
  if (it == state_.end()) return;
  it->second.failures = 0;
  it->second.rests = 0;
}

}  // namespace kevo
