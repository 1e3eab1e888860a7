#include "evaluator/compile_log.h"

#include <map>
#include <regex>
#include <sstream>

namespace kevo {
namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

bool is_blank(const std::string& s) { return s.find_first_not_of(" \t") == std::string::npos; }

bool names_own_file(const std::string& file, const LogCutOptions& opt) {
  if (file == opt.program_name) return true;
  for (const auto& p : opt.own_prefixes) {
    if (file.rfind(p, 0) == 0) return true;
  }
  return false;
}

bool under_toolkit(const std::string& file, const LogCutOptions& opt) {
  for (const auto& dir : opt.toolkit_dirs) {
    if (!dir.empty() && file.rfind(dir, 0) == 0 && file.find("..") == std::string::npos) return true;
  }
  return false;
}

// Toolkit headers are named relative to their include folder ("cub/block/block_reduce.cuh").
std::string strip_toolkit_dirs(std::string line, const LogCutOptions& opt) {
  for (const auto& dir : opt.toolkit_dirs) {
    for (size_t at; !dir.empty() && (at = line.find(dir)) != std::string::npos;) line.erase(at, dir.size());
  }
  return line;
}

}  // namespace

std::string cut_compile_log(const std::string& raw, const LogCutOptions& opt) {
  // "FILE(LINE): error: ..." opens a diagnostic; the lines after it (quoted source, caret,
  // "detected during ...") belong to it until the next one.
  static const std::regex kHeader(R"(^(\S[^(]*)\((\d+)\): (error|warning|remark|note|catastrophic error|internal error)\b.*)");
  static const std::regex kSummary(R"(^\d+ errors? detected in the compilation of .*)");
  static const std::regex kTypesLine(R"(^\s+(argument types are|object type is):)");
  static const std::regex kAbsolutePath(R"((^|[\s"'(<:=,])/[A-Za-z0-9_.+-]+/)");
  std::vector<std::string> kept;
  // kAll: the candidate's own diagnostic; kToolkit: one inside an allowed CUDA header, shown as
  // its header line and the lines that lead back to the candidate; kNone: anything else.
  enum { kNone, kToolkit, kAll } keep = kAll;  // lines before any diagnostic are NVRTC's own
  bool last_was_header = false;
  for (const std::string& raw_line : split_lines(raw)) {
    const std::string line = strip_toolkit_dirs(raw_line, opt);
    std::smatch m;
    bool header = false;
    if (line.rfind("ptxas", 0) == 0) {
      // info lines become KernelResources; warnings and errors are about the candidate's kernels.
      bool shown = line.rfind("ptxas warning", 0) == 0 || line.rfind("ptxas error", 0) == 0 ||
                   line.rfind("ptxas fatal", 0) == 0;
      keep = shown ? kAll : kNone;
      if (!shown) continue;
    } else if (std::regex_match(raw_line, m, kHeader)) {
      keep = names_own_file(m[1].str(), opt) ? kAll : under_toolkit(m[1].str(), opt) ? kToolkit : kNone;
      header = true;
    } else if (line.rfind("At end of source:", 0) == 0 || std::regex_match(line, kSummary)) {
      keep = kAll;
      header = true;
    } else if (line.rfind("Remark: The warnings can be suppressed", 0) == 0) {
      continue;
    }
    if (keep == kNone) continue;
    if (keep == kToolkit && !header && line.find(" of " + opt.program_name) == std::string::npos &&
        !std::regex_search(line, kTypesLine)) {
      continue;
    }
    if (std::regex_search(line, kAbsolutePath)) continue;
    // A blank line between diagnostics that span several lines, none between one-liners.
    if (header && !kept.empty() && !is_blank(kept.back()) && !last_was_header) kept.push_back("");
    last_was_header = header;
    if (is_blank(line)) {
      if (!kept.empty() && !is_blank(kept.back())) kept.push_back("");
      continue;
    }
    kept.push_back(line.size() > opt.max_line_chars ? line.substr(0, opt.max_line_chars) + " ..." : line);
  }
  while (!kept.empty() && is_blank(kept.back())) kept.pop_back();

  std::string out;
  size_t used = 0;
  for (; used < kept.size(); ++used) {
    if (used >= opt.max_lines || out.size() + kept[used].size() + 1 > opt.max_bytes) break;
    out += kept[used] + "\n";
  }
  if (used < kept.size()) out += "... " + std::to_string(kept.size() - used) + " more lines\n";
  return out;
}

std::string first_error(const std::string& cut_log, const std::string& program_name) {
  static const std::regex kError(R"(^(\S[^(]*)\((\d+)\): (?:catastrophic )?error: (.*))");
  static const std::regex kHeader(R"(^(\S[^(]*)\((\d+)\): (error|warning|catastrophic error)\b.*)");
  const std::regex from_program("at line (\\d+) of " + std::regex_replace(program_name, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)"));
  std::string file, file_line, message, program_line, other;
  bool in_block = false;
  for (const std::string& line : split_lines(cut_log)) {
    std::smatch m;
    if (std::regex_match(line, m, kError)) {
      if (m[1].str() == program_name) return "line " + m[2].str() + ": " + m[3].str();
      in_block = file.empty();  // only the first error outside the program is described
      if (!in_block) continue;
      file = m[1].str();
      file_line = m[2].str();
      message = m[3].str();
      in_block = true;
    } else if (std::regex_match(line, kHeader)) {
      in_block = false;
    } else if (in_block && std::regex_search(line, m, from_program)) {
      program_line = m[1].str();  // the last one is the candidate's own call site
    } else if (file.empty() && other.empty() && line.find("error") != std::string::npos) {
      other = line;
    }
  }
  if (file.empty()) return other;
  if (program_line.empty()) return file + " line " + file_line + ": " + message;
  return "line " + program_line + ": in " + file + "(" + file_line + "): " + message;
}

std::vector<KernelResources> parse_ptxas_resources(const std::string& raw) {
  static const std::regex kEntry(R"(^ptxas info\s*: Compiling entry function '([^']+)' for)");
  static const std::regex kProps(R"(^ptxas info\s*: Function properties for (\S+))");
  static const std::regex kFrame(
      R"((\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads)");
  static const std::regex kUsed(R"(^ptxas info\s*: Used (\d+) registers)");
  static const std::regex kSmem(R"((\d+) bytes smem)");
  std::vector<KernelResources> entries;
  struct Frame {
    int stack = 0, stores = 0, loads = 0;
  };
  std::map<std::string, Frame> frames;
  std::string props_for;
  for (const std::string& line : split_lines(raw)) {
    std::smatch m;
    if (std::regex_search(line, m, kEntry)) {
      entries.push_back({m[1].str()});
    } else if (std::regex_search(line, m, kProps)) {
      props_for = m[1].str();
    } else if (line.rfind("ptxas", 0) == 0 && std::regex_search(line, m, kFrame) && !props_for.empty()) {
      frames[props_for] = {std::stoi(m[1].str()), std::stoi(m[2].str()), std::stoi(m[3].str())};
    } else if (std::regex_search(line, m, kUsed) && !entries.empty()) {
      entries.back().registers = std::stoi(m[1].str());
      if (std::regex_search(line, m, kSmem)) entries.back().smem_bytes = std::stoi(m[1].str());
    }
  }
  for (auto& e : entries) {
    auto it = frames.find(e.name);
    if (it == frames.end()) continue;
    e.local_bytes = it->second.stack;
    e.spill_stores = it->second.stores;
    e.spill_loads = it->second.loads;
  }
  return entries;
}

}  // namespace kevo
