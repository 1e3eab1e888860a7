// Verdicts of the anti-cheat and accuracy checks, from the numbers the GPU checks wrote. Pure
// functions (tested without a GPU); the messages say what was caught and where, for a person
// and for the LLM that wrote the kernel.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "evaluator/eval_result.h"

namespace kevo {

// A failed check or step of an evaluation: the status the candidate gets and why. The one failure
// type of the GPU back end (the checks here, the session's load and plan steps).
struct Failure {
  EvalStatus status;
  std::string message;
};

// One call's per-row results: rows x {err vs own reference, vs previous call's, vs first
// call's, non-finite flag}.
struct CallErrors {
  double mean_cur = 0, mean_prev = 0, mean_first = 0;
  double worst = 0;
  int worst_row = 0;
  int nonfinite_rows = 0;
  int first_nonfinite_row = -1;
};
CallErrors summarize_call(const float* errs, int rows);

// "batch 0, query head 5"
std::string row_name(int row, int Hq);

// Accuracy of one checked call. `call` is 0 for the first (accuracy) call; `first_mean` is that
// call's mean error (for telling cached answers from inaccurate ones).
std::optional<Failure> judge_call(const CallErrors& e, int call, int Hq, double tolerance,
                                  double first_mean);

// Two calls with the same query and seed: `diff` holds their per-row relative difference.
std::optional<Failure> judge_determinism(const CallErrors& diff, int Hq, double tolerance);

// Guard bands of the named buffers (two bands each: leading, trailing). `bad` counts changed
// bytes per band, `first` the lowest changed offset in the band.
std::optional<Failure> judge_guards(const std::vector<std::string>& names,
                                    const std::vector<uint32_t>& bad,
                                    const std::vector<uint64_t>& first, uint64_t band_bytes,
                                    const std::string& phase);

// A read-only buffer changed (checksum before != after).
Failure input_written(const std::string& buffer, const std::string& phase);

}  // namespace kevo
