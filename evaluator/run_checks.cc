#include "evaluator/run_checks.h"

#include <cmath>
#include <cstdio>

namespace kevo {

namespace {
std::string fmt(double x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4g", x);
  return buf;
}
}  // namespace

CallErrors summarize_call(const float* errs, int rows) {
  CallErrors e;
  double s0 = 0, s1 = 0, s2 = 0;
  for (int r = 0; r < rows; ++r) {
    const float* x = errs + 4 * r;
    if (x[3] != 0 || !std::isfinite(x[0])) {
      if (e.nonfinite_rows++ == 0) e.first_nonfinite_row = r;
      continue;
    }
    s0 += x[0];
    s1 += x[1];
    s2 += x[2];
    if (x[0] > e.worst) {
      e.worst = x[0];
      e.worst_row = r;
    }
  }
  int finite = rows - e.nonfinite_rows;
  if (finite > 0) {
    e.mean_cur = s0 / finite;
    e.mean_prev = s1 / finite;
    e.mean_first = s2 / finite;
  }
  return e;
}

std::string row_name(int row, int Hq) {
  return "batch " + std::to_string(row / Hq) + ", query head " + std::to_string(row % Hq);
}

std::optional<Failure> judge_call(const CallErrors& e, int call, int Hq, double tolerance,
                                  double first_mean) {
  const std::string which =
      call == 0 ? "the first call" : "call #" + std::to_string(call) + " (a fresh query)";
  if (e.nonfinite_rows > 0) {
    return Failure{EvalStatus::kInaccurate,
                   std::to_string(e.nonfinite_rows) + " output rows hold NaN or Inf after " +
                       which + ", first at " + row_name(e.first_nonfinite_row, Hq) +
                       ". The output is filled with NaN before every call, so rows the decode "
                       "kernels never write show up here; NaN also comes from reading "
                       "uninitialised workspace or dividing by a zero softmax sum."};
  }
  // A fresh query answered with an earlier query's output: far from its own reference, close
  // to an earlier one. Only possible by caching results (or skipping work) across calls.
  const double earlier = std::min(e.mean_prev, e.mean_first);
  if (call > 0 && e.mean_cur > std::max(2 * first_mean, first_mean + 0.02) &&
      earlier < 0.5 * e.mean_cur) {
    return Failure{EvalStatus::kCheatDetected,
                   which + " returned the answer to an earlier query: mean relative error " +
                       fmt(e.mean_cur) + " against its own query's reference but " + fmt(earlier) +
                       " against an earlier query's (the first call had " + fmt(first_mean) +
                       "). Every call gets a fresh query; results must not be "
                       "cached or reused across calls."};
  }
  if (e.mean_cur > tolerance) {
    std::string extra = call > 0 ? " (the first call had " + fmt(first_mean) + ")" : "";
    return Failure{EvalStatus::kInaccurate,
                   "mean relative error " + fmt(e.mean_cur) + " on " + which +
                       " is above the tolerance " + fmt(tolerance) + extra + "; worst row " +
                       row_name(e.worst_row, Hq) + " at " + fmt(e.worst) + "."};
  }
  return std::nullopt;
}

std::optional<Failure> judge_determinism(const CallErrors& diff, int Hq, double tolerance) {
  if (diff.nonfinite_rows == 0 && diff.worst <= tolerance) return std::nullopt;
  std::string what = diff.nonfinite_rows > 0
                         ? std::to_string(diff.nonfinite_rows) + " rows are NaN in one of them"
                         : "row " + row_name(diff.worst_row, Hq) + " differs by " +
                               fmt(diff.worst) + " (relative)";
  return Failure{EvalStatus::kInaccurate,
                 "two calls with the same query and seed disagree: " + what +
                     ". The workspace is refilled with fresh garbage before every call, so this "
                     "means the kernels read workspace they did not write first, or race."};
}

std::optional<Failure> judge_guards(const std::vector<std::string>& names,
                                    const std::vector<uint32_t>& bad,
                                    const std::vector<uint64_t>& first, uint64_t band_bytes,
                                    const std::string& phase) {
  for (size_t i = 0; i < names.size(); ++i) {
    for (int side = 0; side < 2; ++side) {
      size_t band = 2 * i + side;
      if (band >= bad.size() || bad[band] == 0) continue;
      // `first` is the lowest changed offset in the band: the farthest change before the buffer,
      // the nearest after it.
      std::string where =
          side == 0 ? "changes reach " + std::to_string(band_bytes - first[band]) +
                          " bytes before its start"
                    : "changes start at byte " + std::to_string(first[band]) + " past its end";
      return Failure{EvalStatus::kCheatDetected,
                     "the " + phase + " wrote outside buffer '" + names[i] +
                         "': " + std::to_string(bad[band]) + " bytes of the guard band " +
                         (side == 0 ? "before" : "after") + " it changed (" + where +
                         "). Kernels may write only o, the index (build phase) and the "
                         "workspace, within their sizes."};
    }
  }
  return std::nullopt;
}

Failure input_written(const std::string& buffer, const std::string& phase) {
  std::string rule = buffer == "index" ? "the index is read-only during decode"
                                       : "q, k and v are read-only inputs";
  return Failure{EvalStatus::kCheatDetected, "the " + phase + " modified '" + buffer +
                                                 "' (its checksum changed): " + rule + "."};
}

}  // namespace kevo
