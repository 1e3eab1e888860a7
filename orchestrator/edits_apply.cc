// Strict application of parsed edits, with EVOLVE-BLOCK limits (see edits.h).
#include <algorithm>

#include "orchestrator/edits.h"

#include "evaluator/evolve_block.h"

namespace kevo {
namespace {

int line_of(const std::string& text, size_t pos) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + std::min(pos, text.size()), '\n'));
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
  return s.find(kEvolveStart) != std::string::npos || s.find(kEvolveEnd) != std::string::npos;
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
  KEVO_ASSIGN_OR_RETURN(EvolveBlock block, find_evolve_block(text));
  if (!inside_evolve_block(block, pos, end - pos)) {
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

}  // namespace

Result<std::string> apply_edit(const std::string& parent, const ParsedEdit& edit) {
  std::string text;
  if (edit.format == EditFormat::kWholeFile) {
    KEVO_RETURN_IF_ERROR(check_edit_scope(parent, edit.file));
    text = edit.file;
  } else {
    if (edit.blocks.empty()) return Status::InvalidArgument("the reply has no SEARCH/REPLACE blocks");
    auto block = find_evolve_block(parent);
    if (!block.ok()) return Status::InvalidArgument("the program: " + block.status().message());
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
