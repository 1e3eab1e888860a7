// Timing statistics and the stopping rule of the timing loop (docs/design.md, Timing), and the
// error summaries of a workload. Pure functions: tested without a GPU.
#pragma once

#include <vector>

namespace kevo {

struct SampleStats {
  double median = 0, q1 = 0, q3 = 0;
  double spread = 0;  // (q3 - q1) / median: the interquartile spread relative to the median
  int count = 0;
};
SampleStats summarize(std::vector<double> samples);

struct StopRule {
  int min_iterations = 10;
  int max_iterations = 200;
  double target_spread = 0.02;
  double max_seconds = 0.5;
};
// Stop when enough samples agree (spread at most target), or at the iteration or time bound
// (min_iterations within max_seconds; past 4x max_seconds, 3 samples do).
bool should_stop(const SampleStats& s, double elapsed_s, const StopRule& r);

struct ErrorStats {
  double mean = 0, p99 = 0, max = 0;
};
ErrorStats summarize_errors(std::vector<double> errors);

// exp(mean(log x)); 0 when empty or any x <= 0.
double geomean(const std::vector<double>& xs);

}  // namespace kevo
