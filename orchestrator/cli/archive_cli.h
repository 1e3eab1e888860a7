// Shared by the commands that read a run's archive (status, top, show, diff, lineage): which
// kevo.db to open, aligned text tables, and number formats.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "archive/archive.h"
#include "common/status.h"

namespace kevo::cli {

struct ArchiveArgs {
  std::string run;  // --run NAME: RUNS_DIR/NAME/kevo.db
  std::string db;   // --db PATH
  std::string runs_dir = "kevo-runs";
  bool json = false;
};

// Adds --run, --db, --runs-dir and --json to `cmd`.
void add_archive_args(CLI::App* cmd, ArchiveArgs& args);

// --db, else RUNS_DIR/RUN/kevo.db, else the only run under RUNS_DIR; an error naming the runs
// found when there are several (or none).
Result<std::string> resolve_archive_path(const ArchiveArgs& args);
Result<std::unique_ptr<ArchiveReader>> open_archive_reader(const ArchiveArgs& args);

// "123" or "#123".
Result<ProgramId> parse_program_id(const std::string& text);

// Columns padded to their widest cell; a column whose cells are all numbers is right-aligned.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  std::string render(const std::string& indent = "  ") const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

std::string fmt_num(double v, int significant = 4);  // 5.123, 0.01831, 1.2e-05, 128
std::string fmt_opt(const std::optional<double>& v, int significant = 4);  // "-" when none
std::string fmt_int(int64_t v);                      // 1,234,567
std::string fmt_usd(double v);                       // $4.12, $0.0041
std::string fmt_time(double unix_seconds);           // 2025-11-22 09:00:12 UTC
// A metric of a JSON object as text ("-" when absent).
std::string fmt_metric(const nlohmann::json& metrics, const std::string& name, int significant = 4);

}  // namespace kevo::cli
