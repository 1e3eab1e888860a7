// The `kevo` command line: one add_*_command per subcommand, each in its own file. A command sets
// `Cli::exit_code`; errors print one line "kevo: error: ..." on stderr.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace kevo::cli {

// Documented in README.md ("Exit codes"); tests/cli_exit_codes_test.cc holds every command to it.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,  // the command ran and failed: a bad config, a candidate that failed its
                     // evaluation, a program that is not in the archive
  kExitUsage = 2,    // unknown flag or command, bad value, a file or run named that is missing
  kExitNoGpu = 3,    // GPU work asked for on a machine without a usable GPU
};

struct Cli {
  int exit_code = kExitOk;
  std::string log_level = "info";
};

// Prints "kevo: error: <message>" on stderr and returns `code` (for `return fail(...)`).
int fail(int code, const std::string& message);

// A check for a numeric option that says "must be >= N" (CLI11's own ranges print both bounds,
// the upper one 300 digits long).
CLI::Validator at_least(double lo);

void add_run_command(CLI::App& app, Cli& cli);
void add_resume_command(CLI::App& app, Cli& cli);
void add_doctor_command(CLI::App& app, Cli& cli);
void add_config_check_command(CLI::App& app, Cli& cli);
void add_eval_command(CLI::App& app, Cli& cli);
// Archive inspection (cmd_status.cc, cmd_top.cc, cmd_show.cc, cmd_diff.cc, cmd_lineage.cc).
void add_status_command(CLI::App& app, Cli& cli);
void add_top_command(CLI::App& app, Cli& cli);
void add_show_command(CLI::App& app, Cli& cli);
void add_diff_command(CLI::App& app, Cli& cli);
void add_lineage_command(CLI::App& app, Cli& cli);
void add_export_command(CLI::App& app, Cli& cli);
// The LLM's side (cmd_prompt.cc, cmd_calls.cc).
void add_prompt_command(CLI::App& app, Cli& cli);
void add_calls_command(CLI::App& app, Cli& cli);
void add_suite_stats_command(CLI::App& app, Cli& cli);  // cmd_suite_stats.cc
void add_serve_command(CLI::App& app, Cli& cli);   // cmd_serve.cc: the web view
void add_report_command(CLI::App& app, Cli& cli);  // cmd_report.cc: figures and report.md
void add_sandbox_worker_command(CLI::App& app, Cli& cli);  // hidden: the sandbox's processes
void add_worker_command(CLI::App& app, Cli& cli);  // cmd_worker.cc: a GPU host of a shared archive

}  // namespace kevo::cli
