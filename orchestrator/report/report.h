// `kevo report`: figures and a summary of one run, for a paper. The data comes from the archive
// (archive/run_views.h) and is written as report.json; an embedded matplotlib script
// (figures.py, written beside it so the figures can be restyled and redrawn without kevo) draws
// PNG and SVG figures from it; report.md embeds them with summary tables.
//
// Figures: fitness over evaluations (every evaluation a dot by status, best so far per island),
// error x fitness with the Pareto front, the best program of each method on each workload, and
// the LLM accept rate over time.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "archive/run_views.h"
#include "common/status.h"

namespace kevo {

struct ReportOptions {
  std::string out_dir;
  // The error axis of the Pareto figure: the metric every check reports (docs/design.md,
  // "Evaluation result").
  std::string error_metric = "mean_rel_err";
  // Python with matplotlib; empty: $KEVO_PYTHON, else /usr/bin/python3 (Debian's, where
  // python3-matplotlib installs), else python3 on PATH.
  std::string python;
  int accept_rate_bins = 24;  // time bins of the accept-rate figure
};

// Everything the figures and tables show, as JSON (report.json). Reads every evaluated program
// and LLM call: seconds at 100,000 programs.
Result<nlohmann::json> report_data(RunViews& views, const ReportOptions& options);

// The Pareto front of (error, fitness): minimal error, maximal fitness. Indices into `points`
// ({error, fitness} pairs), by ascending error.
std::vector<size_t> pareto_front(const std::vector<std::pair<double, double>>& points);

// report.md from the data (tables, and the figures by file name).
std::string report_markdown(const nlohmann::json& data);

struct ReportFiles {
  std::vector<std::string> written;  // paths, in the order written
};

// Writes report.json, report.md and figures.py into options.out_dir (created), then runs the
// script. Unavailable, naming what to install, when no python3 with matplotlib is found; the
// data and report.md are written first in every case.
Result<ReportFiles> write_report(RunViews& views, const ReportOptions& options);

}  // namespace kevo
