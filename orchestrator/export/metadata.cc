// metadata.json and the README's generated sections (metrics table, provenance, plan).
#include <cassert>
#include <ctime>
#include <iomanip>
#include <sstream>

#include "orchestrator/export/codegen.h"

namespace kevo::export_detail {
namespace {

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json or_null(const std::string& s) { return s.empty() ? nlohmann::json() : nlohmann::json(s); }

std::string fmt(double v, int precision) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(precision) << v;
  return o.str();
}

// A metric value as text: errors need more digits than times.
std::string metric_text(const std::string& name, const nlohmann::json& v) {
  if (!v.is_number()) return v.dump();
  double x = v.get<double>();
  if (name.find("err") != std::string::npos) return fmt(x, 4);
  if (name.find("bytes") != std::string::npos) return fmt(x, 1);
  return fmt(x, 2);
}

std::string gpu_text(const nlohmann::json& gpu) {
  if (gpu.is_string()) return gpu.get<std::string>();
  if (gpu.is_object() && gpu.contains("name")) {
    std::string s = gpu["name"].get<std::string>();
    if (gpu.contains("arch") && gpu["arch"].is_string()) s += " (" + gpu["arch"].get<std::string>() + ")";
    return s;
  }
  return "unknown";
}

std::string phase_name(Phase p) { return p == Phase::kBuild ? "build" : "decode"; }

std::string metrics_section(const nlohmann::json& meta) {
  std::ostringstream o;
  o << "## Metrics\n\n";
  const auto& m = meta["metrics"];
  if (!m.is_object() || m.empty()) {
    o << "No kevo evaluation result is attached (exported from a plain file). `kevo eval FILE.cu "
         "--json > result.json` measures it, and `kevo export FILE.cu --result result.json ...` "
         "attaches it.\n";
    return o.str();
  }
  o << "Measured by kevo on " << gpu_text(meta["gpu"]);
  if (meta["evaluated_at"].is_string()) o << " at " << meta["evaluated_at"].get<std::string>();
  o << " (status " << meta.value("status", std::string("ok"))
    << "). Speedup is the geometric mean over the workloads of kevo's own dense decode time "
       "over this kernel's, both timed in the same process on the same data; errors are "
       "||o - o_ref|| / ||o_ref|| per (batch, head) row against an fp32 reference.\n\n"
    << "| metric | value |\n|---|---|\n";
  for (const auto& [name, value] : m.items()) o << "| " << name << " | " << metric_text(name, value) << " |\n";
  const auto& w = meta["workloads"];
  if (w.is_array() && !w.empty()) {
    o << "\n| workload | B | N | decode us | dense us | speedup | mean rel err | p99 rel err | max rel "
         "err |\n|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& x : w) {
      o << "| " << x.value("name", std::string()) << " | " << x.value("B", 0) << " | "
        << x.value("N", 0) << " | " << fmt(x.value("decode_us", 0.0), 2) << " | "
        << fmt(x.value("dense_us", 0.0), 2) << " | " << fmt(x.value("speedup", 0.0), 2) << " | "
        << fmt(x.value("mean_rel_err", 0.0), 4) << " | " << fmt(x.value("p99_rel_err", 0.0), 4)
        << " | " << fmt(x.value("max_rel_err", 0.0), 4) << " |\n";
    }
  }
  return o.str();
}

std::string provenance_section(const nlohmann::json& meta) {
  std::ostringstream o;
  o << "\n## Provenance\n\n| | |\n|---|---|\n";
  o << "| origin | " << meta["origin"].get<std::string>() << " |\n";
  if (meta["run"].is_string()) {
    o << "| run | " << meta["run"].get<std::string>();
    if (meta["program_id"].is_number()) o << ", program " << meta["program_id"].get<int64_t>();
    o << " |\n";
  }
  const auto& lineage = meta["lineage"];
  if (lineage.is_array() && !lineage.empty()) {
    o << "| lineage (fitness) | ";
    bool first = true;
    for (const auto& a : lineage) {
      o << (first ? "" : " &larr; ") << a["id"].get<int64_t>() << " ("
        << fmt(a["fitness"].get<double>(), 2);
      std::string origin = a.value("origin", std::string());
      if (!origin.empty()) o << ", " << origin;
      o << ")";
      first = false;
    }
    o << " |\n";
  }
  o << "| GPU | " << gpu_text(meta["gpu"]) << " |\n";
  if (meta["evaluated_at"].is_string()) o << "| evaluated | " << meta["evaluated_at"].get<std::string>() << " |\n";
  o << "| exported | " << meta["exported_at"].get<std::string>() << " by kevo "
    << meta["kevo_version"].get<std::string>() << " |\n";
  o << "| source sha256 | `" << meta["source_sha256"].get<std::string>() << "` |\n";
  return o.str();
}

std::string plan_section(const Package& p) {
  std::ostringstream o;
  o << "## Plan\n\nFrom the candidate's `// kevo:` directives; `" << p.name
    << "_plan.h` evaluates it (G = Hq / Hkv).\n\n";
  if (!p.spec.params.empty()) {
    o << "| param | value | kevo's search space |\n|---|---|---|\n";
    for (const auto& ps : p.spec.params) {
      o << "| " << ps.name << " | " << p.params.at(ps.name) << " | ";
      if (ps.choices.empty()) o << "fixed";
      for (size_t i = 0; i < ps.choices.size(); ++i) o << (i ? ", " : "") << ps.choices[i];
      o << " |\n";
    }
    o << "\n";
  }
  o << "- index bytes: `" << p.spec.index_bytes.text() << "`\n"
    << "- workspace bytes: `" << p.spec.workspace_bytes.text() << "`\n\n"
    << "| phase | kernel | grid | block | dynamic smem |\n|---|---|---|---|---|\n";
  for (Phase phase : {Phase::kBuild, Phase::kDecode}) {
    for (const auto& k : p.spec.kernels) {
      if (k.phase != phase) continue;
      o << "| " << phase_name(phase) << " | " << k.name << " | `" << k.grid[0].text() << ", "
        << k.grid[1].text() << ", " << k.grid[2].text() << "` | `" << k.block[0].text() << ", "
        << k.block[1].text() << ", " << k.block[2].text() << "` | `" << k.smem.text() << "` |\n";
    }
  }
  return o.str();
}

}  // namespace

nlohmann::json metadata(const Package& p, const ExportInput& in, ExportFormat format) {
  nlohmann::json m;
  m["name"] = p.name;
  m["format"] = export_format_name(format);
  m["kevo_version"] = p.kevo_version;
  m["exported_at"] = utc_now();
  m["origin"] = in.origin;
  m["source_sha256"] = p.source_sha256;
  m["arch"] = p.arch;
  m["tolerance"] = p.tolerance;
  m["params"] = p.params;
  nlohmann::json space = nlohmann::json::object();
  for (const auto& ps : p.spec.params) space[ps.name] = {{"default", ps.value}, {"choices", ps.choices}};
  m["param_space"] = space;
  nlohmann::json kernels = nlohmann::json::array();
  for (Phase phase : {Phase::kBuild, Phase::kDecode}) {
    for (const auto& k : p.spec.kernels) {
      if (k.phase != phase) continue;
      kernels.push_back({{"name", k.name},
                         {"phase", phase_name(phase)},
                         {"grid", {k.grid[0].text(), k.grid[1].text(), k.grid[2].text()}},
                         {"block", {k.block[0].text(), k.block[1].text(), k.block[2].text()}},
                         {"smem", k.smem.text()},
                         {"pdl", k.pdl}});
    }
  }
  m["plan"] = {{"index_bytes", p.spec.index_bytes.text()},
               {"workspace_bytes", p.spec.workspace_bytes.text()},
               {"kernels", kernels}};
  const auto& r = in.result;
  bool has = r.is_object();
  m["status"] = has && r.contains("status") ? r["status"] : nlohmann::json();
  m["fitness"] = has && r.contains("fitness") ? r["fitness"] : nlohmann::json();
  m["metrics"] = has && r.contains("metrics") ? r["metrics"] : nlohmann::json();
  m["workloads"] = has && r.contains("workloads") ? r["workloads"] : nlohmann::json::array();
  m["holdout"] = has && r.contains("holdout") ? r["holdout"] : nlohmann::json();
  m["run"] = or_null(in.run);
  m["program_id"] = in.program_id >= 0 ? nlohmann::json(in.program_id) : nlohmann::json();
  nlohmann::json lineage = nlohmann::json::array();
  for (const auto& a : in.lineage) {
    lineage.push_back({{"id", a.id}, {"fitness", a.fitness}, {"status", or_null(a.status)},
                       {"origin", or_null(a.origin)}});
  }
  m["lineage"] = lineage;
  m["gpu"] = in.gpu;
  m["evaluated_at"] = or_null(in.evaluated_at);
  return m;
}

std::string readme(const Package& p, const ExportInput& in, ExportFormat format,
                   const nlohmann::json& meta) {
  auto tmpl = template_text(format == ExportFormat::kCuda ? "cuda/README.md.in" : "torch/README.md.in");
  assert(tmpl.ok() && "README templates are compiled in");
  auto vars = common_vars(p);
  vars["ORIGIN"] = in.origin;
  vars["METRICS"] = metrics_section(meta);
  vars["PROVENANCE"] = provenance_section(meta);
  vars["PLAN"] = plan_section(p);
  auto text = render(*tmpl, vars);
  assert(text.ok() && "README templates name only known placeholders");
  return *text;
}

}  // namespace kevo::export_detail
