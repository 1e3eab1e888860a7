// parse_task_spec: reads the `// kevo:` directives and EVOLVE-BLOCK markers of a candidate.
// Every error names the line and says what is wrong, because the reader is often an LLM that
// must fix its own output from the message alone.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <set>
#include <sstream>

#include "evaluator/task.h"

#include "evaluator/evolve_block.h"

namespace kevo {
namespace {

// Names a plan expression may read besides the params (docs/design.md, Task).
const std::set<std::string> kShapeVariables = {"B", "Hq", "Hkv", "G", "N", "D"};
const std::set<std::string> kFunctions = {"cdiv", "min", "max"};

Status line_error(int line, const std::string& what) {
  return Status::InvalidArgument("line " + std::to_string(line) + ": " + what);
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Reads a leading identifier from `s` at `pos`; empty when there is none.
std::string read_identifier(const std::string& s, size_t& pos) {
  while (pos < s.size() && std::isspace(static_cast<unsigned char>(s[pos]))) ++pos;
  size_t start = pos;
  while (pos < s.size() && (std::isalnum(static_cast<unsigned char>(s[pos])) || s[pos] == '_')) ++pos;
  return s.substr(start, pos - start);
}

Result<int64_t> parse_integer(const std::string& text) {
  std::string t = trim(text);
  size_t i = (t.size() > 1 && t[0] == '-') ? 1 : 0;
  if (i == t.size() || !std::all_of(t.begin() + i, t.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return Status::InvalidArgument("'" + t + "' is not an integer");
  }
  errno = 0;
  long long v = std::strtoll(t.c_str(), nullptr, 10);
  if (errno == ERANGE) return Status::InvalidArgument("'" + t + "' does not fit in 64 bits");
  return static_cast<int64_t>(v);
}

// `NAME = TEXT` of a kevo:param or kevo:let line (directive: "kevo:param" or "kevo:let"): the
// name, not one of the reserved ones, and the text after '='.
struct NameAndText {
  std::string name, text;
};
Result<NameAndText> read_name_and_text(const std::string& rest, int line,
                                       const std::string& directive, const std::string& usage) {
  size_t pos = 0;
  NameAndText out;
  out.name = read_identifier(rest, pos);
  if (out.name.empty()) return line_error(line, directive + " needs a name" + usage);
  if (kShapeVariables.count(out.name) || kFunctions.count(out.name)) {
    return line_error(
        line, directive + " name '" + out.name + "' is reserved (B Hq Hkv G N D cdiv min max)");
  }
  std::string after = rest.substr(pos);
  size_t eq = after.find('=');
  if (eq == std::string::npos || !trim(after.substr(0, eq)).empty()) {
    return line_error(line, directive + " " + out.name + ": missing '='" + usage);
  }
  out.text = after.substr(eq + 1);
  return out;
}

// `NAME = VALUE [in {a, b, c}]`
Result<ParamSpec> parse_param(const std::string& rest, int line) {
  const char* usage = " (expected 'kevo:param NAME = VALUE' or 'kevo:param NAME = VALUE in {A, B, C}')";
  ParamSpec p;
  p.line = line;
  KEVO_ASSIGN_OR_RETURN(NameAndText nt, read_name_and_text(rest, line, "kevo:param", usage));
  p.name = nt.name;
  if (p.name.rfind("__", 0) == 0 || (p.name[0] == '_' && p.name.size() > 1 && std::isupper(static_cast<unsigned char>(p.name[1])))) {
    return line_error(line, "kevo:param name '" + p.name + "' is reserved for the compiler (starts with __ or _X)");
  }
  std::string value_part = nt.text;
  std::string choices_part;
  size_t brace = value_part.find('{');
  if (brace != std::string::npos) {
    std::string before = trim(value_part.substr(0, brace));
    if (before.size() < 2 || before.substr(before.size() - 2) != "in" ||
        (before.size() > 2 && !std::isspace(static_cast<unsigned char>(before[before.size() - 3])))) {
      return line_error(line, "kevo:param " + p.name + ": expected 'in' before '{'" + usage);
    }
    size_t close = value_part.find('}', brace);
    if (close == std::string::npos) return line_error(line, "kevo:param " + p.name + ": missing '}'");
    if (!trim(value_part.substr(close + 1)).empty()) {
      return line_error(line, "kevo:param " + p.name + ": unexpected text after '}'");
    }
    choices_part = value_part.substr(brace + 1, close - brace - 1);
    value_part = before.substr(0, before.size() - 2);
  }
  auto v = parse_integer(value_part);
  if (!v.ok()) return line_error(line, "kevo:param " + p.name + ": value " + v.status().message() + usage);
  p.value = *v;
  if (brace != std::string::npos) {
    std::stringstream ss(choices_part);
    std::string item;
    while (std::getline(ss, item, ',')) {
      auto c = parse_integer(item);
      if (!c.ok()) return line_error(line, "kevo:param " + p.name + ": choice " + c.status().message());
      if (std::find(p.choices.begin(), p.choices.end(), *c) != p.choices.end()) {
        return line_error(line, "kevo:param " + p.name + ": choice " + std::to_string(*c) + " is listed twice");
      }
      p.choices.push_back(*c);
    }
    if (p.choices.empty()) return line_error(line, "kevo:param " + p.name + ": the choice list is empty");
    if (std::find(p.choices.begin(), p.choices.end(), p.value) == p.choices.end()) {
      return line_error(line, "kevo:param " + p.name + ": the value " + std::to_string(p.value) +
                                  " is not one of its choices");
    }
  }
  return p;
}

// Splits "a, cdiv(N, 2), c" at top-level commas.
std::vector<std::string> split_args(const std::string& s) {
  std::vector<std::string> out;
  int depth = 0;
  std::string cur;
  for (char c : s) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

Result<PlanExpr> parse_expr(const std::string& text, int line, const std::string& what) {
  auto e = PlanExpr::parse(trim(text));
  if (!e.ok()) return line_error(line, what + ": " + e.status().message());
  return e;
}

// `NAME = EXPR`
Result<PlanLet> parse_let(const std::string& rest, int line) {
  const char* usage = " (expected 'kevo:let NAME = EXPR', e.g. 'kevo:let CHUNK = max(CH, N / 64)')";
  KEVO_ASSIGN_OR_RETURN(NameAndText nt, read_name_and_text(rest, line, "kevo:let", usage));
  PlanLet let;
  let.line = line;
  let.name = nt.name;
  if (!nt.text.empty() && nt.text[0] == '=')
    return line_error(line, "kevo:let " + let.name + ": missing '='" + usage);
  if (trim(nt.text).empty())
    return line_error(line, "kevo:let " + let.name + " needs an expression" + usage);
  KEVO_ASSIGN_OR_RETURN(let.expr, parse_expr(nt.text, line, "kevo:let " + let.name));
  return let;
}

// `NAME grid(x[,y[,z]]) block(x[,y[,z]]) [smem(EXPR)] [pdl]` (pdl: decode only)
Result<KernelLaunchSpec> parse_kernel(const std::string& rest, Phase phase, int line) {
  const std::string directive = phase == Phase::kBuild ? "kevo:build" : "kevo:decode";
  const std::string usage = " (expected '" + directive +
                            " NAME grid(X[, Y[, Z]]) block(X[, Y[, Z]]) [smem(BYTES)]" +
                            std::string(phase == Phase::kDecode ? " [pdl]" : "") + "')";
  KernelLaunchSpec k;
  k.phase = phase;
  k.line = line;
  size_t pos = 0;
  k.name = read_identifier(rest, pos);
  bool clause_first = (k.name == "grid" || k.name == "block" || k.name == "smem") &&
                      rest.find_first_not_of(" \t", pos) != std::string::npos &&
                      rest[rest.find_first_not_of(" \t", pos)] == '(';
  if (k.name.empty() || clause_first) return line_error(line, directive + " needs a kernel name" + usage);
  std::set<std::string> seen;
  while (true) {
    std::string clause = read_identifier(rest, pos);
    if (clause.empty()) break;
    if (clause == "pdl") {
      if (phase != Phase::kDecode) {
        return line_error(line, directive + " " + k.name +
                                    ": pdl is for decode kernels (a build kernel runs alone)");
      }
      if (!seen.insert(clause).second)
        return line_error(line, directive + " " + k.name + ": pdl given twice");
      k.pdl = true;
      continue;
    }
    if (clause != "grid" && clause != "block" && clause != "smem") {
      return line_error(line, directive + " " + k.name + ": unknown clause '" + clause + "'" + usage);
    }
    if (!seen.insert(clause).second) {
      return line_error(line, directive + " " + k.name + ": " + clause + "(...) given twice");
    }
    while (pos < rest.size() && std::isspace(static_cast<unsigned char>(rest[pos]))) ++pos;
    if (pos >= rest.size() || rest[pos] != '(') {
      return line_error(line, directive + " " + k.name + ": expected '(' after " + clause);
    }
    int depth = 0;
    size_t open = pos;
    for (; pos < rest.size(); ++pos) {
      if (rest[pos] == '(') ++depth;
      if (rest[pos] == ')' && --depth == 0) break;
    }
    if (pos >= rest.size()) return line_error(line, directive + " " + k.name + ": unbalanced parentheses in " + clause);
    std::string inner = rest.substr(open + 1, pos - open - 1);
    ++pos;
    auto args = split_args(inner);
    size_t max_args = clause == "smem" ? 1 : 3;
    if (args.size() > max_args) {
      return line_error(line, directive + " " + k.name + ": " + clause + " takes at most " +
                                  std::to_string(max_args) + " value" + (max_args > 1 ? "s" : ""));
    }
    for (size_t i = 0; i < 3; ++i) {
      PlanExpr e;
      std::string label = directive + " " + k.name + " " + clause;
      if (i < args.size()) {
        KEVO_ASSIGN_OR_RETURN(e, parse_expr(args[i], line, label));
      } else {
        e = PlanExpr::parse("1").value();
      }
      if (clause == "grid") k.grid[i] = e;
      if (clause == "block") k.block[i] = e;
      if (clause == "smem" && i == 0) k.smem = e;
    }
  }
  if (!trim(rest.substr(pos)).empty()) {
    return line_error(line, directive + " " + k.name + ": unexpected text '" + trim(rest.substr(pos)) + "'" + usage);
  }
  if (!seen.count("grid") || !seen.count("block")) {
    return line_error(line, directive + " " + k.name + ": grid(...) and block(...) are both required" + usage);
  }
  if (!seen.count("smem")) k.smem = PlanExpr::parse("0").value();
  return k;
}

}  // namespace

Result<TaskSpec> parse_task_spec(const std::string& source) {
  TaskSpec spec;
  spec.index_bytes = PlanExpr::parse("0").value();
  spec.workspace_bytes = PlanExpr::parse("0").value();
  KEVO_ASSIGN_OR_RETURN(EvolveBlock block, find_evolve_block(source));
  spec.has_evolve_block = block.present;
  spec.evolve_begin_line = block.start_line;
  spec.evolve_end_line = block.end_line;

  std::istringstream in(source);
  std::string raw;
  int line = 0;
  while (std::getline(in, raw)) {
    ++line;
    std::string t = trim(raw);
    if (t.rfind("//", 0) != 0) continue;
    std::string body = trim(t.substr(2));
    if (body.rfind("kevo:", 0) != 0) continue;
    size_t pos = 5;
    std::string name = read_identifier(body, pos);
    std::string rest = body.substr(pos);
    if (name == "param") {
      KEVO_ASSIGN_OR_RETURN(ParamSpec p, parse_param(rest, line));
      for (const auto& q : spec.params) {
        if (q.name == p.name) {
          return line_error(line, "kevo:param " + p.name + " is already declared at line " + std::to_string(q.line));
        }
      }
      spec.params.push_back(p);
    } else if (name == "let") {
      KEVO_ASSIGN_OR_RETURN(PlanLet let, parse_let(rest, line));
      for (const auto& q : spec.lets) {
        if (q.name == let.name) {
          return line_error(
              line, "kevo:let " + let.name + " is already given at line " + std::to_string(q.line));
        }
      }
      spec.lets.push_back(std::move(let));
    } else if (name == "index" || name == "workspace") {
      int& where = name == "index" ? spec.index_line : spec.workspace_line;
      if (where) return line_error(line, "kevo:" + name + " is already given at line " + std::to_string(where));
      if (trim(rest).empty()) return line_error(line, "kevo:" + name + " needs a size expression in bytes");
      KEVO_ASSIGN_OR_RETURN(PlanExpr e, parse_expr(rest, line, "kevo:" + name));
      (name == "index" ? spec.index_bytes : spec.workspace_bytes) = e;
      where = line;
    } else if (name == "build" || name == "decode") {
      KEVO_ASSIGN_OR_RETURN(KernelLaunchSpec k, parse_kernel(rest, name == "build" ? Phase::kBuild : Phase::kDecode, line));
      for (const auto& other : spec.kernels) {
        if (other.name == k.name) {
          return line_error(line, "kernel '" + k.name + "' is already listed at line " + std::to_string(other.line));
        }
      }
      spec.kernels.push_back(std::move(k));
    } else {
      return line_error(line, "unknown directive 'kevo:" + name +
                                  "' (known: param, let, index, workspace, build, decode)");
    }
  }

  // Every name an expression reads must be a shape variable, a declared param or a let. The lets
  // are evaluated first, in file order, so a let reads only the lets above it.
  std::set<std::string> known = kShapeVariables;
  for (const auto& p : spec.params) known.insert(p.name);
  auto check = [&](const PlanExpr& e, int at, const std::string& what) -> Status {
    for (const auto& v : e.variables()) {
      if (!known.count(v)) {
        return line_error(
            at,
            what + " reads '" + v +
                "', which is neither a shape variable (B Hq Hkv G N D) "
                "nor a kevo:param or kevo:let of this file" +
                (what.rfind("kevo:let", 0) == 0 ? " (a let reads only the lets above it)" : ""));
      }
    }
    return Status::Ok();
  };
  for (const auto& let : spec.lets) {
    for (const auto& p : spec.params) {
      if (p.name == let.name) {
        return line_error(let.line, "kevo:let " + let.name +
                                        " has the name of the kevo:param at line " +
                                        std::to_string(p.line));
      }
    }
    KEVO_RETURN_IF_ERROR(check(let.expr, let.line, "kevo:let " + let.name));
    known.insert(let.name);
  }
  KEVO_RETURN_IF_ERROR(check(spec.index_bytes, spec.index_line, "kevo:index"));
  KEVO_RETURN_IF_ERROR(check(spec.workspace_bytes, spec.workspace_line, "kevo:workspace"));
  bool any_decode = false;
  for (const auto& k : spec.kernels) {
    any_decode |= k.phase == Phase::kDecode;
    std::string what = std::string(k.phase == Phase::kBuild ? "kevo:build " : "kevo:decode ") + k.name;
    for (int i = 0; i < 3; ++i) {
      KEVO_RETURN_IF_ERROR(check(k.grid[i], k.line, what + " grid"));
      KEVO_RETURN_IF_ERROR(check(k.block[i], k.line, what + " block"));
    }
    KEVO_RETURN_IF_ERROR(check(k.smem, k.line, what + " smem"));
  }
  if (!any_decode) {
    return Status::InvalidArgument(
        "no '// kevo:decode' directive: the file must name at least one decode kernel, e.g. "
        "'// kevo:decode attend grid(Hq, B) block(256)'");
  }
  return spec;
}

Result<std::map<std::string, int64_t>> TaskSpec::resolve_params(
    const std::map<std::string, int64_t>& overrides) const {
  std::map<std::string, int64_t> out;
  for (const auto& p : params) out[p.name] = p.value;
  for (const auto& [name, value] : overrides) {
    auto it = std::find_if(params.begin(), params.end(), [&](const ParamSpec& p) { return p.name == name; });
    if (it == params.end()) {
      std::string names;
      for (const auto& p : params) names += (names.empty() ? "" : ", ") + p.name;
      return Status::InvalidArgument("unknown param '" + name + "' (the file declares: " +
                                     (names.empty() ? "none" : names) + ")");
    }
    if (!it->choices.empty() && std::find(it->choices.begin(), it->choices.end(), value) == it->choices.end()) {
      std::string list;
      for (int64_t c : it->choices) list += (list.empty() ? "" : ", ") + std::to_string(c);
      return Status::InvalidArgument("param " + name + " = " + std::to_string(value) + " is not one of {" +
                                     list + "} (line " + std::to_string(it->line) + ")");
    }
    out[name] = value;
  }
  return out;
}

}  // namespace kevo
