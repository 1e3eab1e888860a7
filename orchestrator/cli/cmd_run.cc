// `kevo run [CONFIG]` and `kevo resume [NAME]`: the main job. Loads the config (flags override
// keys), checks the GPU before touching the disk, opens the archive, starts the sandbox and the
// LLM client, and runs the evolution loop with a live progress line until a budget or Ctrl-C.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "archive/queue.h"
#include "common/log.h"
#include "common/paths.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/cli/run_backend.h"
#include "orchestrator/cli/run_progress.h"
#include "orchestrator/config/config.h"
#include "orchestrator/config/config_check.h"
#include "orchestrator/evolution/backend.h"

namespace kevo::cli {
namespace fs = std::filesystem;
namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_interrupts{0};

void on_sigint(int) {
  // First Ctrl-C: stop cleanly (in-flight evaluations finish and are recorded). Second: quit now;
  // the archive is still consistent, every write being one SQLite transaction.
  if (g_interrupts.fetch_add(1) >= 1) _exit(130);
  g_stop.store(true);
  const char msg[] = "\nkevo: stopping after the evaluations in flight (Ctrl-C again to quit now)\n";
  (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
}

struct RunOptions {
  std::string config;
  std::string name;
  std::string runs_dir;
  int evaluations = 0;
  int islands = 0;
  int64_t seed = -1;
  double wall_minutes = -1;
  double max_cost = -1;
  bool no_llm = false;
  std::string llm_model, llm_url, llm_provider, llm_price;
  // --llm-key-env: unset, or the variable's name; "" (given empty) means the server needs no key.
  std::optional<std::string> llm_key_env;
  std::string replay;
  bool json = false;
  // Where to evaluate and where the archive is.
  std::string gpus;         // run.gpus
  bool allow_mixed = false;  // run.allow_mixed_gpus
  std::string db;           // a PostgreSQL URL (or a SQLite file) instead of RUNS_DIR/NAME/kevo.db
  bool workers = false;     // evaluate on `kevo worker` processes (always so with PostgreSQL)
  std::string gpu_model;    // queue.gpu_model
  int max_claims = 0;       // queue.max_claims
};

// Where the header and the progress go: with --json, stdout carries the summary alone (scripts
// parse it), so they go to stderr.
std::ostream& human_out(const RunOptions& o) {
  return o.json ? std::cerr : std::cout;
}

bool remote(const RunOptions& o, const std::string& location) {
  return o.workers || is_postgres_location(location);
}

// Applies the flags to the YAML tree, so the stored config text is exactly what ran.
void apply_overrides(YAML::Node& root, const RunOptions& o) {
  if (!o.name.empty()) root["run"]["name"] = o.name;
  if (!o.runs_dir.empty()) root["run"]["runs_dir"] = o.runs_dir;
  if (o.evaluations > 0) root["run"]["max_evaluations"] = o.evaluations;
  if (o.seed >= 0) root["run"]["seed"] = o.seed;
  if (o.wall_minutes >= 0) root["run"]["max_wall_minutes"] = o.wall_minutes;
  if (o.max_cost >= 0) root["run"]["max_cost_usd"] = o.max_cost;
  if (o.islands > 0) root["archive"]["islands"] = o.islands;
  if (!o.replay.empty()) root["llm"]["replay_from"] = o.replay;
  if (!o.gpus.empty()) root["run"]["gpus"] = o.gpus;
  if (o.allow_mixed) root["run"]["allow_mixed_gpus"] = true;
  if (!o.gpu_model.empty()) root["queue"]["gpu_model"] = o.gpu_model;
  if (o.max_claims > 0) root["queue"]["max_claims"] = o.max_claims;
  if (o.no_llm) root["llm"]["models"] = YAML::Node(YAML::NodeType::Sequence);
  if (!o.llm_model.empty() || !o.llm_url.empty()) {
    YAML::Node m;
    m["provider"] = o.llm_provider.empty() ? "openai" : o.llm_provider;
    m["model"] = o.llm_model.empty() ? "default" : o.llm_model;
    if (!o.llm_url.empty()) m["base_url"] = o.llm_url;
    if (o.llm_key_env) m["api_key_env"] = *o.llm_key_env;
    if (!o.llm_price.empty()) {
      // "IN,OUT" dollars per million tokens; checked by the flag's validator.
      size_t comma = o.llm_price.find(',');
      m["usd_per_mtok_in"] = std::stod(o.llm_price.substr(0, comma));
      m["usd_per_mtok_out"] = std::stod(o.llm_price.substr(comma + 1));
    }
    YAML::Node models(YAML::NodeType::Sequence);
    models.push_back(m);
    root["llm"]["models"] = models;
  }
  // With no model configured, an OPENAI_API_KEY in the environment is taken as the wish to use
  // OpenAI (the quickstart's promise); --no-llm keeps the tuner alone.
  bool has_models = root["llm"] && root["llm"]["models"] && root["llm"]["models"].size() > 0;
  const char* key = std::getenv("OPENAI_API_KEY");
  if (!has_models && !o.no_llm && key && *key && o.replay.empty()) {
    YAML::Node m;
    m["provider"] = "openai";
    m["model"] = "gpt-4.1-mini";
    m["api_key_env"] = "OPENAI_API_KEY";
    m["usd_per_mtok_in"] = 0.4;
    m["usd_per_mtok_out"] = 1.6;
    YAML::Node models(YAML::NodeType::Sequence);
    models.push_back(m);
    root["llm"]["models"] = models;
    spdlog::info("OPENAI_API_KEY is set and the config names no model: using OpenAI gpt-4.1-mini");
  }
}

// Binds the config with the flags applied to its YAML tree (so the stored text is exactly what
// ran, and the file's keys keep their line numbers), and checks it: every problem at once.
// `section_checks`: seeds, suites, URLs, keys... (a new run); a resumed run's stored config is
// only bound.
Result<std::pair<KevoConfig, std::string>> load_effective_config(const std::string& text,
                                                                 const std::string& file,
                                                                 const RunOptions& o,
                                                                 bool section_checks) {
  CheckedConfig c = check_config_text(
      text, file, [&](YAML::Node& root) { apply_overrides(root, o); }, section_checks);
  if (!c.ok()) return Status::InvalidArgument(problems_text(c));
  return std::make_pair(std::move(c.config), std::move(c.effective));
}

int evolve(Archive& archive, const KevoConfig& config, RunBackend run, bool new_run,
           const RunOptions& opt) {
  ArchiveCallRecorder recorder(archive);
  std::vector<std::unique_ptr<LlmClient>> clients;
  std::vector<LlmModelHandle> models;
  if (!config.llm.replay_from.empty()) {
    auto records = load_recorded_calls(config.llm.replay_from);
    if (!records.ok()) return fail(kExitFailure, records.status().message());
    spdlog::info("replaying {} recorded LLM replies from {}", records->size(), config.llm.replay_from);
    clients.push_back(make_replay_client(std::move(*records), &recorder));
    models.push_back({"replay", clients.back().get(), 1, 0, true});
  } else if (!config.llm.models.empty()) {
    auto made = make_model_clients(config.llm, &recorder, config.run.seed, &g_stop);
    if (!made.ok()) return fail(kExitFailure, made.status().message());
    clients = std::move(*made);
    for (size_t i = 0; i < clients.size(); ++i) {
      const LlmModelConfig& m = config.llm.models[i];
      models.push_back({m.model, clients[i].get(), m.weight, m.max_in_flight,
                        m.provider != "command" && m.prices_known});
    }
  }

  Evolution evo(config, archive, *run.backend, std::move(models), run.hardware);
  evo.set_call_ids([&recorder](const std::string& tag) { return recorder.take_id(tag); });
  if (new_run) {
    Status st = evo.add_seeds();
    if (!st.ok()) return fail(kExitFailure, st.message());
  }
  std::signal(SIGINT, on_sigint);
  std::signal(SIGTERM, on_sigint);
  ProgressPrinter printer(human_out(opt), isatty(opt.json ? STDERR_FILENO : STDOUT_FILENO));
  auto summary = evo.run(g_stop, [&](const Progress& p) { printer.show(p); });
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  (void)archive.set_run_status(
      summary.ok() && summary->stop_reason != StopReason::kInterrupted ? "finished" : "stopped");
  if (!summary.ok()) return fail(kExitFailure, summary.status().message());
  if (opt.json) {
    printer.end_line();
    std::cout << ProgressPrinter::summary_json(*summary, config.run.name).dump(2) << "\n";
  } else {
    printer.finish(*summary, config.run.name);
  }
  return kExitOk;
}

// The backend for `archive`: this host's GPUs, or the queue's workers. An exit code on failure.
Result<RunBackend> backend_for(Archive& archive, const KevoConfig& config,
                               const std::string& location, const GpuSelection* gpus,
                               const std::string& cubin_cache) {
  if (!gpus) return start_queue_backend(archive, config, location, g_stop);
  return start_local_backend(config, *gpus, cubin_cache);
}

// This host's GPUs, or the exit code to fail with: 3 without one, 2 for a selection that
// cannot be (an unknown index, models mixed without --allow-mixed-gpus).
Result<GpuSelection> local_gpus_or_code(KevoConfig& config, bool new_run, int& code) {
  auto sel = select_local_gpus(config, new_run);
  if (!sel.ok()) {
    code = sel.status().code() == StatusCode::kUnavailable ? kExitNoGpu : kExitUsage;
  }
  return sel;
}

int run_command(const RunOptions& opt) {
  std::string path = opt.config;
  if (path.empty()) {
    auto p = data_path("configs/quickstart.yaml");
    if (!p.ok()) return fail(kExitFailure, p.status().message());
    path = *p;
  }
  std::string text;
  Status st = read_text_file(path, text);
  if (!st.ok()) {
    bool missing = st.code() == StatusCode::kNotFound || st.code() == StatusCode::kInvalidArgument;
    return fail(missing ? kExitUsage : kExitFailure, st.message());
  }
  // Everything that needs no GPU is checked first (as `kevo config-check` does).
  auto loaded = load_effective_config(text, path, opt, /*section_checks=*/true);
  if (!loaded.ok()) return fail(kExitFailure, loaded.status().message());
  auto& [config, effective] = *loaded;

  // Where the archive is, and where evaluations happen.
  const bool pg = is_postgres_location(opt.db);
  fs::path run_dir = fs::path(config.run.runs_dir) / config.run.name;
  std::string location = opt.db.empty() ? (run_dir / "kevo.db").string() : opt.db;
  if (!opt.db.empty() && !pg) run_dir = fs::path(opt.db).parent_path();
  const std::string shown = printable_location(location);

  // Then the GPU (unless workers evaluate): on a machine without one, say so before creating
  // anything on disk.
  std::optional<GpuSelection> gpus;
  if (!remote(opt, location)) {
    int code = kExitFailure;
    auto sel = local_gpus_or_code(config, /*new_run=*/true, code);
    if (!sel.ok()) return fail(code, sel.status().message());
    gpus = std::move(*sel);
  }

  if (!pg && fs::exists(location)) {
    return fail(kExitFailure, "run '" + config.run.name + "' already exists (" + location +
                                  "); continue it with 'kevo resume " + config.run.name +
                                  "' or start another with --name");
  }
  std::error_code ec;
  if (!run_dir.empty()) fs::create_directories(run_dir, ec);
  if (ec) return fail(kExitFailure, "cannot create " + run_dir.string() + ": " + ec.message());
  st = add_log_file((run_dir / "kevo.log").string());
  if (!st.ok()) return fail(kExitFailure, st.message());

  RunInfo info;
  info.name = config.run.name;
  info.config = effective;
  info.seed = config.run.seed;
  auto archive = Archive::create(location, info, config.archive);
  if (!archive.ok()) return fail(kExitFailure, archive.status().message());
  std::signal(SIGINT, on_sigint);  // waiting for a worker can take a while
  auto run = backend_for(**archive, config, location, gpus ? &*gpus : nullptr,
                         (run_dir.parent_path() / ".cubin-cache").string());
  if (!run.ok()) return fail(kExitFailure, run.status().message());
  human_out(opt) << "kevo run '" << config.run.name << "': " << config.run.seeds.size()
                 << " seed(s), up to " << config.run.max_evaluations << " evaluations on "
                 << run->description << ", "
                 << (config.llm.models.empty() && config.llm.replay_from.empty()
                         ? std::string("built-in tuner only (no LLM configured)")
                         : "LLM: " + (config.llm.replay_from.empty()
                                          ? config.llm.models.front().model
                                          : std::string("replay")))
                 << "\n  archive " << shown << "\n";
  return evolve(**archive, config, std::move(*run), /*new_run=*/true, opt);
}

int resume_command(const RunOptions& opt, const std::string& name_or_db) {
  std::string location = !opt.db.empty() ? opt.db : name_or_db;
  const bool pg = is_postgres_location(location);
  fs::path db = location;
  if (!pg) {
    if (!fs::exists(db) || fs::is_directory(db)) {
      fs::path dir = fs::is_directory(db) ? db : fs::path(opt.runs_dir.empty() ? "kevo-runs" : opt.runs_dir) / name_or_db;
      db = dir / "kevo.db";
    }
    if (!fs::exists(db)) return fail(kExitFailure, "no run at " + db.string() + " (give a run name, a kevo.db path or a postgresql:// URL)");
    location = db.string();
  }
  auto archive = Archive::open(location);
  if (!archive.ok()) return fail(kExitFailure, archive.status().message());
  RunOptions o = opt;
  o.name.clear();  // the stored run keeps its name and folder
  o.runs_dir.clear();
  const std::string shown = (*archive)->path();
  auto loaded = load_effective_config((*archive)->run().config, shown + " (stored config)", o,
                                      /*section_checks=*/false);
  if (!loaded.ok()) return fail(kExitFailure, loaded.status().message());
  auto& [config, effective] = *loaded;
  config.archive = (*archive)->config();  // as the run made it (island groups included)
  std::optional<GpuSelection> gpus;
  if (!remote(opt, location)) {
    int code = kExitFailure;
    auto sel = local_gpus_or_code(config, /*new_run=*/false, code);
    if (!sel.ok()) return fail(code, sel.status().message());
    gpus = std::move(*sel);
  }
  auto totals = (*archive)->totals();
  if (totals.ok() && totals->evaluations >= config.run.max_evaluations) {
    return fail(kExitFailure, "run '" + config.run.name + "' already used its budget of " +
                                  std::to_string(config.run.max_evaluations) +
                                  " evaluations; pass --evaluations N to continue up to N");
  }
  fs::path run_dir = pg ? fs::path(config.run.runs_dir) / config.run.name : db.parent_path();
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  Status st = add_log_file((run_dir / "kevo.log").string());
  if (!st.ok()) return fail(kExitFailure, st.message());
  (void)(*archive)->add_event("resumed", {{"config", effective}});
  (void)(*archive)->set_run_status("running");
  std::signal(SIGINT, on_sigint);
  auto run = backend_for(**archive, config, location, gpus ? &*gpus : nullptr,
                         (run_dir.parent_path() / ".cubin-cache").string());
  if (!run.ok()) return fail(kExitFailure, run.status().message());
  human_out(opt) << "kevo resume '" << config.run.name
                 << "': " << (totals.ok() ? totals->evaluations : 0) << " evaluations so far, "
                 << (totals.ok() ? totals->pending : 0) << " pending, budget "
                 << config.run.max_evaluations << ", on " << run->description << "\n";
  return evolve(**archive, config, std::move(*run), /*new_run=*/false, o);
}

void add_budget_flags(CLI::App* cmd, RunOptions& o) {
  cmd->add_option("--evaluations", o.evaluations, "stop after this many evaluations in all")
      ->check(at_least(1));
  cmd->add_option("--wall-minutes", o.wall_minutes, "stop after this many minutes (0: no limit)")
      ->check(at_least(0));
  cmd->add_option("--max-cost", o.max_cost,
                  "stop asking the LLM past this many US dollars (0: no limit)")
      ->check(at_least(0));
  cmd->add_flag("--no-llm", o.no_llm, "use the built-in tuner only, even with an API key set");
  cmd->add_option("--llm-model", o.llm_model, "LLM model name (replaces the config's models)");
  cmd->add_option("--llm-url", o.llm_url,
                  "base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1");
  cmd->add_option_function<std::string>(
      "--llm-key-env", [&o](const std::string& name) { o.llm_key_env = name; },
      "environment variable holding the API key (\"\" for a server that needs none)");
  cmd->add_option("--llm-provider", o.llm_provider, "openai (any compatible server) or anthropic")
      ->check(CLI::IsMember({"openai", "anthropic"}));
  cmd->add_option("--llm-price", o.llm_price,
                  "IN,OUT: the model's US dollars per million input and output tokens "
                  "(0,0 for a local server); needed while a cost budget is set")
      ->check([](const std::string& v) -> std::string {
        size_t comma = v.find(',');
        try {
          if (comma == std::string::npos) throw std::invalid_argument("");
          size_t used = 0;
          double a = std::stod(v.substr(0, comma), &used);
          double b = std::stod(v.substr(comma + 1));
          if (a < 0 || b < 0) throw std::invalid_argument("");
        } catch (...) {
          return "expected IN,OUT (two numbers >= 0), e.g. 0.4,1.6";
        }
        return "";
      });
  cmd->add_option("--replay", o.replay, "replay the LLM replies recorded in this kevo.db");
  cmd->add_flag("--json", o.json,
                "print the final summary as JSON, alone on stdout (the progress goes to stderr)");
  cmd->add_option("--gpus", o.gpus, "this host's GPUs to evaluate on, one runner each: all, or "
                                    "indices such as 0,2 (default: run.gpus, all)");
  cmd->add_flag("--allow-mixed-gpus", o.allow_mixed,
                "allow GPUs of different models; each model gets islands of its own");
  cmd->add_flag("--workers", o.workers,
                "evaluate on `kevo worker` processes through the archive's work queue instead of "
                "this host's GPUs (always so with a postgresql:// archive)");
  cmd->add_option("--gpu-model", o.gpu_model,
                  "with workers: the GPU model (name) tasks are for (default: the workers')");
  cmd->add_option("--max-claims", o.max_claims,
                  "with workers: workers a candidate may take down before it counts as crash "
                  "(default 2)")
      ->check(at_least(1));
}

}  // namespace

void add_run_command(CLI::App& app, Cli& cli) {
  auto opt = std::make_shared<RunOptions>();
  auto* cmd = app.add_subcommand(
      "run", "Start an evolution run (default config: configs/quickstart.yaml). Without an LLM "
             "the built-in tuner evolves the seeds' params. Ctrl-C stops cleanly.");
  cmd->add_option("config", opt->config, "YAML run configuration")->check(CLI::ExistingFile);
  cmd->add_option("--name", opt->name, "run name (folder under the runs directory)");
  cmd->add_option("--runs-dir", opt->runs_dir, "where run folders go (default kevo-runs)");
  cmd->add_option("--islands", opt->islands, "MAP-Elites islands")->check(at_least(1));
  cmd->add_option("--db", opt->db,
                  "the archive: a postgresql:// URL (GPU hosts share it through `kevo worker`; "
                  "password from PGPASSWORD or ~/.pgpass) or a kevo.db path (default "
                  "RUNS_DIR/NAME/kevo.db)");
  cmd->add_option("--seed", opt->seed, "random seed of selection, tuner and data")
      ->check(at_least(0));
  add_budget_flags(cmd, *opt);
  cmd->callback([&cli, opt] { cli.exit_code = run_command(*opt); });
}

void add_resume_command(CLI::App& app, Cli& cli) {
  auto opt = std::make_shared<RunOptions>();
  auto name = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "resume", "Continue a stopped or crashed run from its archive: pending evaluations first, "
                "then the same selection sequence.");
  cmd->add_option("run", *name, "run name (under --runs-dir), path to its kevo.db, or the "
                                "postgresql:// URL of its archive");
  cmd->add_option("--db", opt->db, "the archive (a postgresql:// URL or a kevo.db path)");
  cmd->add_option("--runs-dir", opt->runs_dir, "where run folders are (default kevo-runs)");
  add_budget_flags(cmd, *opt);
  cmd->callback([&cli, opt, name] {
    if (name->empty() && opt->db.empty()) {
      cli.exit_code = fail(kExitUsage, "kevo resume: name the run (NAME, a kevo.db path, or --db "
                                       "URL)");
      return;
    }
    cli.exit_code = resume_command(*opt, *name);
  });
}

}  // namespace kevo::cli
