// Strict application of parsed edits, with EVOLVE-BLOCK limits (see edits.h).
#include <algorithm>

#include "orchestrator/evolution/edits.h"

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

// The program's lines most like the SEARCH part, numbered: the window of its length whose lines
// share the most trimmed text with it. So the model sees what it should have copied.
std::string nearest_lines(const std::string& text, const std::string& search) {
  auto split = [](const std::string& t) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos <= t.size()) {
      size_t nl = t.find('\n', pos);
      if (nl == std::string::npos) nl = t.size();
      out.push_back(t.substr(pos, nl - pos));
      pos = nl + 1;
    }
    return out;
  };
  auto trimmed = [](const std::string& l) {
    size_t a = l.find_first_not_of(" \t"), b = l.find_last_not_of(" \t\r");
    return a == std::string::npos ? std::string() : l.substr(a, b - a + 1);
  };
  std::vector<std::string> prog = split(text), want = split(search);
  if (prog.empty() || want.empty()) return "";
  // Score of a pair of lines: shared leading characters of their trimmed forms.
  auto score = [&](const std::string& a, const std::string& b) {
    std::string x = trimmed(a), y = trimmed(b);
    if (x.empty() || y.empty()) return 0;
    if (x == y) return int(x.size()) * 2;
    size_t n = 0;
    while (n < x.size() && n < y.size() && x[n] == y[n]) ++n;
    return int(n);
  };
  size_t span = std::min(want.size(), prog.size());
  int best = -1;
  size_t at = 0;
  for (size_t i = 0; i + span <= prog.size(); ++i) {
    int total = 0;
    for (size_t k = 0; k < span; ++k) total += score(prog[i + k], want[k]);
    if (total > best) {
      best = total;
      at = i;
    }
  }
  if (best <= 0) return "";
  size_t from = at >= 2 ? at - 2 : 0, to = std::min(prog.size(), at + span + 2);
  to = std::min(to, from + 16);  // a screenful, not the file
  std::string out;
  for (size_t i = from; i < to; ++i) out += std::to_string(i + 1) + ": " + prog[i] + "\n";
  return out;
}

// Applies one block to `text`; an error message for the LLM otherwise.
Result<std::string> apply_block(const std::string& text, int index, const SearchReplaceBlock& b,
                                EditError* kind) {
  std::string name = describe(index, b);
  if (mentions_marker(b.search) || mentions_marker(b.replace)) {
    *kind = EditError::kOutsideBlock;
    return Status::InvalidArgument(name + " touches an EVOLVE-BLOCK marker line; the markers "
                                   "must stay as they are");
  }
  auto matches = line_matches(text, b.search);
  if (matches.empty()) {
    *kind = EditError::kNoMatch;
    std::string hint = "copy the lines from the current program exactly, including indentation";
    if (squash_ws(text).find(squash_ws(b.search)) != std::string::npos) {
      hint = "it would match if whitespace were ignored: copy the lines exactly, including "
             "indentation and spaces";
    }
    std::string near = nearest_lines(text, b.search);
    if (!near.empty()) hint += ". The program's nearest lines are (numbered, not part of the file):\n" + near;
    return Status::InvalidArgument(name + " does not match the program: " + hint);
  }
  if (matches.size() > 1) {
    *kind = EditError::kAmbiguous;
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
    *kind = EditError::kOutsideBlock;
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

Result<std::string> apply_edit(const std::string& parent, const ParsedEdit& edit,
                               EditError* error) {
  EditError unused;
  EditError& kind = error ? *error : unused;
  std::string text;
  if (edit.format == EditFormat::kWholeFile) {
    Status scope = check_edit_scope(parent, edit.file);
    if (!scope.ok()) {
      kind = EditError::kOutsideBlock;
      return scope;
    }
    text = edit.file;
  } else {
    if (edit.blocks.empty()) {
      kind = EditError::kNoEdit;
      return Status::InvalidArgument("the reply has no SEARCH/REPLACE blocks");
    }
    auto block = find_evolve_block(parent);
    if (!block.ok()) {
      kind = EditError::kBadEdit;
      return Status::InvalidArgument("the program: " + block.status().message());
    }
    text = parent;
    constexpr size_t kMaxDescribed = 8;  // 100 failing blocks need not be 100 paragraphs
    std::vector<std::string> errors;
    size_t failed = 0;
    for (size_t i = 0; i < edit.blocks.size(); ++i) {
      EditError k = EditError::kBadEdit;
      auto next = apply_block(text, static_cast<int>(i) + 1, edit.blocks[i], &k);
      if (next.ok()) {
        text = std::move(next).value();
        continue;
      }
      if (failed++ == 0) kind = k;
      if (errors.size() < kMaxDescribed) errors.push_back(next.status().message());
    }
    if (failed) {
      std::string msg = "the edit was not applied (" + std::to_string(failed) + " of " +
                        std::to_string(edit.blocks.size()) + " blocks failed):";
      for (const auto& e : errors) msg += "\n- " + e;
      if (failed > errors.size()) {
        msg += "\n- and " + std::to_string(failed - errors.size()) + " more blocks that failed";
      }
      return Status::InvalidArgument(msg);
    }
  }
  if (text == parent) {
    kind = EditError::kNoChange;
    return Status::InvalidArgument("the edit changes nothing");
  }
  return text;
}

Result<std::string> apply_edit_reply(const std::string& parent, const std::string& reply,
                                     EditError* error) {
  KEVO_ASSIGN_OR_RETURN(ParsedEdit edit, parse_edit_reply(reply, error));
  return apply_edit(parent, edit, error);
}

}  // namespace kevo
