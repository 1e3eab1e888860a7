// kevo: evolves sparse decode-attention kernels. See README.md.
#include <cstdio>
#include <iostream>

#include "common/log.h"
#include "orchestrator/cli/commands.h"

#ifndef KEVO_VERSION
#define KEVO_VERSION "0.0.0"
#endif

namespace kevo::cli {

int fail(int code, const std::string& message) {
  std::fflush(stdout);
  std::cerr << "kevo: error: " << message << "\n";
  return code;
}

CLI::Validator at_least(double lo) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", lo);
  const std::string bound = buf;
  return CLI::Validator(
      [lo, bound](std::string& in) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(in, v)) return "'" + in + "' is not a number";
        return v >= lo ? std::string() : "must be >= " + bound + " (got " + in + ")";
      },
      ">=" + bound);
}

}  // namespace kevo::cli

int main(int argc, char** argv) {
  using namespace kevo::cli;
  Cli cli;
  CLI::App app{"kevo " KEVO_VERSION " - evolves fast GPU kernels for sparse (hashing-based) decode "
               "attention.\nRun 'kevo COMMAND --help' for a command's options."};
  app.set_version_flag("--version", KEVO_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--log-level", cli.log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  app.parse_complete_callback([&] {
    kevo::Status st = kevo::init_logging(cli.log_level);
    if (!st.ok()) throw CLI::ValidationError("--log-level", st.message());
  });

  add_run_command(app, cli);
  add_resume_command(app, cli);
  add_doctor_command(app, cli);
  add_config_check_command(app, cli);
  add_eval_command(app, cli);
  add_status_command(app, cli);
  add_top_command(app, cli);
  add_show_command(app, cli);
  add_diff_command(app, cli);
  add_lineage_command(app, cli);
  add_export_command(app, cli);
  add_prompt_command(app, cli);
  add_calls_command(app, cli);
  add_suite_stats_command(app, cli);
  add_serve_command(app, cli);
  add_report_command(app, cli);
  add_worker_command(app, cli);
  add_sandbox_worker_command(app, cli);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One clear line, not CLI11's multi-line banner.
    std::string what = e.what();
    if (argc < 2) what = "no command given";
    return fail(kExitUsage, what + " (run 'kevo --help')");
  }
  return cli.exit_code;
}
