// Template filling and the embedded files an export package is made of.
#include <cstdio>
#include <regex>
#include <set>

#include "common/embedded.h"
#include "evaluator/device_headers.h"
#include "orchestrator/export/codegen.h"

namespace kevo {
// Compiled in by kevo_embed_files (orchestrator/CMakeLists.txt): export/templates/**.in.
const std::vector<EmbeddedFile>& embedded_export_templates();
}  // namespace kevo

namespace kevo::export_detail {

Result<std::string> render(std::string_view tmpl, const std::map<std::string, std::string>& vars) {
  std::string out;
  out.reserve(tmpl.size() + tmpl.size() / 4);
  size_t i = 0;
  while (i < tmpl.size()) {
    size_t at = tmpl.find('@', i);
    if (at == std::string_view::npos) break;
    size_t end = tmpl.find('@', at + 1);
    // A placeholder is @NAME@ with NAME in [A-Z0-9_]; any other '@' is text (e.g. in an email).
    bool placeholder = end != std::string_view::npos && end > at + 1;
    for (size_t j = at + 1; placeholder && j < end; ++j) {
      char c = tmpl[j];
      placeholder = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    }
    if (!placeholder) {
      out.append(tmpl.substr(i, at + 1 - i));
      i = at + 1;
      continue;
    }
    std::string key(tmpl.substr(at + 1, end - at - 1));
    auto it = vars.find(key);
    if (it == vars.end()) return Status::InvalidArgument("template placeholder @" + key + "@ has no value");
    out.append(tmpl.substr(i, at - i));
    out.append(it->second);  // values are not scanned again
    i = end + 1;
  }
  out.append(tmpl.substr(i));
  return out;
}

Result<std::string> template_text(const std::string& path) {
  for (const auto& f : embedded_export_templates()) {
    if (f.path == path) return std::string(f.contents);
  }
  return Status::NotFound("no embedded export template " + path);
}

std::string number_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  std::string s = buf;
  // Python and C++ both need a float literal, not an integer one ("0.2", "1.0", "1e-05").
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::map<std::string, std::string> common_vars(const Package& p) {
  std::string arch_num = p.arch.rfind("sm_", 0) == 0 ? p.arch.substr(3) : p.arch;
  std::string kernel_list;
  for (Phase phase : {Phase::kBuild, Phase::kDecode}) {
    for (const auto& k : p.spec.kernels) {
      if (k.phase != phase) continue;
      kernel_list += (kernel_list.empty() ? "" : ", ") + kernel_symbol(p, k.name);
    }
  }
  // build_index(k, v) cannot know Hq: say whether the index or the build grids depend on it.
  bool build_needs_hq = false;
  auto reads_hq = [](const PlanExpr& e) {
    for (const auto& v : e.variables()) {
      if (v == "Hq" || v == "G") return true;
    }
    return false;
  };
  build_needs_hq = reads_hq(p.spec.index_bytes);
  for (const auto& k : p.spec.kernels) {
    if (k.phase != Phase::kBuild) continue;
    for (int d = 0; d < 3; ++d) build_needs_hq |= reads_hq(k.grid[d]) || reads_hq(k.block[d]);
    build_needs_hq |= reads_hq(k.smem);
  }
  return {{"NAME", p.name},
          {"UPPER", p.upper},
          {"ARCH", p.arch},
          {"ARCH_NUM", arch_num},
          {"TOLERANCE", number_text(p.tolerance)},
          {"KEVO_VERSION", p.kevo_version},
          {"SOURCE_SHA256", p.source_sha256},
          {"KERNEL_LIST", kernel_list},
          {"BUILD_NEEDS_HQ", build_needs_hq ? "true" : "false"}};
}

// The kevo/ headers `text` includes, transitively, from the embedded device headers.
Result<std::map<std::string, std::string>> device_headers_for(const std::string& text) {
  static const std::regex include_re(R"(^\s*#\s*include\s*[<"](kevo/[^>"]+)[>"])");
  std::map<std::string, std::string> all;
  for (const auto& f : embedded_device_headers()) all[std::string(f.path)] = std::string(f.contents);
  std::map<std::string, std::string> needed;
  std::vector<std::string> todo = {text};
  while (!todo.empty()) {
    std::string body = std::move(todo.back());
    todo.pop_back();
    size_t pos = 0;
    while (pos < body.size()) {
      size_t eol = body.find('\n', pos);
      if (eol == std::string::npos) eol = body.size();
      std::string line = body.substr(pos, eol - pos);
      pos = eol + 1;
      std::smatch m;
      if (!std::regex_search(line, m, include_re)) continue;
      std::string path = m[1];
      auto it = all.find(path);
      if (it == all.end()) {
        return Status::InvalidArgument("the source includes " + path + ", which is not one of kevo's "
                                       "device headers");
      }
      if (needed.count(path)) continue;
      needed[path] = it->second;
      todo.push_back(it->second);
    }
  }
  return needed;
}

}  // namespace kevo::export_detail
