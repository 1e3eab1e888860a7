// `kevo calls`: the LLM calls of a run, newest first (id, parent, model, tag, outcome, child,
// tokens, cost, latency), filterable; `kevo calls show ID`: one call's messages and reply.
#include <iostream>

#include <nlohmann/json.hpp>

#include "archive/run_views.h"
#include "orchestrator/cli/archive_cli.h"
#include "orchestrator/cli/commands.h"

namespace kevo::cli {
namespace {

using nlohmann::json;

struct CallsArgs {
  ArchiveArgs archive;
  LlmCallQuery query;
  std::string parent;
  std::string id;  // `show`
};

std::string opt_id(const std::optional<int64_t>& v) { return v ? "#" + std::to_string(*v) : "-"; }

json row_json(const LlmCallRow& c) {
  return {{"id", c.id},
          {"time", c.created_at},
          {"model", c.model},
          {"provider", c.provider},
          {"tag", c.tag},
          {"parent", c.parent ? json(*c.parent) : json()},
          {"status", c.status},
          {"outcome", c.outcome},
          {"outcome_derived", c.outcome_derived},
          {"child", c.child ? json(*c.child) : json()},
          {"tokens_in", c.tokens_in},
          {"tokens_out", c.tokens_out},
          {"cost_usd", c.cost_usd},
          {"latency_s", c.latency_s},
          {"error", c.error}};
}

Result<std::unique_ptr<RunViews>> open_views(const ArchiveArgs& args) {
  KEVO_ASSIGN_OR_RETURN(std::string path, resolve_archive_path(args));
  return RunViews::open(path);
}

int list_calls(CallsArgs& a) {
  if (!a.parent.empty()) {
    auto id = parse_program_id(a.parent);
    if (!id.ok()) return fail(kExitUsage, id.status().message());
    a.query.parent = *id;
  }
  auto views = open_views(a.archive);
  if (!views.ok()) return fail(kExitFailure, views.status().message());
  // Pages of the newest calls until the limit is filled (a rare filter scans further back).
  std::vector<LlmCallRow> rows;
  LlmCallQuery q = a.query;
  while (static_cast<int>(rows.size()) < a.query.limit) {
    q.limit = a.query.limit - static_cast<int>(rows.size());
    auto page = (*views)->llm_calls(q);
    if (!page.ok()) return fail(kExitFailure, page.status().message());
    rows.insert(rows.end(), page->rows.begin(), page->rows.end());
    if (!page->next_before) break;
    q.before = page->next_before;
  }
  if (a.archive.json) {
    json out = json::array();
    for (const auto& c : rows) out.push_back(row_json(c));
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  if (rows.empty()) {
    bool filtered = a.query.parent || !a.query.outcome.empty() || !a.query.model.empty();
    std::cout << "no LLM calls"
              << (filtered ? " match these filters\n"
                           : " in this run (the built-in tuner made every child)\n");
    return kExitOk;
  }
  Table t({"id", "time", "model", "parent", "tag", "outcome", "child", "tok in", "tok out", "cost",
           "latency_s", "error"});
  bool derived = false;
  for (const auto& c : rows) {
    std::string err = c.error.size() > 50 ? c.error.substr(0, 47) + "..." : c.error;
    // The tag without "ask=N parent=P": the template, inspirations, direction, "retry".
    std::string tag = c.tag;
    for (const char* key : {"ask=", "parent="}) {
      if (tag.rfind(key, 0) == 0) tag = tag.substr(std::min(tag.size(), tag.find(' ') + 1));
    }
    derived |= c.outcome_derived;
    t.add({std::to_string(c.id), fmt_time(c.created_at).substr(11, 8), c.model, opt_id(c.parent),
           tag, c.outcome + (c.outcome_derived ? "*" : ""), opt_id(c.child), fmt_int(c.tokens_in),
           fmt_int(c.tokens_out), fmt_usd(c.cost_usd), fmt_num(c.latency_s, 3), err});
  }
  std::cout << t.render() << "(newest first; `kevo calls show ID` prints a call's messages"
            << (derived ? "; * = outcome derived: an archive from before outcomes were stored" : "")
            << ")\n";
  return kExitOk;
}

int show_call(CallsArgs& a) {
  int64_t id = 0;
  std::string s = !a.id.empty() && a.id[0] == '#' ? a.id.substr(1) : a.id;
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 18) {
    return fail(kExitUsage, "'" + a.id + "' is not a call id (a number, as in `kevo calls`)");
  }
  id = std::stoll(s);
  auto reader = open_archive_reader(a.archive);
  if (!reader.ok()) return fail(kExitFailure, reader.status().message());
  auto call = (*reader)->llm_call(id);
  if (!call.ok()) return fail(kExitFailure, call.status().message());
  json prompt = json::parse(call->prompt, nullptr, false);
  if (a.archive.json) {
    json j = {{"id", call->id},           {"time", call->created_at},
              {"model", call->model},     {"provider", call->provider},
              {"tag", call->tag},         {"parent", call->parent ? json(*call->parent) : json()},
              {"attempt", call->attempt}, {"status", call->status},
              {"outcome", call->outcome}, {"child", call->child ? json(*call->child) : json()},
              {"tokens_in", call->tokens_in}, {"tokens_out", call->tokens_out},
              {"cost_usd", call->cost_usd},   {"latency_s", call->latency_s},
              {"error", call->error}};
    j["request"] = prompt.is_discarded() ? json(call->prompt) : prompt;
    j["response"] = call->response;
    std::cout << j.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  std::cout << "call #" << call->id << "  " << call->model << " (" << call->provider << ")  "
            << fmt_time(call->created_at) << "\n"
            << "parent " << opt_id(call->parent) << ", attempt " << call->attempt << ", outcome "
            << (call->outcome.empty() ? "-" : call->outcome) << ", child " << opt_id(call->child)
            << "\n"
            << "tokens " << fmt_int(call->tokens_in) << " in, " << fmt_int(call->tokens_out)
            << " out, " << fmt_usd(call->cost_usd) << ", " << fmt_num(call->latency_s, 3)
            << " s, status " << call->status << (call->error.empty() ? "" : ": " + call->error)
            << "\ntag " << call->tag << "\n";
  if (prompt.is_object()) {
    std::cout << "\n=== system ===\n" << prompt.value("system", "") << "\n";
    if (prompt.contains("messages") && prompt["messages"].is_array()) {
      for (const auto& m : prompt["messages"]) {
        std::cout << "\n=== " << m.value("role", "?") << " ===\n" << m.value("content", "") << "\n";
      }
    } else if (prompt.contains("user")) {
      std::cout << "\n=== user ===\n" << prompt.value("user", "") << "\n";
    }
  } else {
    std::cout << "\n=== request ===\n" << call->prompt << "\n";
  }
  std::cout << "\n=== reply ===\n" << (call->response.empty() ? "(none)" : call->response) << "\n";
  return kExitOk;
}

}  // namespace

void add_calls_command(CLI::App& app, Cli& cli) {
  auto a = std::make_shared<CallsArgs>();
  auto* cmd = app.add_subcommand("calls", "List a run's LLM calls, newest first: model, parent, "
                                          "outcome, child, tokens, cost, latency");
  add_archive_args(cmd, a->archive);
  cmd->add_option("-n,--limit", a->query.limit, "how many")->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--parent", a->parent, "only calls about this program");
  cmd->add_option("--outcome", a->query.outcome,
                  "only this outcome: child, no_edit, no_match, ambiguous, outside_block, "
                  "bad_edit, no_change, duplicate, compile_error, request_failed, cancelled");
  cmd->add_option("--model", a->query.model, "only this model");
  auto* show = cmd->add_subcommand("show", "Print one call: its messages (system, user, and on a "
                                           "retry the earlier reply and the failure) and its reply");
  show->add_option("id", a->id, "call id (from `kevo calls`)")->required();
  add_archive_args(show, a->archive);
  cmd->callback([&cli, a, show] {
    if (show->parsed()) return;
    cli.exit_code = list_calls(*a);
  });
  show->callback([&cli, a] { cli.exit_code = show_call(*a); });
}

}  // namespace kevo::cli
