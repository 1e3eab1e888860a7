// Strict application of parsed edits, with EVOLVE-BLOCK limits (see edits.h).
#include <algorithm>

#include "orchestrator/edits.h"

namespace kevo {
namespace {

constexpr const char* kStart = "EVOLVE-BLOCK-START";
constexpr const char* kEnd = "EVOLVE-BLOCK-END";

struct Span {
  size_t begin, end;  // byte offsets, [begin, end)
};

struct Markers {
  std::vector<Span> editable;  // between a START line and its END line
  std::vector<Span> fixed;     // everything else, marker lines included
};

int line_of(const std::string& text, size_t pos) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + std::min(pos, text.size()), '\n'));
}

// Finds the EVOLVE-BLOCK regions. No markers: everything is editable and `fixed` is empty.
Result<Markers> find_markers(const std::string& text, const char* what) {
  Markers m;
  size_t fixed_from = 0;
  bool open = false;
  size_t open_at = 0;
  bool any = false;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    size_t line_end = nl == std::string::npos ? text.size() : nl;
    size_t next = nl == std::string::npos ? text.size() : nl + 1;
    std::string_view line(text.data() + pos, line_end - pos);
    bool start = line.find(kStart) != std::string_view::npos;
    bool end = line.find(kEnd) != std::string_view::npos;
    if (start || end) any = true;
    if (start && end) {
      return Status::InvalidArgument(std::string(what) + " line " + std::to_string(line_of(text, pos)) +
                                     " holds both EVOLVE-BLOCK markers");
    }
    if (start) {
      if (open) {
        return Status::InvalidArgument(std::string(what) + " line " +
                                       std::to_string(line_of(text, pos)) +
                                       ": EVOLVE-BLOCK-START inside an open EVOLVE-BLOCK");
      }
      open = true;
      open_at = next;
      m.fixed.push_back({fixed_from, next});
    } else if (end) {
      if (!open) {
        return Status::InvalidArgument(std::string(what) + " line " +
                                       std::to_string(line_of(text, pos)) +
                                       ": EVOLVE-BLOCK-END without a START before it");
      }
      open = false;
      m.editable.push_back({open_at, pos});
      fixed_from = pos;
    }
    pos = next;
  }
  if (open) {
    return Status::InvalidArgument(std::string(what) + " has an EVOLVE-BLOCK-START without an END");
  }
  if (!any) {
    m.editable.push_back({0, text.size()});
    return m;
  }
  m.fixed.push_back({fixed_from, text.size()});
  return m;
}

bool at_line_start(const std::string& t, size_t pos) { return pos == 0 || t[pos - 1] == '\n'; }
bool at_line_end(const std::string& t, size_t pos) { return pos == t.size() || t[pos] == '\n'; }

// Every place `needle` occupies whole lines of `text`.
std::vector<size_t> line_matches(const std::string& text, const std::string& needle) {
  std::vector<size_t> out;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    if (at_line_start(text, pos) && at_line_end(text, pos + needle.size())) out.push_back(pos);
  }
  return out;
}

std::string squash_ws(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r') out += c;
  }
  return out;
}

std::string describe(int index, const SearchReplaceBlock& b) {
  std::string first = b.search.substr(0, b.search.find('\n'));
  size_t s = first.find_first_not_of(" \t");
  first = s == std::string::npos ? "" : first.substr(s);
  if (first.size() > 80) first = first.substr(0, 77) + "...";
  return "SEARCH block " + std::to_string(index) + " (reply line " + std::to_string(b.reply_line) +
         ", starting `" + first + "`)";
}

bool mentions_marker(const std::string& s) {
  return s.find(kStart) != std::string::npos || s.find(kEnd) != std::string::npos;
}

// Applies one block to `text`; an error message for the LLM otherwise.
Result<std::string> apply_block(const std::string& text, int index, const SearchReplaceBlock& b) {
  std::string name = describe(index, b);
  if (mentions_marker(b.search) || mentions_marker(b.replace)) {
    return Status::InvalidArgument(name + " touches an EVOLVE-BLOCK marker line; the markers "
                                   "must stay as they are");
  }
  auto matches = line_matches(text, b.search);
  if (matches.empty()) {
    std::string hint = "copy the lines from the current program exactly, including indentation";
    if (squash_ws(text).find(squash_ws(b.search)) != std::string::npos) {
      hint = "it would match if whitespace were ignored: copy the lines exactly, including "
             "indentation and spaces";
    }
    return Status::InvalidArgument(name + " does not match the program: " + hint);
  }
  if (matches.size() > 1) {
    std::string lines;
    for (size_t i = 0; i < matches.size() && i < 5; ++i) {
      lines += (i ? ", " : "") + std::to_string(line_of(text, matches[i]));
    }
    return Status::InvalidArgument(name + " matches " + std::to_string(matches.size()) +
                                   " places (lines " + lines + "); include more surrounding lines "
                                   "so it matches exactly one");
  }
  size_t pos = matches[0], end = pos + b.search.size();
  KEVO_ASSIGN_OR_RETURN(Markers m, find_markers(text, "the program"));
  bool inside = std::any_of(m.editable.begin(), m.editable.end(),
                            [&](const Span& s) { return s.begin <= pos && end <= s.end; });
  if (!inside) {
    return Status::InvalidArgument(name + " changes lines " + std::to_string(line_of(text, pos)) +
                                   "-" + std::to_string(line_of(text, end)) +
                                   ", outside the EVOLVE-BLOCK; only code between "
                                   "EVOLVE-BLOCK-START and EVOLVE-BLOCK-END may change");
  }
  std::string out = text.substr(0, pos) + b.replace;
  // Deleting whole lines removes their newline too, rather than leaving a blank line.
  size_t rest = (b.replace.empty() && end < text.size()) ? end + 1 : end;
  return out + text.substr(rest);
}

Status check_whole_file(const std::string& parent, const std::string& child) {
  KEVO_ASSIGN_OR_RETURN(Markers pm, find_markers(parent, "the parent"));
  if (pm.fixed.empty()) return Status::Ok();  // no EVOLVE-BLOCK: anything may change
  auto cm = find_markers(child, "the new file");
  if (!cm.ok()) {
    return Status::InvalidArgument(cm.status().message() +
                                   "; keep the EVOLVE-BLOCK-START/END lines exactly as they were");
  }
  if (cm->fixed.size() != pm.fixed.size()) {
    size_t child_blocks = cm->fixed.empty() ? 0 : cm->editable.size();
    return Status::InvalidArgument("the new file has " + std::to_string(child_blocks) +
                                   " EVOLVE-BLOCKs, the program has " +
                                   std::to_string(pm.editable.size()) +
                                   "; keep the markers exactly as they were");
  }
  for (size_t i = 0; i < pm.fixed.size(); ++i) {
    std::string_view a(parent.data() + pm.fixed[i].begin, pm.fixed[i].end - pm.fixed[i].begin);
    std::string_view b(child.data() + cm->fixed[i].begin, cm->fixed[i].end - cm->fixed[i].begin);
    if (a != b) {
      size_t d = 0;
      while (d < a.size() && d < b.size() && a[d] == b[d]) ++d;
      return Status::InvalidArgument(
          "the new file changes line " + std::to_string(line_of(parent, pm.fixed[i].begin + d)) +
          " of the program, outside the EVOLVE-BLOCK; only code between EVOLVE-BLOCK-START and "
          "EVOLVE-BLOCK-END may change");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> apply_edit(const std::string& parent, const ParsedEdit& edit) {
  std::string text;
  if (edit.format == EditFormat::kWholeFile) {
    KEVO_RETURN_IF_ERROR(check_whole_file(parent, edit.file));
    text = edit.file;
  } else {
    if (edit.blocks.empty()) return Status::InvalidArgument("the reply has no SEARCH/REPLACE blocks");
    KEVO_RETURN_IF_ERROR(find_markers(parent, "the parent").status());
    text = parent;
    std::vector<std::string> errors;
    for (size_t i = 0; i < edit.blocks.size(); ++i) {
      auto next = apply_block(text, static_cast<int>(i) + 1, edit.blocks[i]);
      if (next.ok()) {
        text = std::move(next).value();
      } else {
        errors.push_back(next.status().message());  // keep checking the others: one round trip
      }
    }
    if (!errors.empty()) {
      std::string msg = "the edit was not applied (" + std::to_string(errors.size()) + " of " +
                        std::to_string(edit.blocks.size()) + " blocks failed):";
      for (const auto& e : errors) msg += "\n- " + e;
      return Status::InvalidArgument(msg);
    }
  }
  if (text == parent) return Status::InvalidArgument("the edit changes nothing");
  return text;
}

Result<std::string> apply_edit_reply(const std::string& parent, const std::string& reply) {
  KEVO_ASSIGN_OR_RETURN(ParsedEdit edit, parse_edit_reply(reply));
  return apply_edit(parent, edit);
}

}  // namespace kevo
