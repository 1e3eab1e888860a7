// `kevo serve`: the web view of a run (orchestrator/web/web.h), until Ctrl-C.
#include <csignal>
#include <iostream>

#include "orchestrator/cli/archive_cli.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/web/web.h"

namespace kevo::cli {
namespace {

WebServer* g_server = nullptr;  // for the signal handler: stop() only sets flags and shuts a socket

void on_signal(int) {
  if (g_server) g_server->stop();
}

struct ServeArgs {
  ArchiveArgs archive;
  ServeOptions options;
};

}  // namespace

void add_serve_command(CLI::App& app, Cli& cli) {
  auto a = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand(
      "serve",
      "Serve a live, read-only web view of a run: progress, fitness over evaluations, "
      "heat maps, programs with source, diff and the LLM exchange, LLM calls (safe while "
      "the run writes)");
  cmd->add_option("--run", a->archive.run, "run name: its archive is RUNS_DIR/NAME/kevo.db");
  cmd->add_option("--db", a->archive.db, "archive file (kevo.db) to serve");
  cmd->add_option("--runs-dir", a->archive.runs_dir, "folder holding the runs")
      ->capture_default_str();
  cmd->add_option("--port", a->options.port, "TCP port (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--host", a->options.host,
                  "address to listen on; anything but loopback shows the run (prompts, replies, "
                  "kernels) to the network")
      ->capture_default_str();
  cmd->add_option("--refresh", a->options.refresh_s, "seconds between a page's checks for news")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cmd->callback([&cli, a] {
    auto path = resolve_archive_path(a->archive);
    if (!path.ok()) {
      cli.exit_code = fail(kExitFailure, path.status().message());
      return;
    }
    a->options.db = *path;
    auto server = WebServer::start(a->options);
    if (!server.ok()) {
      cli.exit_code = fail(kExitFailure, server.status().message());
      return;
    }
    g_server = server->get();
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::cout << "kevo serve: run '" << (*server)->run_name() << "' ("
              << printable_location(*path) << ") at " << (*server)->url()
              << "  (read-only; Ctrl-C stops)" << std::endl;
    if (a->options.host != "127.0.0.1" && a->options.host != "localhost" &&
        a->options.host != "::1") {
      std::cout << "kevo serve: listening on " << a->options.host
                << ": anyone who can reach it sees this run" << std::endl;
    }
    bool ok = (*server)->serve();
    g_server = nullptr;
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    if (!ok) cli.exit_code = fail(kExitFailure, "the web server stopped with an error");
  });
}

}  // namespace kevo::cli
