// export_package: checks the candidate and the destination, then writes every file of the
// package (layout in export.h).
#include "orchestrator/export/export.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include "common/hash.h"
#include "evaluator/device_headers.h"
#include "evaluator/workloads.h"
#include "orchestrator/export/codegen.h"

namespace kevo {
namespace fs = std::filesystem;
using export_detail::Package;

Result<ExportFormat> parse_export_format(const std::string& text) {
  if (text == "cuda") return ExportFormat::kCuda;
  if (text == "torch") return ExportFormat::kTorch;
  return Status::InvalidArgument("unknown export format '" + text + "' (use cuda or torch)");
}

const char* export_format_name(ExportFormat f) { return f == ExportFormat::kCuda ? "cuda" : "torch"; }

std::string export_name_from(const std::string& text) {
  std::string s;
  for (char c : text) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  // Runs of '_' and edges: "program 41" -> "program_41", "-x-" -> "x".
  s.erase(std::unique(s.begin(), s.end(), [](char a, char b) { return a == '_' && b == '_'; }), s.end());
  while (!s.empty() && s.front() == '_') s.erase(s.begin());
  while (!s.empty() && s.back() == '_') s.pop_back();
  if (s.empty()) return "kernel";
  if (std::isdigit(static_cast<unsigned char>(s[0]))) s = "k_" + s;
  return s;
}

namespace {

bool is_identifier(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

Status prepare_dir(const std::string& dir, bool force) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) return Status::InvalidArgument(dir + " exists and is not a folder");
    if (!fs::is_empty(dir, ec) && !force) {
      return Status::InvalidArgument(dir + " is not empty (use --force to write into it)");
    }
  }
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create " + dir + ": " + ec.message());
  return Status::Ok();
}

// The tolerance of the package's own check: its data is not the suite's, so leave room above the
// archived error, but never beyond the evaluator's gate.
double auto_tolerance(const nlohmann::json& result) {
  constexpr double kGate = 0.2;  // EvaluatorConfig::max_mean_rel_err's default
  if (result.is_object() && result.contains("metrics") && result["metrics"].contains("mean_rel_err") &&
      result["metrics"]["mean_rel_err"].is_number()) {
    return std::min(kGate, 2 * result["metrics"]["mean_rel_err"].get<double>() + 0.01);
  }
  return kGate;
}

class Writer {
 public:
  explicit Writer(std::string root) : root_(std::move(root)) {}
  Status write(const std::string& rel, const std::string& text, bool executable = false) {
    fs::path path = fs::path(root_) / rel;
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) return Status::IoError("cannot create " + path.parent_path().string() + ": " + ec.message());
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << text;
      if (!out) return Status::IoError("cannot write " + path.string());
    }
    if (executable) {
      fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                      fs::perm_options::add, ec);
    }
    files_.push_back(rel);
    return Status::Ok();
  }
  Status render(const std::string& rel, const std::string& tmpl_path,
                const std::map<std::string, std::string>& vars, bool executable = false) {
    KEVO_ASSIGN_OR_RETURN(std::string tmpl, export_detail::template_text(tmpl_path));
    auto text = export_detail::render(tmpl, vars);
    if (!text.ok()) return text.status().with_context(tmpl_path);
    return write(rel, *text, executable);
  }
  const std::vector<std::string>& files() const { return files_; }

 private:
  std::string root_;
  std::vector<std::string> files_;
};

// The sources both formats share, under `dir` ("src" or "csrc"; the API header goes to `api_dir`).
Status write_sources(Writer& w, const Package& p, const std::map<std::string, std::string>& vars,
                     const std::map<std::string, std::string>& headers, const std::string& dir,
                     const std::string& api_dir) {
  KEVO_RETURN_IF_ERROR(w.render(api_dir + "/" + p.name + ".h", "common/api.h.in", vars));
  KEVO_RETURN_IF_ERROR(w.render(dir + "/" + p.name + ".cu", "common/launcher.cu.in", vars));
  KEVO_RETURN_IF_ERROR(w.write(dir + "/" + p.name + "_plan.h", export_detail::plan_header(p)));
  KEVO_RETURN_IF_ERROR(w.write(dir + "/" + p.name + "_kernels.cuh", export_detail::kernels_header(p)));
  for (const auto& [path, text] : headers) KEVO_RETURN_IF_ERROR(w.write(dir + "/" + path, text));
  return Status::Ok();
}

// The check's generator settings: the suite's (first workload's generator, every workload's
// seed), or the generator defaults when the suite cannot be read (named in the check).
void add_generator_vars(const std::string& suite_name, std::map<std::string, std::string>& vars) {
  GeneratorParams g;
  std::string seeds, label = suite_name;
  uint64_t base_seed = 1;
  auto suite = load_suite(suite_name);
  if (suite.ok() && !suite->workloads.empty() && !suite->workloads[0].tensors) {
    g = suite->workloads[0].gen;
    base_seed = suite->workloads[0].seed;
    for (const auto& w : suite->workloads) {
      if (w.tensors) continue;
      const Shape& sh = w.shape;
      seeds += (seeds.empty() ? "" : ", ") + std::string("{") + std::to_string(sh.B) + ", " +
               std::to_string(sh.Hq) + ", " + std::to_string(sh.Hkv) + ", " + std::to_string(sh.N) +
               ", " + std::to_string(sh.D) + ", " + std::to_string(w.seed) + "ull}";
    }
  } else {
    label = suite_name + "' not readable at export time: generator defaults, '" +
            (suite.ok() ? std::string("no generated workloads") : suite.status().message());
  }
  if (seeds.empty()) seeds = "{0, 0, 0, 0, 0, 0ull}";
  auto f = [](double x) { return export_detail::number_text(x) + "f"; };
  std::string fields;
  auto line = [&](const std::string& name, const std::string& value) {
    fields += "  p." + name + " = " + value + ";\n";
  };
  line("sinks", std::to_string(g.sinks));
  line("outlier_channels", std::to_string(g.outlier_channels));
  line("key_mean", f(g.key_mean));
  line("outlier_scale", f(g.outlier_scale));
  line("rope_base", f(g.rope_base));
  line("qk_align", f(g.qk_align));
  line("temp_min", f(g.temp_min));
  line("temp_max", f(g.temp_max));
  line("heavy_fraction", f(g.heavy_fraction));
  line("heavy_mass_min", f(g.heavy_mass_min));
  line("heavy_mass_max", f(g.heavy_mass_max));
  line("sink_mass_min", f(g.sink_mass_min));
  line("sink_mass_max", f(g.sink_mass_max));
  line("recent_logit", f(g.recent_logit));
  line("recent_window", f(g.recent_window));
  line("value_mean", f(g.value_mean));
  line("value_outlier_frac", f(g.value_outlier_frac));
  line("query_noise", f(g.query_noise));
  fields.pop_back();  // the template supplies the line end
  vars["SUITE"] = label;
  vars["GEN_FIELDS"] = fields;
  vars["GEN_SEEDS"] = seeds;
  vars["GEN_BASE_SEED"] = std::to_string(base_seed);
}

}  // namespace

Result<ExportSummary> export_package(const ExportInput& in, const ExportOptions& opt) {
  if (!is_identifier(in.name)) {
    return Status::InvalidArgument("package name '" + in.name + "' is not a C identifier");
  }
  auto spec = parse_task_spec(in.source);
  if (!spec.ok()) return spec.status().with_context(in.origin);
  auto params = spec->resolve_params(in.params);
  if (!params.ok()) return params.status().with_context(in.origin);
  auto headers = export_detail::device_headers_for(in.source);
  if (!headers.ok()) return headers.status().with_context(in.origin);
  if (opt.out_dir.empty()) return Status::InvalidArgument("no output folder given");
  KEVO_RETURN_IF_ERROR(prepare_dir(opt.out_dir, opt.force));

  Package p;
  p.name = in.name;
  p.upper = upper(in.name);
  p.spec = std::move(spec).value();
  p.params = std::move(params).value();
  p.source = in.source;
  p.source_sha256 = sha256_hex(in.source);
  p.arch = opt.arch;
  p.tolerance = opt.tolerance > 0 ? opt.tolerance : auto_tolerance(in.result);
  p.kevo_version = opt.kevo_version.empty() ? "unknown" : opt.kevo_version;
  auto vars = export_detail::common_vars(p);
  if (opt.format == ExportFormat::kCuda) add_generator_vars(opt.suite, vars);

  Writer w(opt.out_dir);
  if (opt.format == ExportFormat::kCuda) {
    KEVO_RETURN_IF_ERROR(write_sources(w, p, vars, *headers, "src", "include"));
    KEVO_RETURN_IF_ERROR(w.render("example/check.cu", "cuda/check.cu.in", vars));
    KEVO_RETURN_IF_ERROR(w.write("example/kevo_gen_math.h", std::string(internal_kernel_file("gen_math.h"))));
    KEVO_RETURN_IF_ERROR(w.render("CMakeLists.txt", "cuda/CMakeLists.txt.in", vars));
    KEVO_RETURN_IF_ERROR(w.render("build.sh", "cuda/build.sh.in", vars, /*executable=*/true));
  } else {
    KEVO_RETURN_IF_ERROR(write_sources(w, p, vars, *headers, "csrc", "csrc"));
    KEVO_RETURN_IF_ERROR(w.render("csrc/" + p.name + "_torch.cpp", "torch/binding.cpp.in", vars));
    KEVO_RETURN_IF_ERROR(w.render(p.name + "/__init__.py", "torch/__init__.py.in", vars));
    KEVO_RETURN_IF_ERROR(w.render("setup.py", "torch/setup.py.in", vars));
    KEVO_RETURN_IF_ERROR(w.render("test_" + p.name + ".py", "torch/test.py.in", vars, /*executable=*/true));
  }
  nlohmann::json meta = export_detail::metadata(p, in, opt.format);
  KEVO_RETURN_IF_ERROR(w.write("README.md", export_detail::readme(p, in, opt.format, meta)));
  std::vector<std::string> files = w.files();
  files.push_back("metadata.json");
  meta["files"] = files;
  KEVO_RETURN_IF_ERROR(w.write("metadata.json", meta.dump(2) + "\n"));

  ExportSummary s;
  s.out_dir = opt.out_dir;
  s.files = std::move(files);
  s.source_sha256 = p.source_sha256;
  s.tolerance = p.tolerance;
  s.metadata = std::move(meta);
  return s;
}

}  // namespace kevo
