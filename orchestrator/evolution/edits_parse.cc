// Parsing an LLM reply into SEARCH/REPLACE blocks or one whole file (see edits.h).
#include <algorithm>
#include <cctype>

#include "orchestrator/evolution/edits.h"

namespace kevo {
namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) {
      if (pos < text.size()) lines.push_back(text.substr(pos));
      break;
    }
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  for (auto& l : lines) {
    if (!l.empty() && l.back() == '\r') l.pop_back();  // CRLF replies
  }
  return lines;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// `<<<<<<< SEARCH`, `=======`, `>>>>>>> REPLACE`: 5 to 9 marker characters (models miscount).
bool is_marker(const std::string& line, char c, const std::string& word) {
  std::string t = trim(line);
  size_t n = 0;
  while (n < t.size() && t[n] == c) ++n;
  if (n < 5 || n > 9) return false;
  return trim(t.substr(n)) == word;
}

bool is_search(const std::string& l) { return is_marker(l, '<', "SEARCH"); }
bool is_divider(const std::string& l) { return is_marker(l, '=', ""); }
bool is_replace(const std::string& l) { return is_marker(l, '>', "REPLACE"); }

// Number of backticks opening a fence (0 if the line is not a fence).
size_t fence_ticks(const std::string& line) {
  std::string t = trim(line);
  size_t n = 0;
  while (n < t.size() && t[n] == '`') ++n;
  return n >= 3 ? n : 0;
}

// Models sometimes wrap a block's halves in their own fences; drop a leading and trailing fence.
std::vector<std::string> unfence(std::vector<std::string> lines) {
  if (lines.size() >= 2 && fence_ticks(lines.front()) && fence_ticks(lines.back()) &&
      trim(lines.back()).find_first_not_of('`') == std::string::npos) {
    lines.erase(lines.begin());
    lines.pop_back();
  }
  return lines;
}

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) out += '\n';
    out += lines[i];
  }
  return out;
}

std::string block_name(int index, int reply_line, const std::string& first_line) {
  std::string first = trim(first_line);
  if (first.size() > 80) first = first.substr(0, 77) + "...";
  return "SEARCH block " + std::to_string(index) + " (reply line " + std::to_string(reply_line) +
         (first.empty() ? "" : ", starting `" + first + "`") + ")";
}

Result<ParsedEdit> parse_blocks(const std::vector<std::string>& lines) {
  ParsedEdit edit;
  enum { kOutside, kSearch, kReplace } state = kOutside;
  std::vector<std::string> search, replace;
  int start = 0;
  auto name = [&] {
    return block_name(static_cast<int>(edit.blocks.size()) + 1, start,
                      search.empty() ? "" : search.front());
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    int line_no = static_cast<int>(i) + 1;
    if (state == kOutside) {
      if (is_search(l)) {
        state = kSearch;
        start = line_no;
        search.clear();
        replace.clear();
      } else if (is_replace(l)) {
        return Status::InvalidArgument("reply line " + std::to_string(line_no) +
                                       ": >>>>>>> REPLACE without a <<<<<<< SEARCH before it");
      }
    } else if (state == kSearch) {
      if (is_divider(l)) {
        state = kReplace;
      } else if (is_search(l) || is_replace(l)) {
        return Status::InvalidArgument(name() + " has no ======= line between its SEARCH and "
                                       "REPLACE parts");
      } else {
        search.push_back(l);
      }
    } else {
      if (is_replace(l)) {
        std::vector<std::string> s = unfence(search), r = unfence(replace);
        bool blank = std::all_of(s.begin(), s.end(), [](const auto& x) { return trim(x).empty(); });
        if (blank) {
          return Status::InvalidArgument(name() + " has an empty SEARCH part; copy the lines to "
                                         "replace from the parent");
        }
        edit.blocks.push_back({join(s), join(r), start});
        state = kOutside;
      } else if (is_search(l) || is_divider(l)) {
        return Status::InvalidArgument(name() + " is not closed with >>>>>>> REPLACE before " +
                                       "reply line " + std::to_string(line_no));
      } else {
        replace.push_back(l);
      }
    }
  }
  if (state != kOutside) {
    return Status::InvalidArgument(name() + " is not closed with >>>>>>> REPLACE (the reply "
                                   "ends inside it; was it cut off?)");
  }
  return edit;
}

bool is_code_language(std::string lang) {
  std::transform(lang.begin(), lang.end(), lang.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  for (const char* ok : {"", "cuda", "cu", "cuh", "cpp", "c++", "cxx", "cc", "c", "h", "hpp"}) {
    if (lang == ok) return true;
  }
  return false;
}

Result<ParsedEdit> parse_whole_file(const std::vector<std::string>& lines) {
  struct Fence {
    int line;
    std::vector<std::string> body;
  };
  std::vector<Fence> code;
  for (size_t i = 0; i < lines.size(); ++i) {
    size_t ticks = fence_ticks(lines[i]);
    if (!ticks) continue;
    std::string lang = trim(trim(lines[i]).substr(ticks));
    Fence f{static_cast<int>(i) + 1, {}};
    size_t j = i + 1;
    for (; j < lines.size(); ++j) {
      size_t t = fence_ticks(lines[j]);
      if (t >= ticks && trim(lines[j]).find_first_not_of('`') == std::string::npos) break;
      f.body.push_back(lines[j]);
    }
    if (j == lines.size()) {
      return Status::InvalidArgument("the code block opened at reply line " +
                                     std::to_string(f.line) +
                                     " is never closed (was the reply cut off?)");
    }
    if (is_code_language(lang)) code.push_back(std::move(f));
    i = j;
  }
  if (code.empty()) {
    return Status::InvalidArgument("the reply has no SEARCH/REPLACE blocks and no ```cuda code "
                                   "block; answer in the requested format");
  }
  if (code.size() > 1) {
    return Status::InvalidArgument("the reply has " + std::to_string(code.size()) +
                                   " code blocks and no SEARCH/REPLACE blocks; send either "
                                   "SEARCH/REPLACE blocks or exactly one complete file");
  }
  ParsedEdit edit;
  edit.format = EditFormat::kWholeFile;
  edit.file = join(code[0].body) + "\n";
  if (edit.file.find("__global__") == std::string::npos) {
    return Status::InvalidArgument("the code block at reply line " + std::to_string(code[0].line) +
                                   " is not a complete kernel file (no __global__ function); "
                                   "send the whole file or SEARCH/REPLACE blocks");
  }
  return edit;
}

}  // namespace

const char* edit_format_name(EditFormat f) {
  return f == EditFormat::kDiff ? "diff" : "whole_file";
}

const char* edit_error_name(EditError e) {
  switch (e) {
    case EditError::kNoEdit: return "no_edit";
    case EditError::kBadEdit: return "bad_edit";
    case EditError::kNoMatch: return "no_match";
    case EditError::kAmbiguous: return "ambiguous";
    case EditError::kOutsideBlock: return "outside_block";
    case EditError::kNoChange: return "no_change";
  }
  return "bad_edit";
}

const char* edit_error_words(EditError e) {
  switch (e) {
    case EditError::kNoEdit: return "no SEARCH/REPLACE blocks";
    case EditError::kBadEdit: return "malformed edit";
    case EditError::kNoMatch: return "SEARCH does not match";
    case EditError::kAmbiguous: return "SEARCH matches several places";
    case EditError::kOutsideBlock: return "edit outside the EVOLVE-BLOCK";
    case EditError::kNoChange: return "edit changes nothing";
  }
  return "malformed edit";
}

Result<ParsedEdit> parse_edit_reply(const std::string& reply, EditError* error) {
  std::vector<std::string> lines = split_lines(reply);
  bool has_blocks = std::any_of(lines.begin(), lines.end(), is_search);
  Result<ParsedEdit> parsed = has_blocks ? parse_blocks(lines) : parse_whole_file(lines);
  if (!parsed.ok() && error) {
    bool prose = !has_blocks && std::none_of(lines.begin(), lines.end(),
                                             [](const std::string& l) { return fence_ticks(l) > 0; });
    *error = prose ? EditError::kNoEdit : EditError::kBadEdit;
  }
  return parsed;
}

}  // namespace kevo
