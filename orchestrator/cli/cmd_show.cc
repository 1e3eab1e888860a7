// `kevo show ID`: one program in full: status, lineage, the LLM call that made it, params,
// metrics, per-workload and per-kernel tables, feedback, and its source.
#include <cmath>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "evaluator/counters.h"
#include "orchestrator/cli/archive_cli.h"
#include "orchestrator/cli/commands.h"

namespace kevo::cli {
namespace {

using nlohmann::json;

struct ShowArgs {
  ArchiveArgs archive;
  std::string id;
  bool source_only = false;
};

std::string num(const json& j, const char* key, int significant = 4) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return "-";
  return it->is_number_integer() ? std::to_string(it->get<int64_t>())
                                 : fmt_num(it->get<double>(), significant);
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "-";
}

// Hardware counters of the kernels that have them (the profiled workloads), one row each.
void print_counters(const json& result) {
  Table t({"workload", "kernel", "dram_read_MB", "dram_write_MB", "GB/s", "%copy_bw", "L2_hit%",
           "warps/SM", "issue%", "top stall"});
  for (const auto& wl : result["workloads"]) {
    if (!wl.is_object() || !wl.contains("kernels") || !wl["kernels"].is_array()) continue;
    for (const auto& kn : wl["kernels"]) {
      if (!kn.is_object() || !kn.contains("counters")) continue;
      auto c = kernel_counters_from_json(kn["counters"]);
      if (!c.ok()) continue;
      std::string stall = c->stalls.empty() ? "-"
                                            : c->stalls[0].reason + " " +
                                                  fmt_num(100 * c->stalls[0].share, 2) + "%";
      t.add({str(wl, "name"), str(kn, "name"), fmt_num(c->dram_read_bytes / 1e6, 4),
             fmt_num(c->dram_write_bytes / 1e6, 4), fmt_num(c->dram_gbps, 4),
             fmt_num(c->dram_copy_pct, 3), fmt_num(c->l2_hit_pct, 3), fmt_num(c->warps_per_sm, 3),
             fmt_num(c->issue_active_pct, 3), stall});
    }
  }
  if (t.empty()) {
    if (result.contains("counters") && result["counters"].contains("unavailable")) {
      std::cout << "\nhardware counters: none (" << str(result["counters"], "unavailable") << ")\n";
    }
    return;
  }
  std::cout << "\nhardware counters (one call, replayed after the timed calls)\n" << t.render();
}

// The spread of one workload's speedup (its two medians' spreads combined), "-" when unknown.
std::string workload_noise(const json& wl) {
  double d = wl.value("decode_spread", 0.0), n = wl.value("dense_spread", 0.0);
  if (d <= 0 && n <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f%%", 100 * std::sqrt(d * d + n * n));
  return buf;
}

void print_workloads(const json& result) {
  if (!result.is_object() || !result.contains("workloads") || !result["workloads"].is_array() ||
      result["workloads"].empty()) {
    return;
  }
  Table w({"workload", "B", "N", "decode_us", "dense_us", "speedup", "noise", "mean_rel_err",
           "p99_rel_err", "build_us"});
  Table k({"workload", "kernel", "us", "registers", "smem_bytes", "local_bytes"});
  for (const auto& wl : result["workloads"]) {
    if (!wl.is_object()) continue;
    w.add({str(wl, "name"), num(wl, "B"), num(wl, "N"), num(wl, "decode_us"), num(wl, "dense_us"),
           num(wl, "speedup"), workload_noise(wl), num(wl, "mean_rel_err"), num(wl, "p99_rel_err"),
           num(wl, "build_us")});
    if (!wl.contains("kernels") || !wl["kernels"].is_array()) continue;
    for (const auto& kn : wl["kernels"]) {
      k.add({str(wl, "name"), str(kn, "name"), num(kn, "us"), num(kn, "registers"),
             num(kn, "smem_bytes"), num(kn, "local_bytes")});
    }
  }
  std::cout << "\nworkloads\n" << w.render();
  if (!k.empty()) std::cout << "\nkernels (decode phase, in plan order)\n" << k.render();
  print_counters(result);
}

void print_text(ArchiveReader& reader, const Program& p, const std::optional<Program>& parent,
                const std::optional<LlmCall>& call) {
  const ArchiveConfig& cfg = reader.config();
  std::cout << "program #" << p.id << "  " << p.status;
  if (p.fitness) std::cout << "  " << cfg.fitness << " " << fmt_num(*p.fitness);
  if (p.fitness && fmt_noise(p.metrics) != "-") {
    std::cout << "  (timing noise " << fmt_noise(p.metrics)
              << ": closer results are not told apart)";
  }
  std::cout << "\n";
  Table info({"", ""});
  info.add({"island", std::to_string(p.island)});
  info.add({"generation", std::to_string(p.generation)});
  info.add({"origin", p.origin});
  if (parent) {
    info.add({"parent", "#" + std::to_string(parent->id) + " (" + parent->status +
                            (parent->fitness ? ", " + cfg.fitness + " " + fmt_num(*parent->fitness)
                                             : "") + ")"});
  } else {
    info.add({"parent", "none (a seed)"});
  }
  if (call) {
    info.add({"llm call", "#" + std::to_string(call->id) + " " + call->model + " (" +
                              call->provider + "), " + fmt_int(call->tokens_in) + " tokens in, " +
                              fmt_int(call->tokens_out) + " out, " + fmt_usd(call->cost_usd) +
                              ", " + fmt_num(call->latency_s, 3) + " s" +
                              (call->status == "ok" ? "" : ", " + call->status)});
  }
  if (!p.cell.empty()) info.add({"cell", cell_label(cfg, p.cell)});
  info.add({"created", fmt_time(p.created_at)});
  if (p.evaluated_at) info.add({"evaluated", fmt_time(*p.evaluated_at)});
  info.add({"hash", p.hash});
  std::string params;
  for (const auto& [k, v] : resolved_params(p)) {
    params += (params.empty() ? "" : " ") + k + "=" + std::to_string(v);
  }
  if (params.empty()) params = "(none)";
  if (!p.params.empty()) {
    std::string set;
    for (const auto& [k, v] : p.params) set += (set.empty() ? "" : ", ") + k;
    params += "  (set by the program: " + set + "; the rest are the file's defaults)";
  }
  info.add({"params", params});
  std::string rendered = info.render();
  std::cout << rendered.substr(rendered.find('\n') + 1);  // no header row
  if (!p.message.empty()) std::cout << "\nmessage\n  " << p.message << "\n";
  if (!p.metrics.empty()) {
    Table m({"metric", "value"});
    for (const auto& [k, v] : p.metrics.items()) {
      m.add({k, v.is_number() ? fmt_num(v.get<double>(), 6) : v.dump()});
    }
    std::cout << "\nmetrics\n" << m.render();
  }
  print_workloads(p.result);
  if (p.holdout.is_object()) {
    std::cout << "\nholdout  " << str(p.holdout, "status");
    if (p.holdout.contains("metrics")) {
      for (const auto& f : {cfg.fitness, std::string("mean_rel_err"), std::string("p99_rel_err")}) {
        std::cout << "  " << f << " " << fmt_metric(p.holdout["metrics"], f);
      }
    }
    std::cout << "\n";
  }
  if (!p.feedback.empty()) std::cout << "\nfeedback\n" << p.feedback << "\n";
  if (!p.compile_log.empty()) std::cout << "\ncompile log\n" << p.compile_log << "\n";
  std::cout << "\nsource (params written in)\n" << source_with_params(p);
}

json to_json(const Program& p, const std::optional<LlmCall>& call) {
  json llm = nullptr;
  if (call) {
    llm = {{"id", call->id}, {"model", call->model}, {"provider", call->provider},
           {"tokens_in", call->tokens_in}, {"tokens_out", call->tokens_out},
           {"cost_usd", call->cost_usd}, {"latency_s", call->latency_s}, {"status", call->status}};
  }
  return {{"id", p.id},
          {"hash", p.hash},
          {"status", p.status},
          {"message", p.message},
          {"fitness", p.fitness ? json(*p.fitness) : json()},
          {"island", p.island},
          {"generation", p.generation},
          {"origin", p.origin},
          {"parent", p.parent ? json(*p.parent) : json()},
          {"cell", cell_bins(p.cell)},
          {"params", resolved_params(p)},
          {"param_overrides", p.params},
          {"metrics", p.metrics},
          {"result", p.result},
          {"holdout", p.holdout},
          {"artifacts", {{"compile_log", p.compile_log}, {"feedback", p.feedback}}},
          {"llm_call", llm},
          {"created_at", p.created_at},
          {"evaluated_at", p.evaluated_at ? json(*p.evaluated_at) : json()},
          {"source", source_with_params(p)}};
}

}  // namespace

void add_show_command(CLI::App& app, Cli& cli) {
  auto a = std::make_shared<ShowArgs>();
  auto* cmd = app.add_subcommand("show", "Show one program: status, parent, the LLM call that "
                                         "made it, params, metrics, per-workload and per-kernel "
                                         "timings, feedback and source");
  cmd->add_option("id", a->id, "program id (as listed by `kevo top`)")->required();
  add_archive_args(cmd, a->archive);
  cmd->add_flag("--source", a->source_only,
                "print only the source, with the program's params written into its kevo:param "
                "lines (save it as a .cu file: it compiles to the kernel that was measured)");
  cmd->callback([&cli, a] {
    auto id = parse_program_id(a->id);
    if (!id.ok()) {
      cli.exit_code = fail(kExitUsage, id.status().message());
      return;
    }
    auto reader = open_archive_reader(a->archive);
    if (!reader.ok()) {
      cli.exit_code = fail(open_failure_code(reader.status()), reader.status().message());
      return;
    }
    auto p = (*reader)->program(*id);
    if (!p.ok()) {
      cli.exit_code = fail(kExitFailure, p.status().message());
      return;
    }
    if (a->source_only) {
      std::cout << source_with_params(*p);
      return;
    }
    std::optional<LlmCall> call;
    if (p->llm_call) {
      auto c = (*reader)->llm_call(*p->llm_call);
      if (c.ok()) call = *c;
    }
    if (a->archive.json) {
      std::cout << to_json(*p, call).dump(2, ' ', false, json::error_handler_t::replace) << "\n";
      return;
    }
    std::optional<Program> parent;
    if (p->parent) {
      auto par = (*reader)->program(*p->parent);
      if (par.ok()) parent = *par;
    }
    print_text(**reader, *p, parent, call);
  });
}

}  // namespace kevo::cli
