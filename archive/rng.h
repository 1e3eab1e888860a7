// A small, seedable PRNG whose whole state fits in one string, so a run can persist it (in its
// kevo.db) and continue the very same stream after a resume. xoshiro256** seeded through
// splitmix64, as recommended by its authors (https://prng.di.unimi.it/). Not for cryptography.
// Not thread-safe: one owner at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kevo {

class Rng {
 public:
  explicit Rng(uint64_t seed = 1);

  uint64_t next();
  // Uniform in [0, n); n must be > 0. Rejection sampling, so no modulo bias.
  uint64_t below(uint64_t n);
  // Uniform in [0, 1) with 53 random bits.
  double uniform();

  // 64 lower-case hex digits; from_state(state()) continues the same stream.
  std::string state() const;
  static Result<Rng> from_state(std::string_view hex);

  bool operator==(const Rng& o) const;

 private:
  uint64_t s_[4];
};

}  // namespace kevo
