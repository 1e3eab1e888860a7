// `kevo suite-stats SUITE`: how hard a suite is for sparse attention. Per workload and KV-head
// group: attention entropy, the mass and the output error of an oracle top-k at 1/8..1/64 of the
// tokens, the mass on sinks and on the recent window. CPU only (evaluator/suite_stats.h).
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "evaluator/suite_stats.h"
#include "orchestrator/cli/commands.h"

namespace kevo::cli {
namespace {

struct SuiteStatsCliOptions {
  std::string suite;
  bool json = false;
  bool summary = false;
  std::vector<std::string> workloads;
  SuiteStatsOptions stats;
};

std::string budget_key(int i) {
  return "1/" + std::to_string(kStatsBudgetDivs[i]);
}

nlohmann::ordered_json to_json(const AttentionStats& s) {
  nlohmann::ordered_json mass, err, err_max;
  for (int i = 0; i < kStatsBudgets; ++i) {
    mass[budget_key(i)] = s.topk_mass[i];
    err[budget_key(i)] = s.topk_err[i];
    err_max[budget_key(i)] = s.topk_err_max[i];
  }
  return {
      {"rows", s.rows},           {"entropy", s.entropy},        {"entropy_norm", s.entropy_norm},
      {"topk_mass", mass},        {"topk_rel_err", err},         {"topk_rel_err_max", err_max},
      {"sink_mass", s.sink_mass}, {"recent_mass", s.recent_mass}};
}

nlohmann::ordered_json to_json(const SuiteStats& st) {
  nlohmann::ordered_json out = {{"suite", st.suite},
                                {"file", st.file},
                                {"queries", st.options.queries},
                                {"sinks", st.options.sinks},
                                {"window", st.options.window},
                                {"budgets", nlohmann::ordered_json::array()},
                                {"workloads", nlohmann::ordered_json::array()}};
  for (int i = 0; i < kStatsBudgets; ++i) out["budgets"].push_back(budget_key(i));
  for (const auto& w : st.workloads) {
    nlohmann::ordered_json jw = {
        {"name", w.name},        {"source", w.captured ? "captured" : "generated"},
        {"B", w.shape.B},        {"Hq", w.shape.Hq},
        {"Hkv", w.shape.Hkv},    {"N", w.shape.N},
        {"D", w.shape.D},        {"queries", w.queries},
        {"all", to_json(w.all)}, {"groups", nlohmann::ordered_json::array()}};
    for (size_t h = 0; h < w.groups.size(); ++h) {
      nlohmann::ordered_json g = to_json(w.groups[h]);
      g["kv_head"] = h;
      jw["groups"].push_back(std::move(g));
    }
    out["workloads"].push_back(std::move(jw));
  }
  return out;
}

std::string row_text(const std::string& label, const AttentionStats& s) {
  char buf[256];
  int n = std::snprintf(buf, sizeof buf, "  %4s  %5.3f |", label.c_str(), s.entropy_norm);
  for (int i = 0; i < kStatsBudgets; ++i)
    n += std::snprintf(buf + n, sizeof buf - n, " %5.3f", s.topk_mass[i]);
  n += std::snprintf(buf + n, sizeof buf - n, " |");
  for (int i = 0; i < kStatsBudgets; ++i)
    n += std::snprintf(buf + n, sizeof buf - n, " %6.4f", s.topk_err[i]);
  std::snprintf(buf + n, sizeof buf - n, " | %5.3f %6.3f\n", s.sink_mass, s.recent_mass);
  return buf;
}

std::string render_text(const SuiteStats& st, bool summary) {
  std::ostringstream os;
  const auto& o = st.options;
  os << "suite " << st.suite << " (" << st.file << ")\n"
     << "per query head: H/lnN = entropy / ln N (1 = uniform); mass = softmax mass of the oracle "
        "top-k, k = N/8..N/64;\nerr = ||o_topk - o|| / ||o|| (mean over rows); sink = first "
     << o.sinks << " tokens; recent = last " << o.window << " tokens\n";
  char top[160];
  std::snprintf(top, sizeof top, "%14s|%-24s |%-28s | %s\n", "", " oracle top-k: mass kept",
                " oracle top-k: relative error", "mass on");
  const std::string top_titles = top;
  const std::string titles =
      "    kv  H/lnN |   1/8  1/16  1/32  1/64 |    1/8   1/16   1/32   1/64 |  sink recent\n";
  for (const auto& w : st.workloads) {
    os << "\n"
       << w.name << "  (" << (w.captured ? "captured" : "generated") << ", B=" << w.shape.B
       << " Hq=" << w.shape.Hq << " Hkv=" << w.shape.Hkv << " N=" << w.shape.N << " D=" << w.shape.D
       << ", " << w.queries << (w.queries == 1 ? " query" : " queries") << " per head)\n"
       << top_titles << titles;
    if (!summary) {
      for (size_t h = 0; h < w.groups.size(); ++h) os << row_text(std::to_string(h), w.groups[h]);
    }
    os << row_text("all", w.all);
  }
  return os.str();
}

int run_suite_stats(const SuiteStatsCliOptions& opt) {
  auto suite = load_suite(opt.suite);
  if (!suite.ok()) return fail(kExitFailure, suite.status().message());
  if (!opt.workloads.empty()) {
    std::set<std::string> want(opt.workloads.begin(), opt.workloads.end());
    std::vector<WorkloadSpec> kept;
    std::string names;
    for (auto& w : suite->workloads) {
      names += (names.empty() ? "" : ", ") + w.name;
      if (want.erase(w.name)) kept.push_back(std::move(w));
    }
    if (!want.empty()) {
      return fail(kExitUsage, "--workload " + *want.begin() + ": no such workload in suite " +
                                  suite->name + " (it has: " + names + ")");
    }
    suite->workloads = std::move(kept);
  }
  SuiteStatsOptions so = opt.stats;
  if (isatty(STDERR_FILENO)) {
    so.on_workload = [](size_t i, size_t n, const std::string& name) {
      std::cerr << "suite-stats: " << name << " done (" << i + 1 << "/" << n << ")\n";
    };
  }
  SuiteStats st = compute_suite_stats(*suite, so);
  std::cout << (opt.json ? to_json(st).dump(2) + "\n" : render_text(st, opt.summary));
  return kExitOk;
}

}  // namespace

void add_suite_stats_command(CLI::App& app, Cli& cli) {
  auto opt = std::make_shared<SuiteStatsCliOptions>();
  auto* cmd = app.add_subcommand(
      "suite-stats",
      "How hard a workload suite is for sparse attention. For every workload and KV-head group: "
      "attention entropy, the softmax mass an oracle top-k keeps at 1/8, 1/16, 1/32 and 1/64 of "
      "the tokens and its relative output error, and the mass on sink tokens and on the recent "
      "window. Computed on the CPU in fp64 from the bf16 data the evaluator uses (generated "
      "workloads are generated on the host; captured ones read from their files). Generated data "
      "costs about 20 s of CPU per million "
      "token-heads (B x Hkv x N), most of it the generator: llama3-8b takes about a minute of "
      "CPU, a few seconds on 16 cores; captured data is several times faster.");
  cmd->add_option("suite", opt->suite, "a suite name under configs/suites, or a YAML path")
      ->required();
  cmd->add_flag("--json", opt->json, "print every figure as JSON (means and worst-row errors)");
  cmd->add_flag("--summary", opt->summary, "one row per workload (no per-group rows)");
  cmd->add_option("--workload", opt->workloads, "only this workload (repeatable)");
  cmd->add_option("--queries", opt->stats.queries,
                  "decode queries per head: fresh generated ones, or the first captured ones")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--sinks", opt->stats.sinks, "leading tokens counted as attention sinks")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 30));
  cmd->add_option("--window", opt->stats.window, "newest tokens counted as the recent window")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 30));
  cmd->add_option("--threads", opt->stats.threads, "worker threads (0 = one per hardware thread)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  cmd->callback([&cli, opt] { cli.exit_code = run_suite_stats(*opt); });
}

}  // namespace kevo::cli
