// source_with_params: a program's params written into its `kevo:param` lines, so the text alone
// is the program (what `kevo show --source` saves compiles to the kernel that was measured).
#include <algorithm>
#include <sstream>

#include "evaluator/task.h"

namespace kevo {
namespace {

// The line's value text: after the '=' that follows the param's name, up to " in {" or the end.
// Returns false when the line does not have that shape (parse_task_spec accepted it, so only a
// bug can get here).
bool value_span(const std::string& line, const std::string& name, size_t& begin, size_t& end) {
  size_t at = line.find("kevo:param");
  if (at == std::string::npos) return false;
  size_t n = line.find_first_not_of(" \t", at + 10);
  if (n == std::string::npos || line.compare(n, name.size(), name) != 0) return false;
  size_t eq = line.find_first_not_of(" \t", n + name.size());
  if (eq == std::string::npos || line[eq] != '=') return false;
  if (eq == std::string::npos) return false;
  begin = line.find_first_not_of(" \t", eq + 1);
  if (begin == std::string::npos) return false;
  size_t brace = line.find('{', begin);
  end = brace == std::string::npos ? line.size() : line.rfind("in", brace);
  if (end == std::string::npos || end < begin) return false;
  while (end > begin && (line[end - 1] == ' ' || line[end - 1] == '\t')) --end;
  return end > begin;
}

std::string with_choice(const std::string& line, int64_t value) {
  size_t close = line.rfind('}');
  if (close == std::string::npos) return line;
  return line.substr(0, close) + ", " + std::to_string(value) + line.substr(close);
}

}  // namespace

Result<std::string> source_with_params(const std::string& source,
                                       const std::map<std::string, int64_t>& params) {
  KEVO_ASSIGN_OR_RETURN(TaskSpec spec, parse_task_spec(source));
  std::map<int, std::pair<const ParamSpec*, int64_t>> edits;  // by line
  for (const auto& [name, value] : params) {
    auto it = std::find_if(spec.params.begin(), spec.params.end(),
                           [&](const ParamSpec& p) { return p.name == name; });
    if (it == spec.params.end()) {
      return Status::InvalidArgument("param '" + name + "' is not declared by the source");
    }
    if (it->value != value) edits[it->line] = {&*it, value};
  }
  if (edits.empty()) return source;
  std::string out;
  out.reserve(source.size() + 16 * edits.size());
  size_t pos = 0;
  for (int line = 1; pos < source.size(); ++line) {
    size_t eol = source.find('\n', pos);
    size_t stop = eol == std::string::npos ? source.size() : eol;
    std::string text = source.substr(pos, stop - pos);
    auto e = edits.find(line);
    if (e != edits.end()) {
      const ParamSpec& p = *e->second.first;
      const int64_t value = e->second.second;
      size_t b = 0, en = 0;
      if (!value_span(text, p.name, b, en)) {
        return Status::Internal("line " + std::to_string(line) + ": cannot rewrite kevo:param " +
                                p.name);
      }
      text = text.substr(0, b) + std::to_string(value) + text.substr(en);
      if (!p.choices.empty() &&
          std::find(p.choices.begin(), p.choices.end(), value) == p.choices.end()) {
        text = with_choice(text, value);
      }
    }
    out += text;
    if (eol == std::string::npos) break;
    out += '\n';
    pos = eol + 1;
  }
  return out;
}

}  // namespace kevo
