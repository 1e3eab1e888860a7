#include "orchestrator/cli/archive_cli.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <set>

#include "evaluator/task.h"

namespace kevo::cli {
namespace fs = std::filesystem;

void add_archive_args(CLI::App* cmd, ArchiveArgs& args) {
  cmd->add_option("--run", args.run, "run name: its archive is RUNS_DIR/NAME/kevo.db");
  cmd->add_option("--db", args.db, "the archive to read: a kevo.db file or a postgresql:// URL");
  cmd->add_option("--runs-dir", args.runs_dir, "folder holding the runs")->capture_default_str();
  cmd->add_flag("--json", args.json, "machine-readable output");
}

Result<std::string> resolve_archive_path(const ArchiveArgs& args) {
  if (!args.db.empty()) return args.db;
  if (!args.run.empty()) return (fs::path(args.runs_dir) / args.run / "kevo.db").string();
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(args.runs_dir, ec)) {
    if (fs::is_regular_file(e.path() / "kevo.db", ec)) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  if (names.size() == 1) return (fs::path(args.runs_dir) / names[0] / "kevo.db").string();
  if (names.empty()) {
    return Status::NotFound("no run under " + args.runs_dir + "/; name one with --run NAME or "
                            "--db PATH");
  }
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  return Status::InvalidArgument(std::to_string(names.size()) + " runs under " + args.runs_dir +
                                 "/ (" + list + "); pick one with --run NAME");
}

Result<std::unique_ptr<ArchiveReader>> open_archive_reader(const ArchiveArgs& args) {
  KEVO_ASSIGN_OR_RETURN(std::string path, resolve_archive_path(args));
  return ArchiveReader::open(path);
}

int open_failure_code(const Status& s) {
  return s.code() == StatusCode::kNotFound || s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

Result<ProgramId> parse_program_id(const std::string& text) {
  std::string s = !text.empty() && text[0] == '#' ? text.substr(1) : text;
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("'" + text + "' is not a program id (a number, as in "
                                   "`kevo top`)");
  }
  return static_cast<ProgramId>(std::stoll(s));
}

std::string source_with_params(const Program& p) {
  auto baked = kevo::source_with_params(p.source, p.params);
  return baked.ok() ? *baked : p.source;
}

std::map<std::string, int64_t> resolved_params(const Program& p) {
  auto spec = parse_task_spec(p.source);
  if (!spec.ok()) return p.params;
  auto resolved = spec->resolve_params(p.params);
  return resolved.ok() ? *resolved : p.params;
}

std::vector<std::string> param_changes(const std::map<std::string, int64_t>& from,
                                       const std::map<std::string, int64_t>& to) {
  std::set<std::string> names;
  for (const auto& [k, v] : from) names.insert(k);
  for (const auto& [k, v] : to) names.insert(k);
  std::vector<std::string> out;
  for (const auto& n : names) {
    auto a = from.find(n), b = to.find(n);
    if (a != from.end() && b != to.end() && a->second == b->second) continue;
    out.push_back(n + " " + (a == from.end() ? "-" : std::to_string(a->second)) + " -> " +
                  (b == to.end() ? "-" : std::to_string(b->second)));
  }
  return out;
}

namespace {
bool numeric(const std::string& s) {
  if (s.empty() || s == "-" || s == ".") return true;  // placeholders do not decide alignment
  return s.find_first_not_of("0123456789.,-+eE%$x*") == std::string::npos &&
         s.find_first_of("0123456789") != std::string::npos;
}
}  // namespace

std::string Table::render(const std::string& indent) const {
  const size_t ncol = headers_.size();
  std::vector<size_t> width(ncol, 0);
  std::vector<bool> right(ncol, true);
  for (size_t c = 0; c < ncol; ++c) {
    width[c] = headers_[c].size();
    for (const auto& r : rows_) {
      if (c < r.size()) {
        width[c] = std::max(width[c], r[c].size());
        if (!numeric(r[c])) right[c] = false;
      }
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out = indent;
    for (size_t c = 0; c < ncol; ++c) {
      const std::string cell = c < cells.size() ? cells[c] : "";
      std::string pad(width[c] - std::min(width[c], cell.size()), ' ');
      bool last = c + 1 == ncol;
      out += right[c] ? pad + cell : (last ? cell : cell + pad);
      if (!last) out += "  ";
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(headers_);
  for (const auto& r : rows_) out += line(r);
  return out;
}

std::string fmt_opt(const std::optional<double>& v, int significant) {
  return v ? fmt_num(*v, significant) : "-";
}

namespace {
std::optional<double> noise_of(const nlohmann::json& metrics) {
  if (!metrics.is_object()) return std::nullopt;
  auto it = metrics.find("speedup_spread");
  if (it == metrics.end() || !it->is_number() || it->get<double>() <= 0) return std::nullopt;
  return it->get<double>();
}
}  // namespace

std::string fmt_noise(const nlohmann::json& metrics) {
  auto n = noise_of(metrics);
  if (!n) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f%%", 100 * *n);
  return buf;
}

bool within_noise(double pct, const nlohmann::json& a_metrics, const nlohmann::json& b_metrics) {
  auto a = noise_of(a_metrics), b = noise_of(b_metrics);
  if (!a && !b) return false;  // unknown: say nothing rather than guess
  return std::fabs(pct) <= 100 * std::max(a.value_or(0), b.value_or(0));
}

std::string fmt_metric(const nlohmann::json& metrics, const std::string& name, int significant) {
  if (!metrics.is_object()) return "-";
  auto it = metrics.find(name);
  if (it == metrics.end() || !it->is_number()) return "-";
  return fmt_num(it->get<double>(), significant);
}

}  // namespace kevo::cli
