// The models a run may ask, with what keeps a bad one from spending: a per-model cap on requests
// in flight and a breaker that pauses a model whose replies stop giving children. Private to the
// evolution loop. Not thread-safe: the loop's coordinator thread owns it. Time is passed in
// (seconds on any monotonic clock), so tests need no sleeping.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "orchestrator/config/config.h"
#include "orchestrator/llm/llm_client.h"

namespace kevo {

struct RosterModel {
  std::string name;
  LlmClient* client = nullptr;  // not owned
  double weight = 1;
  int max_in_flight = 0;  // 0: only the run's cap
  bool price_known = true;
};

// What one model has done this run: the progress line, the summary and the breaker's log line.
struct ModelStats {
  int64_t requests = 0;
  int64_t children = 0;  // replies that gave a child that compiled
  int64_t failures = 0;  // replies that gave none
  std::map<std::string, int64_t> rejections;  // failures by reason
  double accept_rate() const {
    return children + failures > 0 ? double(children) / double(children + failures) : 0;
  }
};

// A breaker trip: the model rests until `until_s`.
struct BreakerTrip {
  std::string model;
  std::string main_reason;  // the most frequent reason in the window
  int window = 0;
  double pause_s = 0;
  double until_s = 0;
};

class LlmRoster {
 public:
  LlmRoster(std::vector<RosterModel> models, const LlmConfig& config, uint64_t seed);

  // A model that may take one more request now (not paused, under its cap), by weight; nullopt
  // when none can.
  std::optional<int> pick(double now_s);
  void request_sent(int model);   // counts a request and one more in flight
  void reply_arrived(int model);  // one fewer in flight
  // The fate of a reply: it gave a compiled child, or not, and why ("no SEARCH/REPLACE blocks",
  // "compile error"...). Returns the trip when this failure opened the breaker.
  std::optional<BreakerTrip> judged(int model, bool gave_child, const std::string& reason,
                                    double now_s);

  bool all_paused(double now_s) const;
  // When the first model paused at `now_s` wakes up (0 when none is paused).
  double next_wake_s(double now_s) const;
  int size() const { return static_cast<int>(models_.size()); }
  const RosterModel& model(int i) const { return models_.at(i); }
  const ModelStats& stats(int i) const { return state_.at(i).stats; }
  double paused_until(int i) const { return state_.at(i).paused_until_s; }

 private:
  struct State {
    int in_flight = 0;
    std::deque<std::string> window;  // reasons of the latest failures in a row ("" = child)
    double paused_until_s = 0;
    double next_pause_s = 0;
    ModelStats stats;
  };
  std::vector<RosterModel> models_;
  std::vector<State> state_;
  LlmConfig config_;
  std::mt19937_64 rng_;
};

// Which parents rest: a parent whose last `max_failures` asks all failed rests for rest_s,
// doubling each time it rests again; a success ends that.
class ParentRest {
 public:
  ParentRest(int max_failures, double rest_s) : max_failures_(max_failures), rest_s_(rest_s) {}
  bool resting(int64_t parent, double now_s) const;
  // Returns true when this failure sent the parent to rest.
  bool failed(int64_t parent, double now_s);
  void succeeded(int64_t parent);
  // When the first parent resting at `now_s` may be asked for again (0 when none rests).
  double next_wake_s(double now_s) const;

 private:
  struct State {
    int failures = 0;
    int rests = 0;
    double until_s = 0;
  };
  int max_failures_;
  double rest_s_;
  std::map<int64_t, State> state_;
};

}  // namespace kevo
