// Hardware counters of one decode kernel (issue 20): what bounds it. Measured by the GPU session
// with CUPTI's range profiler in replay passes after the timed calls (evaluator/cupti_profiler.*),
// carried in KernelTiming::counters, printed by `kevo show` and `kevo eval`, and read to the LLM
// in one line by describe_counters(). Plain data and pure functions, except probe_counters().
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace kevo {

// One warp stall reason (the CUPTI/ncu name without its prefix: "long_scoreboard").
struct StallShare {
  std::string reason;
  double share = 0;      // of all stalled warp-cycles ("selected", i.e. issuing, excluded), 0..1
  double per_issue = 0;  // warp-cycles stalled on it per issued instruction (ncu's Warp State)
};

struct KernelCounters {
  double dram_read_bytes = 0;   // dram__bytes_read.sum
  double dram_write_bytes = 0;  // dram__bytes_write.sum (lines still dirty in L2 at the end of
                                // the kernel are written later and not counted)
  double duration_us = 0;       // gpu__time_duration.sum of the profiled call
  double dram_gbps = 0;         // (read + write) / duration
  double dram_copy_pct = 0;     // dram_gbps as a share of the measured copy bandwidth, in %
  double dram_peak_pct = 0;     // dram__throughput.avg.pct_of_peak_sustained_elapsed
  double l2_hit_pct = 0;        // lts__t_sector_hit_rate.pct
  double warps_per_sm = 0;      // achieved occupancy: sm__warps_active.avg.per_cycle_active
  double theoretical_warps_per_sm = 0;  // what registers, smem and block size allow (driver)
  // The grid against the GPU: its blocks over (SMs x blocks an SM may hold). Below 1 some SMs
  // get no block at all, which warps/SM (an average over the SMs' active cycles) does not show;
  // just above a whole number, the last wave runs nearly empty. 0 when not known.
  double grid_blocks = 0;
  double waves = 0;
  double issue_active_pct = 0;          // smsp__issue_active.avg.pct_of_peak_sustained_active
  std::vector<StallShare> stalls;       // the largest first, at most kTopStalls
};

inline constexpr int kTopStalls = 3;

// When counters are measured (`evaluator.counters`): never, for new elites (and every
// `kevo eval`), or on every evaluation of the main suite.
enum class CountersMode { kOff, kElites, kAll };
std::optional<CountersMode> parse_counters_mode(const std::string& s);  // "off", "elites", "all"
const char* counters_mode_name(CountersMode m);

// The CUPTI metric names the profiler collects, in the order counters_from_values reads them.
const std::vector<std::string>& counter_metric_names();

// Turns the values of counter_metric_names() (same order) into KernelCounters. copy_gbps is the
// GPU's measured copy bandwidth (read + write); 0 leaves dram_copy_pct at 0.
KernelCounters counters_from_values(const std::vector<double>& values, double copy_gbps,
                                    double theoretical_warps_per_sm);

// Sets grid_blocks and waves from the launch's blocks, the blocks one SM may hold (occupancy
// API) and the GPU's SMs; waves stays 0 when either of the last two is unknown.
void set_grid_fill(KernelCounters& c, long long grid_blocks, int blocks_per_sm, int sm_count);

nlohmann::json to_json(const KernelCounters& c);
// Accepts what to_json writes; InvalidArgument naming the problem otherwise.
Result<KernelCounters> kernel_counters_from_json(const nlohmann::json& j);

// One line for a person or an LLM: "reads 46 MB, writes 0.1 MB: 690 GB/s, 21% of the measured
// DRAM bandwidth; L2 hit 12%; 16 warps/SM (32 possible); issuing 35% of cycles; stalled mostly on
// long_scoreboard (62% of stalls: waiting for global or local memory), then wait (12%)".
std::string describe_counters(const KernelCounters& c);

// What a stall reason means, in a few words ("" for an unknown reason).
std::string stall_hint(const std::string& reason);

// For `kevo doctor`: profiles one empty kernel on GPU `device` with kevo's metrics. Returns
// "CUPTI range profiler (<libcupti path>), N passes per profiled call", or Unavailable saying why
// results will carry no counters (no CUPTI, no permission, a GPU that cannot be profiled).
Result<std::string> probe_counters(int device);

}  // namespace kevo
