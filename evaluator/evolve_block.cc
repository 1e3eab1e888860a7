#include "evaluator/evolve_block.h"

#include <algorithm>
#include <string>

namespace kevo {
namespace {

int line_at(std::string_view text, size_t pos) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + std::min(pos, text.size()), '\n'));
}

Status error_at(int line, const std::string& what) {
  return Status::InvalidArgument("line " + std::to_string(line) + ": " + what);
}

}  // namespace

Result<EvolveBlock> find_evolve_block(std::string_view text) {
  EvolveBlock b;
  b.end = text.size();
  int line = 0;
  for (size_t pos = 0; pos < text.size();) {
    ++line;
    size_t nl = text.find('\n', pos);
    size_t next = nl == std::string_view::npos ? text.size() : nl + 1;
    std::string_view l = text.substr(pos, next - pos);
    bool start = l.find(kEvolveStart) != std::string_view::npos;
    bool end = l.find(kEvolveEnd) != std::string_view::npos;
    if (start && end) return error_at(line, "one line holds both EVOLVE-BLOCK markers");
    if (start) {
      if (b.start_line) return error_at(line, "a second EVOLVE-BLOCK-START; only one block is allowed");
      b.start_line = line;
      b.begin = next;
    } else if (end) {
      if (!b.start_line) return error_at(line, "EVOLVE-BLOCK-END without an EVOLVE-BLOCK-START before it");
      if (b.end_line) return error_at(line, "a second EVOLVE-BLOCK-END; only one block is allowed");
      b.end_line = line;
      b.end = pos;
    }
    pos = next;
  }
  if (b.start_line && !b.end_line) {
    return error_at(b.start_line, "EVOLVE-BLOCK-START has no EVOLVE-BLOCK-END after it");
  }
  b.present = b.start_line != 0;
  if (!b.present) b.begin = 0;
  return b;
}

bool inside_evolve_block(const EvolveBlock& block, size_t pos, size_t len) {
  return block.begin <= pos && pos + len <= block.end;
}

Status check_edit_scope(std::string_view parent, std::string_view child) {
  auto pb = find_evolve_block(parent);
  if (!pb.ok()) return Status::InvalidArgument("the program: " + pb.status().message());
  if (!pb->present) return Status::Ok();
  auto cb = find_evolve_block(child);
  if (!cb.ok() || !cb->present) {
    return Status::InvalidArgument(
        "the new file " +
        (cb.ok() ? std::string("has no EVOLVE-BLOCK markers") : cb.status().message()) +
        "; keep the EVOLVE-BLOCK-START and EVOLVE-BLOCK-END lines exactly as they were");
  }
  std::string_view p_head = parent.substr(0, pb->begin), c_head = child.substr(0, cb->begin);
  std::string_view p_tail = parent.substr(pb->end), c_tail = child.substr(cb->end);
  auto outside = [&](size_t parent_pos) {
    return Status::InvalidArgument(
        "the new file changes line " + std::to_string(line_at(parent, parent_pos)) +
        " of the program, outside the EVOLVE-BLOCK; only the lines between EVOLVE-BLOCK-START "
        "and EVOLVE-BLOCK-END may change");
  };
  if (p_head != c_head) {
    size_t d = std::mismatch(p_head.begin(), p_head.end(), c_head.begin(), c_head.end()).first -
               p_head.begin();
    return outside(d);
  }
  if (p_tail != c_tail) {
    size_t d = std::mismatch(p_tail.begin(), p_tail.end(), c_tail.begin(), c_tail.end()).first -
               p_tail.begin();
    return outside(pb->end + d);
  }
  return Status::Ok();
}

}  // namespace kevo
