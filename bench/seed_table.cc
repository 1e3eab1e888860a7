// bench_seed_table: the figures behind seeds/README.md's table, from one warm GPU session.
// Each candidate file is evaluated --evals times on the main suite (every evaluation times the
// dense baseline again on the same data, so each gives its own speedups) and once on the holdout
// suite; every EvalResult is written to the JSON file that scripts/seeds_table.py renders.
// A file may carry param overrides: seeds/dsa_indexer.cu:TOPK_DIV=32,RSAMP=16.
// Usage: bench_seed_table [--suite NAME] [--holdout NAME|none] [--evals N] --json OUT
// FILE[:P=V,...]... Exit: 0 when every evaluation ran (whatever its status), 2 on a bad command
// line (the message names what is wrong), 1 on a bad override or an unreadable file, 3
// without a GPU.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/paths.h"
#include "evaluator/evaluator.h"
#include "evaluator/gpu_info.h"

using namespace kevo;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

struct Entry {
  std::string file;
  std::map<std::string, int64_t> params;
};

// "path.cu:A=1,B=2" -> {path.cu, {A: 1, B: 2}}; false on a malformed override.
bool parse_entry(const std::string& arg, Entry& out) {
  const size_t colon = arg.find(".cu:");
  out.file = colon == std::string::npos ? arg : arg.substr(0, colon + 3);
  if (colon == std::string::npos) return true;
  std::string rest = arg.substr(colon + 4);
  size_t pos = 0;
  while (pos < rest.size()) {
    size_t comma = rest.find(',', pos);
    if (comma == std::string::npos) comma = rest.size();
    const std::string kv = rest.substr(pos, comma - pos);
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return false;
    char* end = nullptr;
    const long long v = std::strtoll(kv.c_str() + eq + 1, &end, 10);
    if (*end != '\0') return false;
    out.params[kv.substr(0, eq)] = v;
    pos = comma + 1;
  }
  return true;
}

const char* kUsage =
    "usage: bench_seed_table [--suite NAME] [--holdout NAME|none] [--evals N] --json OUT "
    "FILE[:P=V,...]...\n";

}  // namespace

int main(int argc, char** argv) {
  std::string suite = "llama3-8b", holdout = "holdout", json_path;
  int evals = 5;
  std::vector<Entry> entries;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--suite") && i + 1 < argc)
      suite = argv[++i];
    else if (!std::strcmp(argv[i], "--holdout") && i + 1 < argc)
      holdout = argv[++i];
    else if (!std::strcmp(argv[i], "--evals") && i + 1 < argc)
      evals = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--json") && i + 1 < argc)
      json_path = argv[++i];
    else if (!std::strcmp(argv[i], "--help")) {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (argv[i][0] == '-') {
      std::fprintf(stderr, "bench_seed_table: unknown option '%s' or its value missing\n%s",
                   argv[i], kUsage);
      return 2;
    } else {
      Entry e;
      if (!parse_entry(argv[i], e)) {
        std::fprintf(stderr, "bad param overrides in '%s' (want FILE.cu:NAME=INT,...)\n", argv[i]);
        return 1;
      }
      entries.push_back(e);
    }
  }
  // Each refusal says what is missing: a GPU call spent on a bare usage line is a call lost.
  const char* missing = entries.empty()     ? "no FILE.cu given"
                        : json_path.empty() ? "--json OUT is required (render it with "
                                              "scripts/seeds_table.py OUT)"
                        : evals < 1         ? "--evals must be at least 1"
                                            : nullptr;
  if (missing) {
    std::fprintf(stderr, "bench_seed_table: %s\n%s", missing, kUsage);
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // a run stopped by a time limit keeps its log
  auto gpus = query_gpus(true);
  if (!gpus.ok() || gpus->empty()) {
    std::fprintf(stderr, "no GPU: %s\n",
                 gpus.ok() ? "none found" : gpus.status().message().c_str());
    return 3;
  }
  auto session = open_gpu_session(0, EvaluatorConfig{});
  if (!session.ok()) {
    std::fprintf(stderr, "%s\n", session.status().message().c_str());
    return 3;
  }
  nlohmann::json report = {{"gpu", (*gpus)[0].name},
                           {"copy_gbps", (*gpus)[0].copy_gbps},
                           {"suite", suite},
                           {"holdout", holdout},
                           {"evals", evals}};
  std::printf("%s, copy %.0f GB/s\n", (*gpus)[0].name.c_str(), (*gpus)[0].copy_gbps);
  nlohmann::json rows = nlohmann::json::array();
  for (const Entry& e : entries) {
    std::string src;
    if (!read_text_file(e.file, src).ok()) {
      std::fprintf(stderr, "cannot read %s\n", e.file.c_str());
      return 1;
    }
    nlohmann::json row = {{"file", e.file}, {"params", e.params}};
    const Candidate c{e.file, src, e.params};
    nlohmann::json runs = nlohmann::json::array();
    const auto t = std::chrono::steady_clock::now();
    for (int i = 0; i < evals; ++i) {
      EvalResult r = evaluate_in_process(**session, c, CompileOptions{}, suite);
      std::printf("%-40s eval %d: %-14s speedup %.3f mean err %.4f worst call %.4f\n",
                  e.file.c_str(), i, eval_status_name(r.status), r.metrics["speedup"],
                  r.metrics["mean_rel_err"], r.metrics["worst_call_err"]);
      if (!r.ok()) std::printf("    %s\n", r.message.substr(0, 300).c_str());
      runs.push_back(to_json(r));
      if ((*session)->poisoned()) break;
    }
    row["evals"] = runs;
    if (holdout != "none" && !(*session)->poisoned()) {
      EvalResult h = evaluate_in_process(**session, c, CompileOptions{}, holdout);
      std::printf("%-40s holdout: %-14s mean err %.4f worst call %.4f\n", e.file.c_str(),
                  eval_status_name(h.status), h.metrics["mean_rel_err"],
                  h.metrics["worst_call_err"]);
      row["holdout"] = to_json(h);
    }
    row["wall_s"] = seconds_since(t);
    rows.push_back(row);
    if ((*session)->poisoned()) {
      std::printf("the GPU context is lost; stopping\n");
      break;
    }
    nlohmann::json partial = report;  // written after every file: a lost context keeps the rest
    partial["seeds"] = rows;
    std::ofstream(json_path) << partial.dump(1) << "\n";
  }
  report["seeds"] = rows;
  std::ofstream(json_path) << report.dump(1) << "\n";
  return 0;
}
