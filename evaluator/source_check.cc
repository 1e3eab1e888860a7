#include "evaluator/source_check.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include "evaluator/source_lexer.h"

namespace kevo {
namespace {

namespace fs = std::filesystem;

Status refuse(int line, const std::string& what) {
  return Status::InvalidArgument("line " + std::to_string(line) + ": " + what);
}

// Device headers of the toolkit that kernels use. Whole folders where every header is device
// library code (libcu++, CUB, cooperative groups); single files elsewhere.
const std::set<std::string> kAllowedFiles = {
    "cuda_bf16.h", "cuda_fp16.h", "cuda_fp8.h", "cuda_fp6.h", "cuda_fp4.h", "mma.h",
    "cooperative_groups.h", "cuda_pipeline.h", "cuda_pipeline_primitives.h",
    "cuda_pipeline_helpers.h", "cuda_awbarrier.h", "cuda_awbarrier_primitives.h",
    "cuda_awbarrier_helpers.h", "nv/target"};
const char* const kAllowedFolders[] = {"cuda/", "cub/", "cooperative_groups/"};

// Pragmas that only steer code generation or diagnostics. Others (GCC dependency, push_macro,
// include_alias...) can read files or change what an include names.
const std::set<std::string> kAllowedPragmas = {
    "unroll", "nounroll", "once", "pack", "nv_diag_suppress", "nv_diag_warning", "nv_diag_error",
    "nv_diag_default", "nv_diag_once", "diag_suppress", "diag_warning", "diag_error",
    "diag_default", "nv_diagnostic"};

const std::set<std::string> kPlainDirectives = {"define", "undef", "if", "ifdef", "ifndef", "elif",
                                                "elifdef", "elifndef", "else", "endif", "error",
                                                "warning"};

// Identifiers that probe or include files, or build pragmas out of strings.
const std::set<std::string> kBannedIdentifiers = {"__has_include", "__has_include_next",
                                                  "__has_embed", "_Pragma", "__pragma"};

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// Each '/'-separated part: letters, digits, '_', '-', '+', '.', starting with a letter, digit
// or '_' (so no ".", ".." or hidden names).
bool is_clean_relative_path(const std::string& p) {
  if (p.empty() || p.front() == '/' || p.back() == '/') return false;
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    std::string part = p.substr(start, end - start);
    if (part.empty() || !(std::isalnum(static_cast<unsigned char>(part[0])) || part[0] == '_')) return false;
    for (char c : part) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '+' || c == '.')) {
        return false;
      }
    }
    if (part.find("..") != std::string::npos) return false;
    start = end + 1;
  }
  return true;
}

bool inside(const fs::path& file, const fs::path& dir) {
  auto f = file.begin();
  for (auto d = dir.begin(); d != dir.end(); ++d, ++f) {
    if (f == file.end() || *f != *d) return false;
  }
  return true;
}

// The file NVRTC would open for <name>: the first include folder holding it, which must also
// hold its target (no symlink leading elsewhere).
Status resolve_cuda_header(const std::string& name, int line, const SourceCheckOptions& opt) {
  for (const auto& dir : opt.include_dirs) {
    std::error_code ec;
    fs::path candidate = fs::path(dir) / name;
    if (!fs::exists(fs::symlink_status(candidate, ec))) continue;
    fs::path real = fs::canonical(candidate, ec);
    fs::path root = fs::canonical(dir, ec);
    if (ec || !inside(real, root) || !fs::is_regular_file(real, ec)) {
      return refuse(line, "<" + name + "> does not resolve to a regular file inside the CUDA include "
                          "folder; it is not allowed");
    }
    return Status::Ok();
  }
  return refuse(line, "<" + name + "> is not in this CUDA toolkit's include folders");
}

Status check_include(const std::vector<SourceToken>& d, const SourceCheckOptions& opt) {
  int line = d[0].line;
  if (d.size() < 3 || d[2].kind != SourceToken::kHeaderName) {
    return refuse(line, "#include must name a header directly, as <cuda_bf16.h> or \"kevo/...\" "
                        "(macros as include targets are not allowed)");
  }
  if (d.size() > 3) return refuse(line, "unexpected text after the #include target");
  const std::string& h = d[2].text;
  bool angle = h[0] == '<';
  if (h.size() < 2 || h.back() != (angle ? '>' : '"')) return refuse(line, "an #include target that is never closed");
  std::string name = h.substr(1, h.size() - 2);
  if (name.empty() || name[0] == '/') return refuse(line, "#include of an absolute path is not allowed");
  if (!is_clean_relative_path(name)) {
    return refuse(line, "#include " + h + " is not allowed: include names are plain relative paths "
                        "(letters, digits, _ - + . and /; no '..', no '\\')");
  }
  if (name.rfind("kevo/", 0) == 0) {
    if (std::find(opt.task_headers.begin(), opt.task_headers.end(), name) == opt.task_headers.end()) {
      return refuse(line, "there is no task header " + h + " (available: " + join(opt.task_headers) + ")");
    }
    return Status::Ok();
  }
  if (!is_allowed_cuda_header(name)) {
    return refuse(line, "#include " + h + " is outside the allow-list: a candidate may include "
                        "\"kevo/...\" task headers and CUDA device headers (cuda_bf16.h, "
                        "cuda_fp16.h, cuda_fp8.h, mma.h, cuda_pipeline*.h, cooperative_groups*, "
                        "cuda/..., cub/...)");
  }
  if (!angle) return refuse(line, "write #include <" + name + ">: CUDA headers are found through the include path only");
  if (!opt.include_dirs.empty()) return resolve_cuda_header(name, line, opt);
  return Status::Ok();
}

Status check_directive(const std::vector<SourceToken>& d, const SourceCheckOptions& opt) {
  int line = d[0].line;
  if (d.size() == 1) return Status::Ok();  // the null directive
  if (d[1].kind != SourceToken::kIdentifier) return refuse(line, "'#' must be followed by a directive name");
  const std::string& name = d[1].text;
  if (name != "define" && d.back().end_line != line) {
    return refuse(line, "the #" + name + " directive continues onto another line (a backslash-newline or "
                        "a comment spanning lines); only #define may span lines");
  }
  if (name == "include") return check_include(d, opt);
  if (name == "line") {
    return refuse(line, "#line is not allowed: it would make compiler messages point at the wrong lines");
  }
  if (name == "pragma") {
    if (d.size() < 3 || d[2].kind != SourceToken::kIdentifier || !kAllowedPragmas.count(d[2].text)) {
      std::string what = d.size() >= 3 ? "#pragma " + d[2].text : "an empty #pragma";
      return refuse(line, what + " is not allowed (allowed: unroll, nounroll, once, pack, nv_diag_*, "
                                 "diag_*, nv_diagnostic)");
    }
    return Status::Ok();
  }
  if (kPlainDirectives.count(name)) return Status::Ok();
  if (name == "include_next" || name == "import" || name == "embed") {
    return refuse(line, "#" + name + " is not allowed; use #include <...> of an allowed header");
  }
  return refuse(line, "#" + name + " is not an allowed preprocessor directive");
}

}  // namespace

bool is_allowed_cuda_header(const std::string& name) {
  if (kAllowedFiles.count(name)) return true;
  for (const char* folder : kAllowedFolders) {
    if (name.rfind(folder, 0) == 0 && name.size() > std::string(folder).size()) return true;
  }
  return false;
}

Status check_source(const std::string& source, const SourceCheckOptions& opt) {
  KEVO_ASSIGN_OR_RETURN(std::vector<SourceToken> tokens, lex_source(source));
  for (size_t i = 0; i < tokens.size(); ++i) {
    const SourceToken& t = tokens[i];
    if (t.kind == SourceToken::kIdentifier) {
      if (kBannedIdentifiers.count(t.text)) return refuse(t.line, "'" + t.text + "' is not allowed");
      if (t.text == "main" && i + 1 < tokens.size() && tokens[i + 1].text == "(") {
        return refuse(t.line, "host code is not allowed: a candidate is device code only (found 'main(')");
      }
    }
    if (t.kind == SourceToken::kPunct && t.text == "#" && t.starts_line) {
      size_t end = i + 1;
      while (end < tokens.size() && !tokens[end].starts_line) ++end;
      std::vector<SourceToken> directive(tokens.begin() + i, tokens.begin() + end);
      KEVO_RETURN_IF_ERROR(check_directive(directive, opt));
      // Identifiers inside the directive are checked on the next iterations.
    }
  }
  return Status::Ok();
}

}  // namespace kevo
