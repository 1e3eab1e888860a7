// bench_counters: what hardware counters (issue 20) cost and whether they leave timings alone.
// For each candidate file, in one warm GPU session: an evaluation without counters (A), one with
// counters (B), and one without again (C). Prints the wall time of each, the counters' own time
// (CountersRun::ms, the added GPU time: replay passes, waits, CUPTI's host work) and the
// timings of A and C side by side (C runs after the profiler was enabled and disabled: a
// profiler left behind would show there). The counters of B go to --json for comparisons.
// Usage: bench_counters [--suite NAME|PATH] [--json FILE] [--once] FILE.cu...
//   --once: only the evaluation with counters (B), for their figures.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/paths.h"
#include "evaluator/evaluator.h"

using namespace kevo;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

struct Timed {
  EvalResult r;
  double wall_s = 0;
};

Timed run(GpuSession& s, const Candidate& c, const std::string& suite, bool counters) {
  EvalOptions o;
  o.counters = counters;
  auto t = std::chrono::steady_clock::now();
  Timed out{evaluate_in_process(s, c, {}, suite, o), 0};
  out.wall_s = seconds_since(t);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string suite = "llama3-8b", json_path;
  std::vector<std::string> files;
  bool once = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--suite") && i + 1 < argc)
      suite = argv[++i];
    else if (!std::strcmp(argv[i], "--json") && i + 1 < argc)
      json_path = argv[++i];
    else if (!std::strcmp(argv[i], "--once"))
      once = true;
    else if (argv[i][0] != '-')
      files.push_back(argv[i]);
    else {
      std::fprintf(stderr,
                   "usage: bench_counters [--suite NAME] [--json FILE] [--once] FILE.cu...\n");
      return 2;
    }
  }
  EvaluatorConfig cfg;
  cfg.suite = suite;
  auto session = open_gpu_session(0, cfg);
  if (!session.ok()) {
    std::fprintf(stderr, "%s\n", session.status().message().c_str());
    return 3;
  }
  nlohmann::json report = {{"suite", suite}, {"files", nlohmann::json::array()}};
  std::printf("%-26s %-8s %8s %8s %8s %10s %7s %s\n", "file", "status", "A s", "B s", "C s",
              "counters", "passes", "timings C/A (decode, dense) per workload");
  for (const std::string& file : files) {
    std::string src;
    if (!read_text_file(file, src).ok()) {
      std::fprintf(stderr, "cannot read %s\n", file.c_str());
      continue;
    }
    Candidate c{file, src, {}};
    Timed a, cc;
    if (!once) a = run(**session, c, suite, false);
    Timed b = run(**session, c, suite, true);
    if (!once) cc = run(**session, c, suite, false);
    nlohmann::json row = {{"file", file},
                          {"status", eval_status_name(b.r.status)},
                          {"wall_s", {a.wall_s, b.wall_s, cc.wall_s}},
                          {"with_counters", to_json(b.r)}};
    std::printf("%-26s %-8s %8.2f %8.2f %8.2f", file.c_str(), eval_status_name(b.r.status),
                a.wall_s, b.wall_s, cc.wall_s);
    if (b.r.counters) {
      std::printf(" %7.0f ms %7d", b.r.counters->ms, b.r.counters->passes);
      row["counters_ms"] = b.r.counters->ms;
      if (!b.r.counters->unavailable.empty())
        std::printf("  none: %s", b.r.counters->unavailable.c_str());
    }
    nlohmann::json ratios = nlohmann::json::array();
    if (!once && a.r.ok() && cc.r.ok()) {
      for (size_t i = 0; i < a.r.workloads.size() && i < cc.r.workloads.size(); ++i) {
        const auto& wa = a.r.workloads[i];
        const auto& wc = cc.r.workloads[i];
        const double d = wa.decode_us > 0 ? wc.decode_us / wa.decode_us : 0;
        const double n = wa.dense_us > 0 ? wc.dense_us / wa.dense_us : 0;
        std::printf("  %s %.3f %.3f", wa.name.c_str(), d, n);
        ratios.push_back({{"workload", wa.name}, {"decode", d}, {"dense", n}});
      }
    }
    row["timing_ratio_after_counters"] = ratios;
    std::printf("\n");
    if (!b.r.ok()) std::printf("    %s\n", b.r.message.substr(0, 300).c_str());
    for (const auto& w : b.r.workloads) {
      for (const auto& k : w.kernels) {
        if (k.counters) {
          std::printf("    %s %s (%.2f us timed): %s\n", w.name.c_str(), k.name.c_str(), k.us,
                      describe_counters(*k.counters).c_str());
        }
      }
    }
    report["files"].push_back(row);
  }
  if (!json_path.empty()) std::ofstream(json_path) << report.dump(2) << "\n";
  return 0;
}
