// `kevo prompt ID|FILE.cu`: the exact messages kevo would send an LLM about a program: the
// system message (task, GPU, device API reference) and the user message (the program with its
// params written in, its results, inspirations, earlier failures, a direction, the format).
// An archived program is shown with its run's settings and the best other elites of its island
// as inspirations; a file needs no GPU and no run: its results show as absent.
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "common/paths.h"
#include "evaluator/task.h"
#include "orchestrator/cli/archive_cli.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/config/config.h"
#include "orchestrator/evolution/prompt_context.h"

namespace kevo::cli {
namespace {

struct PromptArgs {
  ArchiveArgs archive;
  std::string target;
  std::string format = "diff";  // diff or rewrite (a failed program always gets fix)
  int direction = 1;            // 1-based index into prompts/directions.txt
  int inspirations = 3;
};

// The run's stored config, for the limits and suite its prompts state.
KevoConfig run_config(ArchiveReader& reader) {
  KevoConfig c;
  auto report = reader.status_report();
  if (report.ok()) (void)load_yaml_config(report->run.config, "stored config", c);
  return c;
}

Result<PromptContext> context_for_program(ArchiveReader& reader, ProgramId id, int max_insp,
                                          KevoConfig& config) {
  KEVO_ASSIGN_OR_RETURN(Program p, reader.program(id));
  config = run_config(reader);
  PromptContext ctx;
  ctx.task = task_facts(config.evaluator);
  ctx.parent = shown_program(p);
  ctx.parent_evaluated = p.status != kPending;
  // The loop's inspirations come from seeded selection; shown here: the island's best others.
  TopQuery q;
  q.limit = max_insp + 1;
  q.island = p.island;
  q.per_cell = true;
  auto top = reader.top(q);
  if (top.ok()) {
    for (const ProgramSummary& s : *top) {
      if (s.id == id || static_cast<int>(ctx.inspirations.size()) >= max_insp) continue;
      auto insp = reader.program(s.id);
      if (insp.ok()) ctx.inspirations.push_back(shown_program(*insp));
    }
  }
  auto kids = reader.children(id, 8);
  if (kids.ok()) {
    std::vector<std::string> messages;
    for (const ProgramSummary& k : *kids) {
      auto full = reader.program(k.id);
      messages.push_back(full.ok() ? full->message : "");
    }
    ctx.failed_tries = failed_tries(*kids, messages);
  }
  return ctx;
}

int run_prompt(const PromptArgs& a) {
  auto templates = PromptTemplates::load_default();
  if (!templates.ok()) return fail(kExitFailure, templates.status().message());
  PromptContext ctx;
  std::error_code ec;
  bool is_file = a.target.ends_with(".cu") || std::filesystem::is_regular_file(a.target, ec);
  if (is_file) {
    std::string source;
    Status st = read_text_file(a.target, source);
    if (!st.ok()) return fail(kExitUsage, st.message());
    auto spec = parse_task_spec(source);
    if (!spec.ok()) return fail(kExitFailure, a.target + ": " + spec.status().message());
    KevoConfig defaults;
    ctx.task = task_facts(defaults.evaluator);
    ctx.parent.source = source;
    ctx.parent_evaluated = false;
  } else {
    auto id = parse_program_id(a.target);
    if (!id.ok()) {
      return fail(kExitUsage, "'" + a.target + "' is neither a .cu file nor a program id");
    }
    auto reader = open_archive_reader(a.archive);
    if (!reader.ok()) return fail(kExitFailure, reader.status().message());
    KevoConfig config;
    auto made = context_for_program(**reader, *id, a.inspirations, config);
    if (!made.ok()) return fail(kExitFailure, made.status().message());
    ctx = std::move(*made);
  }
  ctx.format = a.format == "rewrite" ? EditFormat::kWholeFile : EditFormat::kDiff;
  const auto& directions = templates->directions();
  if (!directions.empty()) ctx.direction = directions[(a.direction - 1) % directions.size()];
  auto prompt = templates->build(ctx);
  if (!prompt.ok()) return fail(kExitFailure, prompt.status().message());
  if (a.archive.json) {
    nlohmann::json j = {{"template", prompt->template_name},
                        {"messages", {{{"role", "system"}, {"content", prompt->system}},
                                      {{"role", "user"}, {"content", prompt->user}}}}};
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  std::cout << "=== system (" << prompt->system.size() << " characters; the same for every "
            << "request of a run) ===\n"
            << prompt->system << "\n\n=== user (" << prompt->user.size() << " characters; template "
            << prompt->template_name << ") ===\n"
            << prompt->user << "\n";
  return kExitOk;
}

}  // namespace

void add_prompt_command(CLI::App& app, Cli& cli) {
  auto a = std::make_shared<PromptArgs>();
  auto* cmd = app.add_subcommand(
      "prompt", "Print the exact messages kevo would send an LLM about a program (an archived "
                "program ID, or a .cu file: no GPU needed, its results show as absent)");
  cmd->add_option("target", a->target, "program id (of --run/--db) or a .cu file")->required();
  add_archive_args(cmd, a->archive);
  cmd->add_option("--template", a->format, "diff (SEARCH/REPLACE) or rewrite (whole file)")
      ->check(CLI::IsMember({"diff", "rewrite"}))
      ->capture_default_str();
  cmd->add_option("--direction", a->direction,
                  "which optimisation direction of prompts/directions.txt to name (1-based)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--inspirations", a->inspirations, "inspirations shown (archived programs)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->callback([&cli, a] { cli.exit_code = run_prompt(*a); });
}

}  // namespace kevo::cli
