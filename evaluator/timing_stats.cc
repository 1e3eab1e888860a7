#include "evaluator/timing_stats.h"

#include <algorithm>
#include <cmath>

namespace kevo {

namespace {
// Linear interpolation between order statistics (numpy's default percentile).
double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  double pos = q * double(sorted.size() - 1);
  size_t lo = size_t(std::floor(pos)), hi = std::min(lo + 1, sorted.size() - 1);
  double f = pos - double(lo);
  return sorted[lo] * (1 - f) + sorted[hi] * f;
}
}  // namespace

SampleStats summarize(std::vector<double> samples) {
  SampleStats s;
  s.count = int(samples.size());
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.median = quantile(samples, 0.5);
  s.q1 = quantile(samples, 0.25);
  s.q3 = quantile(samples, 0.75);
  s.spread = s.median > 0 ? (s.q3 - s.q1) / s.median : 0;
  return s;
}

bool should_stop(const SampleStats& s, double elapsed_s, const StopRule& r) {
  if (s.count >= r.max_iterations) return true;
  // A slow candidate: a few samples are enough rather than minutes of GPU time.
  if (s.count >= 3 && elapsed_s >= 4 * r.max_seconds) return true;
  if (s.count >= r.min_iterations && elapsed_s >= r.max_seconds) return true;
  return s.count >= r.min_iterations && s.spread <= r.target_spread;
}

ErrorStats summarize_errors(std::vector<double> errors) {
  ErrorStats e;
  if (errors.empty()) return e;
  std::sort(errors.begin(), errors.end());
  double sum = 0;
  for (double x : errors) sum += x;
  e.mean = sum / double(errors.size());
  e.p99 = quantile(errors, 0.99);
  e.max = errors.back();
  return e;
}

double geomean(const std::vector<double>& xs) {
  if (xs.empty()) return 0;
  double s = 0;
  for (double x : xs) {
    if (!(x > 0)) return 0;
    s += std::log(x);
  }
  return std::exp(s / double(xs.size()));
}

}  // namespace kevo
