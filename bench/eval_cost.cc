// bench_eval_cost: what the evaluator itself costs, and how strong the dense baseline is.
//   - NVRTC compile time of seeds/dense_flashdecode.cu (cold, no cache);
//   - opening a GPU session (context, copy-bandwidth measurement, internal kernels);
//   - wall time of full evaluations of the dense seed on a suite: the first (generates the
//     suite's data, compiles the baseline) and then warm ones (the target: under 3 s);
//   - the spread of the speedup between warm evaluations;
//   - the dense kernel's bandwidth per workload (K and V bytes / time) as a share of the
//     measured copy bandwidth, for the default params and, with --sweep, other param choices.
// Usage: bench_eval_cost [--suite NAME] [--sweep [--sweep-file FILE]] [--json FILE] [--also F.cu...]
//   --also: after the dense figures, evaluate these candidate files in the same warm session
//   (status, speedup, errors, wall time per file).
//   --sweep-file: one param set per line, "NAME=VALUE NAME=VALUE" (default: a built-in list).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/paths.h"
#include "common/yaml_config.h"
#include "evaluator/evaluator.h"
#include "evaluator/gpu_info.h"
#include "evaluator/workloads.h"

using namespace kevo;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

nlohmann::json bandwidth(const EvalResult& r, const Suite& suite, double copy_gbps,
                         bool candidate_time) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < r.workloads.size() && i < suite.workloads.size(); ++i) {
    const WorkloadResult& w = r.workloads[i];
    const Shape& s = suite.workloads[i].shape;
    const double bytes = 2.0 * s.B * s.Hkv * double(s.N) * s.D * 2;
    const double us = candidate_time ? w.decode_us : w.dense_us;
    const double gbps = bytes / us / 1e3;
    out.push_back({{"workload", w.name}, {"us", us}, {"gbps", gbps},
                   {"share_of_copy", copy_gbps > 0 ? gbps / copy_gbps : 0.0}});
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string suite_name = "llama3-8b", json_path, sweep_file;
  bool sweep = false;
  std::vector<std::string> also;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--suite") && i + 1 < argc) suite_name = argv[++i];
    else if (!std::strcmp(argv[i], "--json") && i + 1 < argc) json_path = argv[++i];
    else if (!std::strcmp(argv[i], "--sweep")) sweep = true;
    else if (!std::strcmp(argv[i], "--sweep-file") && i + 1 < argc) sweep_file = argv[++i];
    else if (!std::strcmp(argv[i], "--also")) {
      while (i + 1 < argc && argv[i + 1][0] != '-') also.push_back(argv[++i]);
    }
    else {
      std::fprintf(stderr, "usage: bench_eval_cost [--suite NAME] [--sweep] [--json FILE]\n");
      return 2;
    }
  }
  auto path = data_path("seeds/dense_flashdecode.cu");
  std::string source;
  if (!path.ok() || !read_text_file(*path, source).ok()) {
    std::fprintf(stderr, "cannot read seeds/dense_flashdecode.cu\n");
    return 1;
  }
  auto suite = load_suite(suite_name);
  if (!suite.ok()) {
    std::fprintf(stderr, "%s\n", suite.status().message().c_str());
    return 1;
  }
  nlohmann::json report;
  Candidate dense{"dense_flashdecode", source, {}};

  CompileOptions opt;
  opt.arch = "sm_90a";
  auto t = std::chrono::steady_clock::now();
  CompileOutcome compiled = compile_candidate(dense, opt);
  report["compile_dense_ms"] = seconds_since(t) * 1000;
  report["compile_dense_ms_reported"] = compiled.compile_ms;
  std::printf("compile of the dense seed (cold): %.0f ms (%s)\n", seconds_since(t) * 1000,
              eval_status_name(compiled.status));

  auto gpus = query_gpus(true);
  if (!gpus.ok()) {
    std::fprintf(stderr, "%s\n", gpus.status().message().c_str());
    return 3;
  }
  const double copy_gbps = (*gpus)[0].copy_gbps;
  report["gpu"] = (*gpus)[0].name;
  report["copy_gbps"] = copy_gbps;
  t = std::chrono::steady_clock::now();
  auto session = open_gpu_session(0, EvaluatorConfig{});
  if (!session.ok()) {
    std::fprintf(stderr, "%s\n", session.status().message().c_str());
    return 3;
  }
  report["open_session_s"] = seconds_since(t);
  std::printf("open a GPU session: %.2f s (copy bandwidth %.0f GB/s)\n", seconds_since(t), copy_gbps);

  std::vector<double> walls, speedups;
  EvalResult last;
  for (int i = 0; i < 4; ++i) {
    t = std::chrono::steady_clock::now();
    last = evaluate_in_process(**session, dense, opt, suite_name);
    walls.push_back(seconds_since(t));
    speedups.push_back(last.metrics["speedup"]);
    std::printf("evaluation %d (%s): %.2f s wall, speedup %.4f, mean err %.5f%s\n", i,
                eval_status_name(last.status), walls.back(), speedups.back(),
                last.metrics["mean_rel_err"], i == 0 ? " (cold: data generation, baseline compile)" : "");
    if (!last.ok()) {
      std::printf("  %s\n", last.message.c_str());
      break;
    }
  }
  report["eval_wall_s"] = walls;
  report["eval_speedups"] = speedups;
  report["last_result"] = to_json(last);
  if (last.ok()) {
    auto bw = bandwidth(last, *suite, copy_gbps, false);
    report["dense_bandwidth"] = bw;
    std::printf("\n%-14s %10s %8s %8s\n", "workload", "dense us", "GB/s", "of copy");
    for (const auto& w : bw) {
      std::printf("%-14s %10.1f %8.0f %7.1f%%\n", w["workload"].get<std::string>().c_str(),
                  w["us"].get<double>(), w["gbps"].get<double>(), 100 * w["share_of_copy"].get<double>());
    }
    std::printf("\n%s", last.feedback.c_str());
  }

  if (sweep && last.ok()) {
    // Param choices of the dense seed, timed as candidates against the default baseline.
    std::vector<std::map<std::string, int64_t>> configs = {
        {{"STAGES", 3}}, {{"WARPS", 4}}, {{"CTAS", 264}, {"WARPS", 4}},
        {{"CTAS", 264}, {"WARPS", 4}, {"STAGES", 3}}, {{"CTAS", 396}, {"WARPS", 4}}};
    if (!sweep_file.empty()) {
      configs.clear();
      std::ifstream in(sweep_file);
      for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        std::map<std::string, int64_t> params;
        for (std::string w; words >> w;) {
          auto eq = w.find('=');
          if (eq != std::string::npos) params[w.substr(0, eq)] = std::stoll(w.substr(eq + 1));
        }
        if (!params.empty()) configs.push_back(params);
      }
    }
    nlohmann::json rows = nlohmann::json::array();
    std::printf("\nparam sweep (candidate GB/s per workload; speedup vs default dense):\n");
    for (const auto& params : configs) {
      Candidate c{"dense-sweep", source, params};
      EvalResult r = evaluate_in_process(**session, c, opt, suite_name);
      std::string name;
      for (const auto& [k, v] : params) name += k + "=" + std::to_string(v) + " ";
      std::printf("%-24s %s", name.c_str(), eval_status_name(r.status));
      nlohmann::json row = {{"params", params}, {"status", eval_status_name(r.status)}};
      if (r.ok()) {
        auto bw = bandwidth(r, *suite, copy_gbps, true);
        for (const auto& w : bw) std::printf(" %6.0f", w["gbps"].get<double>());
        std::printf("  speedup %.3f", r.metrics["speedup"]);
        row["bandwidth"] = bw;
        row["speedup"] = r.metrics["speedup"];
      } else {
        std::printf(" %s", r.message.c_str());
      }
      std::printf("\n");
      rows.push_back(row);
    }
    report["sweep"] = rows;
  }
  if (!also.empty()) {
    std::printf("\nother candidates on %s:\n", suite_name.c_str());
    nlohmann::json rows = nlohmann::json::array();
    for (const std::string& file : also) {
      std::string src;
      if (!read_text_file(file, src).ok()) continue;
      t = std::chrono::steady_clock::now();
      EvalResult r = evaluate_in_process(**session, {file, src, {}}, opt, suite_name);
      const double wall = seconds_since(t);
      std::printf("%-28s %-15s speedup %6.3f  err mean %.4f p99 %.4f  index %5.1f B/tok  %.2f s\n",
                  file.c_str(), eval_status_name(r.status), r.metrics["speedup"],
                  r.metrics["mean_rel_err"], r.metrics["p99_rel_err"],
                  r.metrics["index_bytes_per_token"], wall);
      if (!r.ok()) std::printf("    %s\n", r.message.substr(0, 400).c_str());
      else std::printf("%s", r.feedback.c_str());
      nlohmann::json row = to_json(r);
      row["file"] = file;
      row["wall_s"] = wall;
      rows.push_back(row);
    }
    report["also"] = rows;
  }
  if (!json_path.empty()) std::ofstream(json_path) << report.dump(1) << "\n";
  return last.ok() ? 0 : 1;
}
