#include "evaluator/workloads.h"

#include <filesystem>

#include "common/paths.h"

namespace kevo {

void bind(YamlSection& s, GeneratorParams& g) {
  s.field("sinks", g.sinks);
  s.field("outlier_channels", g.outlier_channels);
  s.field("key_mean", g.key_mean);
  s.field("outlier_scale", g.outlier_scale);
  s.field("rope_base", g.rope_base);
  s.field("qk_align", g.qk_align);
  s.field("temp_min", g.temp_min);
  s.field("temp_max", g.temp_max);
  s.field("heavy_fraction", g.heavy_fraction);
  s.field("heavy_mass_min", g.heavy_mass_min);
  s.field("heavy_mass_max", g.heavy_mass_max);
  s.field("sink_mass_min", g.sink_mass_min);
  s.field("sink_mass_max", g.sink_mass_max);
  s.field("recent_logit", g.recent_logit);
  s.field("recent_window", g.recent_window);
  s.field("value_mean", g.value_mean);
  s.field("value_outlier_frac", g.value_outlier_frac);
  s.field("query_noise", g.query_noise);
  if (g.sinks < 0) s.error("sinks", "must be >= 0");
  if (g.outlier_channels < 0 || g.outlier_channels > 64) s.error("outlier_channels", "must be 0..64");
  if (g.temp_min <= 0 || g.temp_max <= 0) s.error("temp_min", "temperatures must be positive");
  if (g.rope_base <= 1) s.error("rope_base", "must be > 1");
  if (g.heavy_fraction < 0 || g.heavy_fraction > 0.5) s.error("heavy_fraction", "must be 0..0.5");
  for (double m : {g.heavy_mass_min, g.heavy_mass_max, g.sink_mass_min, g.sink_mass_max}) {
    if (m < 0 || m >= 1) s.error("heavy_mass_min", "attention masses must be in [0, 1)");
  }
  if (g.recent_window < 0) s.error("recent_window", "must be >= 0");
}

namespace {

// The YAML as written; turned into WorkloadSpecs below.
struct WorkloadYaml {
  std::string name;
  int B = 1, N = 0, Hq = 0, Hkv = 0, D = 0;  // 0: the suite's value
  uint64_t seed = 0;                          // 0: suite seed + position in the list
};
void bind(YamlSection& s, WorkloadYaml& w) {
  s.field("name", w.name);
  s.field("B", w.B);
  s.field("N", w.N);
  s.field("Hq", w.Hq);
  s.field("Hkv", w.Hkv);
  s.field("D", w.D);
  s.field("seed", w.seed);
  if (w.B < 1) s.error("B", "must be >= 1");
  if (w.N < 1) s.error("N", "must be given and >= 1");
}

struct TensorsYaml {
  std::string name;
  std::string file;                     // a .safetensors file holding q, k and v ...
  std::string q = "", k = "", v = "";   // ... tensor names in it, or .npy paths without `file`
};
void bind(YamlSection& s, TensorsYaml& t) {
  s.field("name", t.name);
  s.field("file", t.file);
  s.field("q", t.q);
  s.field("k", t.k);
  s.field("v", t.v);
  if (t.file.empty() && (t.q.empty() || t.k.empty() || t.v.empty())) {
    s.error("q", "give q, k and v as .npy paths, or `file:` (a .safetensors file)");
  }
}

struct SuiteYaml {
  std::string name;
  int Hq = 32, Hkv = 8, D = 128;
  uint64_t seed = 1;
  GeneratorParams generator;
  std::vector<WorkloadYaml> workloads;
  std::vector<TensorsYaml> tensors;
};
void bind(YamlSection& s, SuiteYaml& y) {
  s.field("name", y.name);
  s.field("Hq", y.Hq);
  s.field("Hkv", y.Hkv);
  s.field("D", y.D);
  s.field("seed", y.seed);
  s.section("generator", y.generator);
  s.section_list("workloads", y.workloads);
  s.section_list("tensors", y.tensors);
}

std::string resolve(const std::string& base_file, const std::string& p) {
  namespace fs = std::filesystem;
  if (p.empty() || fs::path(p).is_absolute()) return p;
  return (fs::path(base_file).parent_path() / p).string();
}

Result<std::shared_ptr<const CapturedTensors>> load_tensors(const TensorsYaml& t,
                                                            const std::string& file) {
  Result<HostArray> q = Status::Internal(""), k = q, v = q;
  if (!t.file.empty()) {
    std::string path = resolve(file, t.file);
    q = read_safetensors(path, t.q.empty() ? "q" : t.q);
    k = read_safetensors(path, t.k.empty() ? "k" : t.k);
    v = read_safetensors(path, t.v.empty() ? "v" : t.v);
  } else {
    q = read_npy(resolve(file, t.q));
    k = read_npy(resolve(file, t.k));
    v = read_npy(resolve(file, t.v));
  }
  for (auto* r : {&q, &k, &v}) {
    if (!r->ok()) return r->status();
  }
  auto c = make_captured(std::move(q).value(), std::move(k).value(), std::move(v).value());
  if (!c.ok()) return c.status().with_context(file + ": tensors '" + t.name + "'");
  return std::shared_ptr<const CapturedTensors>(new CapturedTensors(std::move(c).value()));
}

}  // namespace

Status check_shape(const Shape& s) {
  std::string why;
  if (s.B < 1 || s.N < 1 || s.Hq < 1 || s.Hkv < 1) why = "every dimension must be >= 1";
  else if (s.Hq % s.Hkv != 0) why = "Hq must be a multiple of Hkv";
  else if (s.Hq / s.Hkv > 16) why = "at most 16 query heads per KV head (G <= 16)";
  else if (s.D % 8 != 0 || s.D > 256) why = "D must be a multiple of 8, at most 256";
  if (why.empty()) return Status::Ok();
  return Status::InvalidArgument("shape B=" + std::to_string(s.B) + " Hq=" + std::to_string(s.Hq) +
                                 " Hkv=" + std::to_string(s.Hkv) + " N=" + std::to_string(s.N) +
                                 " D=" + std::to_string(s.D) + ": " + why);
}

Result<Suite> parse_suite(const std::string& yaml_text, const std::string& file) {
  SuiteYaml y;
  KEVO_RETURN_IF_ERROR(load_yaml_config(yaml_text, file, y));
  Suite suite;
  suite.file = file;
  suite.name = y.name.empty() ? std::filesystem::path(file).stem().string() : y.name;
  for (size_t i = 0; i < y.workloads.size(); ++i) {
    const WorkloadYaml& w = y.workloads[i];
    WorkloadSpec spec;
    spec.shape = {w.B, w.Hq ? w.Hq : y.Hq, w.Hkv ? w.Hkv : y.Hkv, w.N, w.D ? w.D : y.D};
    Status st = check_shape(spec.shape);
    if (!st.ok()) return st.with_context(file + ": workloads[" + std::to_string(i) + "]");
    spec.seed = w.seed ? w.seed : y.seed * 1000003 + i;
    spec.gen = y.generator;
    spec.name = w.name;
    if (spec.name.empty()) {
      spec.name = "B" + std::to_string(w.B) + "-N" + std::to_string(w.N);
      if (w.Hq || w.Hkv) spec.name += "-H" + std::to_string(spec.shape.Hq) + "x" + std::to_string(spec.shape.Hkv);
    }
    suite.workloads.push_back(std::move(spec));
  }
  for (size_t i = 0; i < y.tensors.size(); ++i) {
    KEVO_ASSIGN_OR_RETURN(auto t, load_tensors(y.tensors[i], file));
    WorkloadSpec spec;
    spec.shape = t->shape;
    Status st = check_shape(spec.shape);
    if (!st.ok()) return st.with_context(file + ": tensors[" + std::to_string(i) + "]");
    spec.seed = y.seed * 1000003 + 7919 + i;
    spec.name = y.tensors[i].name.empty() ? "tensors" + std::to_string(i) : y.tensors[i].name;
    spec.tensors = std::move(t);
    suite.workloads.push_back(std::move(spec));
  }
  if (suite.workloads.empty()) {
    return Status::InvalidArgument(file + ": the suite has no `workloads` and no `tensors`");
  }
  return suite;
}

Result<Suite> load_suite(const std::string& name_or_path) {
  namespace fs = std::filesystem;
  std::string path = name_or_path;
  bool looks_like_path = name_or_path.find('/') != std::string::npos ||
                         name_or_path.ends_with(".yaml") || name_or_path.ends_with(".yml");
  if (!looks_like_path) {
    auto p = data_path("configs/suites/" + name_or_path + ".yaml");
    if (!p.ok()) return Status::NotFound("unknown suite '" + name_or_path + "': " + p.status().message());
    path = *p;
  }
  std::string text;
  KEVO_RETURN_IF_ERROR(read_text_file(path, text));
  return parse_suite(text, path);
}

}  // namespace kevo
