#include "evaluator/counters.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace kevo {
namespace {

// Hopper's warp states (smsp__warps_issue_stalled_*). Raw counters, not the PC-sampling
// smsp__pcsamp_* ones: the range profiler reads hardware counters only, and these count every
// stalled warp on every cycle rather than a sample. "selected" is the warp that issued.
constexpr const char* kStallReasons[] = {"barrier",
                                         "branch_resolving",
                                         "dispatch_stall",
                                         "drain",
                                         "gmma",
                                         "imc_miss",
                                         "lg_throttle",
                                         "long_scoreboard",
                                         "math_pipe_throttle",
                                         "membar",
                                         "mio_throttle",
                                         "misc",
                                         "no_instruction",
                                         "not_selected",
                                         "selected",
                                         "short_scoreboard",
                                         "sleeping",
                                         "tex_throttle",
                                         "wait"};
constexpr size_t kNumReasons = sizeof(kStallReasons) / sizeof(kStallReasons[0]);

// Order of counter_metric_names() before the stall reasons.
enum Index {
  kDramRead,
  kDramWrite,
  kDuration,
  kDramPeakPct,
  kL2Hit,
  kWarpsActive,
  kIssuePct,
  kIssueSum,
  kFirstStall
};

std::string fmt(const char* f, double x) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), f, x);
  return buf;
}

std::string bytes_text(double b) {
  if (b >= 1e9) return fmt("%.2f GB", b / 1e9);
  if (b >= 1e6) return fmt("%.1f MB", b / 1e6);
  if (b >= 1e3) return fmt("%.1f KB", b / 1e3);
  return fmt("%.0f B", b);
}

double finite_or_zero(double x) {
  return std::isfinite(x) ? x : 0;
}

}  // namespace

std::optional<CountersMode> parse_counters_mode(const std::string& s) {
  if (s == "off") return CountersMode::kOff;
  if (s == "elites") return CountersMode::kElites;
  if (s == "all") return CountersMode::kAll;
  return std::nullopt;
}

const char* counters_mode_name(CountersMode m) {
  switch (m) {
    case CountersMode::kOff:
      return "off";
    case CountersMode::kElites:
      return "elites";
    case CountersMode::kAll:
      return "all";
  }
  return "off";
}

const std::vector<std::string>& counter_metric_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n = {"dram__bytes_read.sum",
                                  "dram__bytes_write.sum",
                                  "gpu__time_duration.sum",
                                  "dram__throughput.avg.pct_of_peak_sustained_elapsed",
                                  "lts__t_sector_hit_rate.pct",
                                  "sm__warps_active.avg.per_cycle_active",
                                  "smsp__issue_active.avg.pct_of_peak_sustained_active",
                                  "smsp__issue_active.sum"};
    for (const char* r : kStallReasons)
      n.push_back(std::string("smsp__warps_issue_stalled_") + r + ".sum");
    return n;
  }();
  return names;
}

KernelCounters counters_from_values(const std::vector<double>& values, double copy_gbps,
                                    double theoretical_warps_per_sm) {
  auto v = [&](size_t i) { return i < values.size() ? finite_or_zero(values[i]) : 0.0; };
  KernelCounters c;
  c.dram_read_bytes = v(kDramRead);
  c.dram_write_bytes = v(kDramWrite);
  c.duration_us = v(kDuration) / 1000.0;  // CUPTI reports nanoseconds
  c.dram_gbps =
      c.duration_us > 0 ? (c.dram_read_bytes + c.dram_write_bytes) / c.duration_us / 1e3 : 0;
  c.dram_copy_pct = copy_gbps > 0 ? 100.0 * c.dram_gbps / copy_gbps : 0;
  c.dram_peak_pct = v(kDramPeakPct);
  c.l2_hit_pct = v(kL2Hit);
  c.warps_per_sm = v(kWarpsActive);
  c.theoretical_warps_per_sm = theoretical_warps_per_sm;
  c.issue_active_pct = v(kIssuePct);
  const double issued = v(kIssueSum);
  double stalled = 0;
  std::vector<StallShare> all;
  for (size_t i = 0; i < kNumReasons; ++i) {
    if (std::string(kStallReasons[i]) == "selected") continue;
    const double cycles = v(kFirstStall + i);
    stalled += cycles;
    all.push_back({kStallReasons[i], cycles, issued > 0 ? cycles / issued : 0});
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const StallShare& a, const StallShare& b) { return a.share > b.share; });
  for (const StallShare& s : all) {
    if (int(c.stalls.size()) == kTopStalls || s.share <= 0 || stalled <= 0) break;
    c.stalls.push_back({s.reason, s.share / stalled, s.per_issue});
  }
  return c;
}

void set_grid_fill(KernelCounters& c, long long grid_blocks, int blocks_per_sm, int sm_count) {
  c.grid_blocks = double(grid_blocks);
  c.waves = blocks_per_sm > 0 && sm_count > 0
                ? double(grid_blocks) / (double(blocks_per_sm) * double(sm_count))
                : 0;
}

nlohmann::json to_json(const KernelCounters& c) {
  nlohmann::json stalls = nlohmann::json::array();
  for (const StallShare& s : c.stalls) {
    stalls.push_back({{"reason", s.reason}, {"share", s.share}, {"per_issue", s.per_issue}});
  }
  return {{"dram_read_bytes", c.dram_read_bytes},
          {"dram_write_bytes", c.dram_write_bytes},
          {"duration_us", c.duration_us},
          {"dram_gbps", c.dram_gbps},
          {"dram_copy_pct", c.dram_copy_pct},
          {"dram_peak_pct", c.dram_peak_pct},
          {"l2_hit_pct", c.l2_hit_pct},
          {"warps_per_sm", c.warps_per_sm},
          {"theoretical_warps_per_sm", c.theoretical_warps_per_sm},
          {"grid_blocks", c.grid_blocks},
          {"waves", c.waves},
          {"issue_active_pct", c.issue_active_pct},
          {"stalls", stalls}};
}

Result<KernelCounters> kernel_counters_from_json(const nlohmann::json& j) {
  if (!j.is_object()) return Status::InvalidArgument("counters: expected an object");
  try {
    KernelCounters c;
    c.dram_read_bytes = j.value("dram_read_bytes", 0.0);
    c.dram_write_bytes = j.value("dram_write_bytes", 0.0);
    c.duration_us = j.value("duration_us", 0.0);
    c.dram_gbps = j.value("dram_gbps", 0.0);
    c.dram_copy_pct = j.value("dram_copy_pct", 0.0);
    c.dram_peak_pct = j.value("dram_peak_pct", 0.0);
    c.l2_hit_pct = j.value("l2_hit_pct", 0.0);
    c.warps_per_sm = j.value("warps_per_sm", 0.0);
    c.theoretical_warps_per_sm = j.value("theoretical_warps_per_sm", 0.0);
    c.grid_blocks = j.value("grid_blocks", 0.0);  // absent in results from before they were kept
    c.waves = j.value("waves", 0.0);
    c.issue_active_pct = j.value("issue_active_pct", 0.0);
    if (j.contains("stalls")) {
      for (const auto& s : j.at("stalls")) {
        c.stalls.push_back(
            {s.at("reason").get<std::string>(), s.value("share", 0.0), s.value("per_issue", 0.0)});
      }
    }
    return c;
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("counters: ") + e.what());
  }
}

std::string stall_hint(const std::string& reason) {
  static const std::pair<const char*, const char*> kHints[] = {
      {"long_scoreboard", "waiting for global or local memory"},
      {"short_scoreboard", "waiting for shared memory or special math"},
      {"mio_throttle", "shared-memory instruction queue full"},
      {"lg_throttle", "global-memory instruction queue full"},
      {"math_pipe_throttle", "math pipe busy"},
      {"wait", "fixed-latency dependencies"},
      {"barrier", "waiting at __syncthreads"},
      {"membar", "waiting at memory fences"},
      {"not_selected", "ready, but another warp issued: issue-bound"},
      {"no_instruction", "instruction cache misses or branches"},
      {"branch_resolving", "resolving branch targets"},
      {"dispatch_stall", "dispatch stalls"},
      {"drain", "draining memory stores at exit"},
      {"imc_miss", "constant cache misses"},
      {"sleeping", "sleeping or yielding"},
      {"tex_throttle", "texture queue full"},
      {"gmma", "waiting for warpgroup MMA"},
      {"misc", "miscellaneous"}};
  for (const auto& [r, h] : kHints) {
    if (reason == r) return h;
  }
  return "";
}

std::string describe_counters(const KernelCounters& c) {
  std::string out = "reads " + bytes_text(c.dram_read_bytes) + ", writes " +
                    bytes_text(c.dram_write_bytes) + ": " + fmt("%.0f GB/s", c.dram_gbps);
  if (c.dram_copy_pct > 0)
    out += ", " + fmt("%.0f%%", c.dram_copy_pct) + " of the measured DRAM bandwidth";
  out +=
      "; L2 hit " + fmt("%.0f%%", c.l2_hit_pct) + "; " + fmt("%.1f", c.warps_per_sm) + " warps/SM";
  if (c.theoretical_warps_per_sm > 0)
    out += " (" + fmt("%.0f", c.theoretical_warps_per_sm) + " possible)";
  if (c.waves > 0) {
    out += "; grid of " + fmt("%.0f", c.grid_blocks) +
           " blocks = " + (c.waves < 10 ? fmt("%.2f", c.waves) : fmt("%.0f", c.waves)) + " waves";
    if (c.waves < 0.95) {
      out += " (less than one: " + fmt("%.0f%%", 100 * (1 - c.waves)) +
             " of the SMs' block slots stay empty)";
    }
  }
  out += "; issuing " + fmt("%.0f%%", c.issue_active_pct) + " of cycles";
  if (!c.stalls.empty()) {
    const StallShare& top = c.stalls.front();
    const std::string hint = stall_hint(top.reason);
    out += "; stalled mostly on " + top.reason + " (" + fmt("%.0f%%", 100 * top.share) +
           " of stalls" + (hint.empty() ? "" : ": " + hint) + ")";
    for (size_t i = 1; i < c.stalls.size(); ++i) {
      out += std::string(i == 1 ? ", then " : ", ") + c.stalls[i].reason + " (" +
             fmt("%.0f%%", 100 * c.stalls[i].share) + ")";
    }
  }
  return out;
}

}  // namespace kevo
