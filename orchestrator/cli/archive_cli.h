// Shared by the commands that read a run's archive (status, top, show, diff, lineage): which
// kevo.db to open, aligned text tables, and number formats.
#pragma once

#include <CLI/CLI.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "archive/archive.h"
#include "common/number_text.h"  // fmt_num, fmt_int, fmt_usd, fmt_time
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
// The exit code for a failure to open the archive: 2 (usage) when the run or file named is not
// there, is ambiguous or is not a kevo archive; 1 when it exists and cannot be read.
int open_failure_code(const Status& s);

// "123" or "#123".
Result<ProgramId> parse_program_id(const std::string& text);

// The program's source with its params written into its `kevo:param` lines: the text that,
// saved and compiled alone, is the kernel that was measured. The stored source when its
// directives do not parse (then it has no params to apply).
std::string source_with_params(const Program& p);
// Every param of the program with its value: the file's defaults overridden by the program's.
// The stored overrides when the directives do not parse.
std::map<std::string, int64_t> resolved_params(const Program& p);
// "CTAS 1536 -> 1024" per param whose resolved value differs ("-" for a param one side lacks).
std::vector<std::string> param_changes(const std::map<std::string, int64_t>& from,
                                       const std::map<std::string, int64_t>& to);

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

std::string fmt_opt(const std::optional<double>& v, int significant = 4);  // "-" when none
// The timing noise of a result's speedup ("1.6%"), from metrics.speedup_spread; "-" when the
// result has none (failed, or measured before results carried it).
std::string fmt_noise(const nlohmann::json& metrics);
// Whether a change of `pct` percent between two results is within their timing noise.
bool within_noise(double pct, const nlohmann::json& a_metrics, const nlohmann::json& b_metrics);
// A metric of a JSON object as text ("-" when absent).
std::string fmt_metric(const nlohmann::json& metrics, const std::string& name, int significant = 4);

}  // namespace kevo::cli
