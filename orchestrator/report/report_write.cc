// report.md, and writing the report folder: data, script, figures (python3 + matplotlib).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "common/embedded.h"
#include "orchestrator/report/report.h"

extern char** environ;

namespace kevo {

const std::vector<EmbeddedFile>& embedded_report_script();  // generated: report/figures.py

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string num(const json& v, int significant = 4) {
  if (!v.is_number()) return "-";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*g", significant, v.get<double>());
  return buf;
}

std::string count(int64_t v) {
  std::string d = std::to_string(v), out;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i && (d.size() - i) % 3 == 0) out += ',';
    out += d[i];
  }
  return out;
}

std::string pct(double share) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f%%", 100 * share);
  return buf;
}

// Archive text in a Markdown table cell: no markup, no column breaks.
std::string md(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '|':
        out += "\\|";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '\n':
        out += ' ';
        break;
      case '`':
      case '*':
      case '_':
      case '[':
      case ']':
        out += '\\', out += c;
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string duration(double s) {
  char buf[32];
  if (s < 120)
    std::snprintf(buf, sizeof(buf), "%.0f s", s);
  else if (s < 7200)
    std::snprintf(buf, sizeof(buf), "%.1f min", s / 60);
  else
    std::snprintf(buf, sizeof(buf), "%.1f h", s / 3600);
  return buf;
}

std::string figure(const char* name, const char* alt) {
  return std::string("![") + alt + "](" + name + ".png)\n\n[" + name + ".svg](" + name +
         ".svg)\n\n";
}

// Candidates for the python that draws: one whose matplotlib imports.
Result<std::string> find_python(const std::string& asked) {
  std::vector<std::string> candidates;
  if (!asked.empty()) {
    candidates.push_back(asked);
  } else {
    if (const char* env = std::getenv("KEVO_PYTHON"); env && *env) candidates.push_back(env);
    candidates.push_back("/usr/bin/python3");  // Debian's: python3-matplotlib installs there
    candidates.push_back("python3");
  }
  for (const auto& py : candidates) {
    std::string cmd = "'" + py + "' -c 'import matplotlib' >/dev/null 2>&1";
    if (py.find('\'') == std::string::npos && std::system(cmd.c_str()) == 0) return py;
  }
  return Status::Unavailable(
      "the figures need python3 with matplotlib, and none was found (tried " + candidates.front() +
      (candidates.size() > 1 ? ", ..." : "") +
      "): apt-get install python3-matplotlib, or set KEVO_PYTHON");
}

// Runs `python script dir`, its output to `log`. The exit status, or -1 if it could not start.
int run_script(const std::string& python, const std::string& script, const std::string& dir,
               const std::string& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<std::string> args = {python, script, dir};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, python.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Status write_text(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  f.close();
  if (!f) return Status::IoError("cannot write " + path.string());
  return Status::Ok();
}

std::string tail(const std::string& path, size_t bytes) {
  std::ifstream f(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (s.size() > bytes) s = s.substr(s.size() - bytes);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  size_t nl = s.find_last_of('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);  // the last line: the error
}

}  // namespace

std::string report_markdown(const json& d) {
  const json& run = d["run"];
  const json& s = d["summary"];
  const json& llm = d["llm"];
  const std::string f = d["fitness_metric"];
  const int64_t evals = s["evaluations"].get<int64_t>();
  std::string out = "# kevo run report: " + md(str(run, "name")) + "\n\n";
  std::time_t now = std::time(nullptr);
  char when[64];
  std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  out += "Written by `kevo report` on " + std::string(when) + " from `" + md(str(run, "db")) +
         "`. The data behind every figure is in report.json; figures.py redraws them.\n\n";
  out += "| | |\n|---|---|\n";
  std::string status = md(str(run, "status"));
  if (!str(run, "stop_reason").empty()) status += " (" + md(str(run, "stop_reason")) + ")";
  out += "| run | " + status + " |\n";
  out += "| evaluations | " + count(evals) + " (ok " +
         pct(evals ? s["ok"].get<double>() / evals : 0) + "), " +
         count(s["pending"].get<int64_t>()) + " in flight |\n";
  if (s["best"].is_object()) {
    out += "| best " + md(f) + " | " + num(s["best"]["fitness"]) + " (program #" +
           std::to_string(s["best"]["program"].get<int64_t>()) + ", " +
           md(str(s["best"], "method")) + ", " + md(str(s["best"], "cell")) + ") |\n";
  }
  const int64_t calls = llm["calls"].get<int64_t>();
  out += "| LLM | " + count(calls) + " calls, " + count(llm["children"].get<int64_t>()) +
         " children (accept rate " + pct(calls ? llm["children"].get<double>() / calls : 0) +
         "), " + count(llm["tokens_in"].get<int64_t>()) + " tokens in, " +
         count(llm["tokens_out"].get<int64_t>()) + " out, $" + num(llm["cost_usd"], 3) + " |\n";
  const double rate = s["evals_per_min"].get<double>();
  out += "| wall time | " + duration(s["wall_s"].get<double>()) + ", " +
         (rate < 100 ? num(s["evals_per_min"], 3) : count(std::llround(rate))) +
         " evaluations per minute |\n\n";

  out += "## " + md(f) +
         " over evaluations\n\nEvery evaluation is a dot coloured by status "
         "(failures under the axis); the lines are the best so far on each island.\n\n" +
         figure("fitness", "fitness over evaluations");

  out += "## Error and " + md(f) +
         ": the Pareto front\n\nEvery ok program; the front holds "
         "those no other program beats on both " +
         md(str(d, "error_metric")) + " and " + md(f) + ".\n\n" +
         figure("pareto", "error x fitness with the Pareto front");
  out += "| program | method | " + md(str(d, "error_metric")) + " | " + md(f) +
         " |\n|---|---|---|---|\n";
  const json& front = d["pareto"]["front"];
  for (size_t i = 0; i < front.size() && i < 20; ++i) {
    out += "| #" + std::to_string(front[i]["id"].get<int64_t>()) + " | " +
           md(str(front[i], "method")) + " | " + num(front[i]["error"]) + " | " +
           num(front[i]["fitness"]) + " |\n";
  }

  out +=
      "\n## Best program per method and workload\n\nThe fittest program descended from each "
      "seed, on each workload of its result (speedup over the dense baseline on the same "
      "GPU).\n\n" +
      figure("methods", "best speedup per method and workload");
  out += "| method | best | " + md(f) + " | seed " + md(f) + " | gain | evaluated | ok |";
  for (const auto& w : d["workloads"]) out += " " + md(w.get<std::string>()) + " |";
  out += "\n|---|---|---|---|---|---|---|";
  for (size_t i = 0; i < d["workloads"].size(); ++i) out += "---|";
  out += "\n";
  for (const auto& m : d["methods"]) {
    std::string gain = "-";
    if (m["best_fitness"].is_number() && m["seed_fitness"].is_number() &&
        m["seed_fitness"].get<double>() > 0) {
      gain = num(json(m["best_fitness"].get<double>() / m["seed_fitness"].get<double>()), 3) + "x";
    }
    out += "| " + md(str(m, "name")) + " | " +
           (m["best"].is_number() ? "#" + std::to_string(m["best"].get<int64_t>()) : "-") + " | " +
           num(m["best_fitness"]) + " | " + num(m["seed_fitness"]) + " | " + gain + " | " +
           count(m["evaluated"].get<int64_t>()) + " | " + count(m["ok"].get<int64_t>()) + " |";
    for (const auto& w : d["workloads"]) {
      std::string cell = "-";
      for (const auto& mw : m["workloads"]) {
        if (mw["name"] == w) cell = num(mw["speedup"], 3);
      }
      out += " " + cell + " |";
    }
    out += "\n";
  }

  out +=
      "\n## LLM accept rate over time\n\nShare of LLM calls whose reply made a child program, "
      "and whose child evaluated ok.\n\n" +
      figure("llm_accept", "LLM accept rate over time");
  if (calls > 0) {
    out += "| outcome | calls | share |\n|---|---|---|\n";
    for (const auto& [o, n] : llm["by_outcome"].items()) {
      out += "| " + md(o) + " | " + count(n.get<int64_t>()) + " | " + pct(n.get<double>() / calls) +
             " |\n";
    }
    if (llm["outcomes_derived"].get<bool>()) {
      out +=
          "\nOutcomes are derived (this archive predates recorded outcomes): a failed request, "
          "a child, an edit_rejected event, or no child.\n";
    }
  }
  return out;
}

Result<ReportFiles> write_report(RunViews& views, const ReportOptions& options) {
  const fs::path dir = options.out_dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create " + dir.string() + ": " + ec.message());
  KEVO_ASSIGN_OR_RETURN(json data, report_data(views, options));
  ReportFiles files;
  auto put = [&](const char* name, const std::string& text) -> Status {
    KEVO_RETURN_IF_ERROR(write_text(dir / name, text));
    files.written.push_back((dir / name).string());
    return Status::Ok();
  };
  KEVO_RETURN_IF_ERROR(
      put("report.json", data.dump(1, ' ', false, json::error_handler_t::replace)));
  KEVO_RETURN_IF_ERROR(put("report.md", report_markdown(data)));
  KEVO_RETURN_IF_ERROR(put("figures.py", std::string(embedded_report_script().at(0).contents)));
  KEVO_ASSIGN_OR_RETURN(std::string python, find_python(options.python));
  const std::string log = (dir / "figures.log").string();
  int rc = run_script(python, (dir / "figures.py").string(), dir.string(), log);
  if (rc != 0) {
    return Status::Internal("the figures script failed (" + python + ", exit " +
                            std::to_string(rc) + "): " + tail(log, 2000) + " (log: " + log + ")");
  }
  for (const char* name : {"fitness", "pareto", "methods", "llm_accept"}) {
    for (const char* ext : {".png", ".svg"}) {
      fs::path p = dir / (std::string(name) + ext);
      if (!fs::is_regular_file(p, ec)) {
        return Status::Internal("the figures script did not write " + p.string());
      }
      files.written.push_back(p.string());
    }
  }
  return files;
}

}  // namespace kevo
