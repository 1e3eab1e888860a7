#include "archive/rng.h"

#include <cstdio>

namespace kevo {
namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Rng::Rng(uint64_t seed) {
  uint64_t x = seed;
  for (uint64_t& w : s_) w = splitmix64(x);  // never all zero: splitmix64 is a bijection
}

uint64_t Rng::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

uint64_t Rng::below(uint64_t n) {
  assert(n > 0);
  // Largest multiple of n that fits: values at or above it would over-represent small results.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t v;
  do {
    v = next();
  } while (v >= limit);
  return v % n;
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

std::string Rng::state() const {
  char buf[65];
  for (int i = 0; i < 4; ++i) {
    std::snprintf(buf + 16 * i, 17, "%016llx", static_cast<unsigned long long>(s_[i]));
  }
  return std::string(buf, 64);
}

Result<Rng> Rng::from_state(std::string_view hex) {
  if (hex.size() != 64) return Status::InvalidArgument("rng state must be 64 hex digits");
  Rng r(0);
  for (int i = 0; i < 4; ++i) {
    uint64_t w = 0;
    for (char c : hex.substr(16 * i, 16)) {
      int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
      if (d < 0) return Status::InvalidArgument("rng state has a non-hex digit");
      w = (w << 4) | static_cast<uint64_t>(d);
    }
    r.s_[i] = w;
  }
  if ((r.s_[0] | r.s_[1] | r.s_[2] | r.s_[3]) == 0) {
    return Status::InvalidArgument("rng state is all zero");
  }
  return r;
}

bool Rng::operator==(const Rng& o) const {
  return s_[0] == o.s_[0] && s_[1] == o.s_[1] && s_[2] == o.s_[2] && s_[3] == o.s_[3];
}

}  // namespace kevo
