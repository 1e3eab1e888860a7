// `kevo export ID|best|FILE.cu --format cuda|torch --out DIR`: writes a self-contained package of
// one kernel (docs/design.md, Export). An ID (or `best`, the run's best program) is read from a
// run's archive (source with its params, result, lineage); a file is exported as it is, with
// optional --param overrides and an attached `kevo eval --json` result. The candidate is compiled
// first (in a confined compile worker, for the package's arch): what does not compile is not
// exported. Needs no GPU.
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "archive/archive.h"
#include "orchestrator/cli/archive_cli.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/cli/sandboxed_compile.h"
#include "orchestrator/export/export.h"

#ifndef KEVO_VERSION
#define KEVO_VERSION "0.0.0"
#endif

namespace kevo::cli {
namespace {
namespace fs = std::filesystem;

struct ExportCliOptions {
  std::string target;
  std::string format;
  std::string out;
  ArchiveArgs archive;  // --run, --db, --runs-dir, --json
  std::vector<std::string> params;
  std::string name;
  std::string result;
  std::string arch = "sm_90a";
  double tolerance = 0;
  std::string suite = "llama3-8b";
  bool force = false;
};

std::string iso_time(double unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::map<std::string, int64_t>> parse_params(const std::vector<std::string>& items) {
  std::map<std::string, int64_t> out;
  for (const auto& item : items) {
    size_t eq = item.find('=');
    std::string name = item.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (name.empty() || value.empty() || used != value.size()) {
      return Status::InvalidArgument("--param " + item + ": want NAME=INTEGER");
    }
    out[name] = v;
  }
  return out;
}

// Where the GPU of a run is recorded: the result itself, else the newest event that names one.
nlohmann::json gpu_of(ArchiveReader& reader, const Program& p) {
  for (const auto* j : {&p.result, &p.metrics}) {
    if (j->is_object() && j->contains("gpu")) return (*j)["gpu"];
  }
  auto events = reader.events("", 1000);
  if (!events.ok()) return nullptr;
  for (auto it = events->rbegin(); it != events->rend(); ++it) {
    const auto& m = it->message;
    if (!m.is_object()) continue;
    if (m.contains("gpu")) return m["gpu"];
    if (m.contains("gpus") && m["gpus"].is_array() && !m["gpus"].empty()) return m["gpus"][0];
  }
  return nullptr;
}

// `id`: a program id, or nullopt for the run's best program.
Result<ExportInput> input_from_archive(const ExportCliOptions& o, std::optional<ProgramId> id) {
  if (!o.params.empty()) {
    return Status::InvalidArgument("--param applies to files; an archived program's params are "
                                   "those it was measured with");
  }
  if (!o.result.empty()) return Status::InvalidArgument("--result applies to files only");
  KEVO_ASSIGN_OR_RETURN(auto reader, open_archive_reader(o.archive));
  if (!id) {
    KEVO_ASSIGN_OR_RETURN(StatusReport r, reader->status_report());
    if (!r.totals.best) {
      return Status::NotFound("run '" + r.run.name +
                              "' has no program evaluated ok yet: nothing "
                              "to export as 'best'");
    }
    id = r.totals.best->program;
  }
  KEVO_ASSIGN_OR_RETURN(Program p, reader->program(*id));
  if (p.status != "ok") {
    return Status::InvalidArgument("program " + std::to_string(*id) + " has status " + p.status +
                                   (p.message.empty() ? "" : " (" + p.message + ")") +
                                   "; only programs evaluated ok can be exported");
  }
  KEVO_ASSIGN_OR_RETURN(StatusReport report, reader->status_report());
  ExportInput in;
  in.source = source_with_params(p);  // the text alone is the measured kernel
  in.params = p.params;
  in.run = report.run.name;
  in.program_id = *id;
  in.origin = "run " + in.run + ", program " + std::to_string(*id);
  in.name = o.name.empty() ? export_name_from(in.run + "_p" + std::to_string(*id)) : o.name;
  in.result = p.result.is_object() ? p.result : nlohmann::json::object();
  if (!in.result.contains("status")) in.result["status"] = p.status;
  if (!in.result.contains("metrics")) in.result["metrics"] = p.metrics;
  if (!p.holdout.is_null()) in.result["holdout"] = p.holdout;
  in.gpu = gpu_of(*reader, p);
  if (p.evaluated_at) in.evaluated_at = iso_time(*p.evaluated_at);
  KEVO_ASSIGN_OR_RETURN(auto lineage, reader->lineage(*id));
  for (const auto& s : lineage) {
    in.lineage.push_back({s.id, s.fitness.value_or(0), s.status, s.origin});
  }
  return in;
}

Result<ExportInput> input_from_file(const ExportCliOptions& o) {
  KEVO_ASSIGN_OR_RETURN(std::string source, read_text(o.target));
  ExportInput in;
  in.source = std::move(source);
  KEVO_ASSIGN_OR_RETURN(in.params, parse_params(o.params));
  in.origin = o.target;
  in.name = o.name.empty() ? export_name_from(fs::path(o.target).stem().string()) : o.name;
  if (!o.result.empty()) {
    KEVO_ASSIGN_OR_RETURN(std::string text, read_text(o.result));
    auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("metrics")) {
      return Status::InvalidArgument(o.result + " is not a `kevo eval --json` result");
    }
    in.result = j;
    if (j.contains("gpu")) in.gpu = j["gpu"];
  }
  return in;
}

int run_export(const ExportCliOptions& o) {
  auto format = parse_export_format(o.format);
  if (!format.ok()) return fail(kExitUsage, format.status().message());
  if (!o.archive.run.empty() && !o.archive.db.empty()) {
    return fail(kExitUsage, "give --run or --db, not both");
  }
  Result<ExportInput> in = Status::NotFound("");
  std::error_code ec;
  if (fs::is_regular_file(o.target, ec)) {
    if (!o.archive.run.empty() || !o.archive.db.empty()) {
      return fail(kExitUsage, o.target + " is a file: --run and --db apply to program ids");
    }
    in = input_from_file(o);
  } else if (o.target == "best") {
    in = input_from_archive(o, std::nullopt);
  } else if (auto id = parse_program_id(o.target); id.ok()) {
    in = input_from_archive(o, *id);
  } else {
    return fail(kExitUsage, o.target + ": no such file, and not a program id or 'best'");
  }
  if (!in.ok()) {
    const bool archive_missing = in.status().code() == StatusCode::kNotFound &&
                                 in.status().message().rfind("archive:", 0) == 0;
    return fail(archive_missing ? kExitUsage : kExitFailure, in.status().message());
  }

  // What does not compile is not exported: a package that cannot build helps nobody.
  CompileOptions copt;
  copt.arch = o.arch;
  auto compiled = compile_in_worker({in->name, in->source, in->params}, copt);
  if (!compiled.ok()) return fail(kExitFailure, compiled.status().message());
  if (compiled->status != EvalStatus::kOk) {
    std::string message = compiled->message;
    relabel_program(message, in->origin);
    return fail(kExitFailure, in->origin + " does not compile for " + o.arch + " (" +
                                  eval_status_name(compiled->status) + ": " + message +
                                  "); nothing was exported");
  }

  ExportOptions opt;
  opt.format = *format;
  opt.out_dir = o.out;
  opt.force = o.force;
  opt.arch = o.arch;
  opt.kevo_version = KEVO_VERSION;
  opt.tolerance = o.tolerance;
  opt.suite = o.suite;
  auto s = export_package(*in, opt);
  if (!s.ok()) return fail(kExitFailure, s.status().message());

  if (o.archive.json) {
    nlohmann::json j = {{"out_dir", s->out_dir},         {"format", o.format},
                        {"name", in->name},               {"files", s->files},
                        {"source_sha256", s->source_sha256}, {"tolerance", s->tolerance},
                        {"metadata", s->metadata}};
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << "exported " << in->origin << " as the " << o.format << " package '" << in->name
            << "' in " << s->out_dir << " (" << s->files.size() << " files)\n";
  if (*format == ExportFormat::kCuda) {
    std::cout << "  check it: cd " << s->out_dir << " && cmake -S . -B build && cmake --build build"
              << " && ./build/" << in->name << "_check\n";
  } else {
    std::cout << "  check it: cd " << s->out_dir << " && python test_" << in->name << ".py\n";
  }
  return kExitOk;
}

}  // namespace

void add_export_command(CLI::App& app, Cli& cli) {
  auto o = std::make_shared<ExportCliOptions>();
  auto* cmd = app.add_subcommand(
      "export", "Write a self-contained package of one kernel: a CUDA/C++ library with a host "
                "launcher, CMake build and self-check (--format cuda), or a PyTorch extension "
                "with a test against scaled_dot_product_attention (--format torch). Needs no GPU.");
  cmd->add_option("target", o->target,
                  "program id from the run's archive, 'best' (the run's best program), or a "
                  "candidate .cu file")
      ->required();
  cmd->add_option("--format", o->format, "cuda or torch")->required();
  cmd->add_option("--out", o->out, "folder to write the package into (must be empty)")->required();
  add_archive_args(cmd, o->archive);  // --run, --db, --runs-dir, --json
  cmd->add_option("--param", o->params, "NAME=VALUE override of a file's kevo:param (repeatable)");
  cmd->add_option("--name", o->name,
                  "package name, a C identifier prefixing every symbol (default: from the file "
                  "name, or RUN_pID)");
  cmd->add_option("--result", o->result, "a `kevo eval --json` result of the file, for the README's "
                                         "metrics");
  cmd->add_option("--arch", o->arch, "default GPU target of the package's build")->capture_default_str();
  cmd->add_option("--tolerance", o->tolerance,
                  "mean relative error the package's check accepts (default: from the result, "
                  "else 0.2)");
  cmd->add_option("--suite", o->suite,
                  "suite whose data the cuda package's check generates (its generator settings "
                  "and seeds), so the check's timing compares with kevo's on that suite")
      ->capture_default_str();
  cmd->add_flag("--force", o->force, "write into a non-empty folder, replacing our files");
  cmd->callback([&cli, o] { cli.exit_code = run_export(*o); });
}

}  // namespace kevo::cli
