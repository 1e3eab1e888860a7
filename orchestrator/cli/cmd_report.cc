// `kevo report --out DIR`: figures (PNG and SVG) and report.md of a run, for a paper
// (orchestrator/report/report.h).
#include <iostream>

#include <nlohmann/json.hpp>

#include "orchestrator/cli/archive_cli.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/report/report.h"

namespace kevo::cli {
namespace {

struct ReportArgs {
  ArchiveArgs archive;
  ReportOptions options;
};

}  // namespace

void add_report_command(CLI::App& app, Cli& cli) {
  auto a = std::make_shared<ReportArgs>();
  auto* cmd = app.add_subcommand(
      "report",
      "Write figures of a run (fitness over evaluations, error x speedup with the "
      "Pareto front, best speedup per method and workload, LLM accept rate) as PNG and "
      "SVG, and report.md with summary tables");
  add_archive_args(cmd, a->archive);
  cmd->add_option("--out", a->options.out_dir, "folder to write the report into")->required();
  cmd->add_option("--error-metric", a->options.error_metric, "the error axis of the Pareto figure")
      ->capture_default_str();
  cmd->add_option("--python", a->options.python,
                  "python3 with matplotlib (default: $KEVO_PYTHON, /usr/bin/python3, python3)");
  cmd->callback([&cli, a] {
    auto path = resolve_archive_path(a->archive);
    if (!path.ok()) {
      cli.exit_code = fail(kExitFailure, path.status().message());
      return;
    }
    auto views = RunViews::open(*path);
    if (!views.ok()) {
      cli.exit_code = fail(kExitFailure, views.status().message());
      return;
    }
    auto files = write_report(**views, a->options);
    if (!files.ok()) {
      cli.exit_code = fail(kExitFailure, files.status().message());
      return;
    }
    if (a->archive.json) {
      std::cout << nlohmann::json{{"out", a->options.out_dir}, {"files", files->written}}.dump(2)
                << "\n";
      return;
    }
    std::cout << "kevo report: " << files->written.size() << " files in " << a->options.out_dir
              << "/ (open report.md)\n";
    for (const auto& f : files->written) std::cout << "  " << f << "\n";
  });
}

}  // namespace kevo::cli
