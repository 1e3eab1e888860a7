// `kevo diff A B`: what changed from program A to program B: params and a unified source diff.
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "archive/diff.h"
#include "orchestrator/cli/archive_cli.h"
#include "orchestrator/cli/commands.h"

namespace kevo::cli {
namespace {

using nlohmann::json;

struct DiffArgs {
  ArchiveArgs archive;
  std::string a, b;
  int context = 3;
};

std::string label(const Program& p, const std::string& fitness_metric) {
  return "#" + std::to_string(p.id) + " (" + p.status +
         (p.fitness ? ", " + fitness_metric + " " + fmt_num(*p.fitness) : "") + ")";
}

}  // namespace

void add_diff_command(CLI::App& app, Cli& cli) {
  auto a = std::make_shared<DiffArgs>();
  auto* cmd = app.add_subcommand("diff", "Show what changed between two programs: params and a "
                                         "unified diff of their sources");
  cmd->add_option("a", a->a, "program id (the old side)")->required();
  cmd->add_option("b", a->b, "program id (the new side)")->required();
  add_archive_args(cmd, a->archive);
  cmd->add_option("-U,--context", a->context, "lines of context around each change")
      ->capture_default_str()
      ->check(at_least(0));
  cmd->callback([&cli, a] {
    auto ida = parse_program_id(a->a);
    auto idb = parse_program_id(a->b);
    if (!ida.ok() || !idb.ok()) {
      cli.exit_code = fail(kExitUsage, (!ida.ok() ? ida : idb).status().message());
      return;
    }
    auto reader = open_archive_reader(a->archive);
    if (!reader.ok()) {
      cli.exit_code = fail(open_failure_code(reader.status()), reader.status().message());
      return;
    }
    auto pa = (*reader)->program(*ida);
    auto pb = (*reader)->program(*idb);
    if (!pa.ok() || !pb.ok()) {
      cli.exit_code = fail(kExitFailure, (!pa.ok() ? pa : pb).status().message());
      return;
    }
    const std::string& fm = (*reader)->config().fitness;
    // Resolved values (file defaults + the program's own), so a param the tuner set reads
    // "1536 -> 1024", not "- -> 1024".
    const auto ra = resolved_params(*pa), rb = resolved_params(*pb);
    json params = json::object();
    std::set<std::string> names;
    for (const auto& [k, v] : ra) names.insert(k);
    for (const auto& [k, v] : rb) names.insert(k);
    for (const auto& n : names) {
      auto ia = ra.find(n), ib = rb.find(n);
      json va = ia == ra.end() ? json() : json(ia->second);
      json vb = ib == rb.end() ? json() : json(ib->second);
      if (va != vb) params[n] = {va, vb};
    }
    DiffStats stats;
    std::string diff = unified_diff(pa->source, pb->source, label(*pa, fm), label(*pb, fm),
                                    a->context, &stats);
    if (a->archive.json) {
      json out = {{"a", *ida}, {"b", *idb}, {"params", params}, {"added", stats.added},
                  {"removed", stats.removed}, {"diff", diff}};
      std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
      return;
    }
    for (const auto& [name, pair] : params.items()) {
      std::cout << "param " << name << ": " << (pair[0].is_null() ? "-" : pair[0].dump()) << " -> "
                << (pair[1].is_null() ? "-" : pair[1].dump()) << "\n";
    }
    if (diff.empty()) {
      std::cout << "sources are identical\n";
    } else {
      std::cout << diff;
    }
  });
}

}  // namespace kevo::cli
