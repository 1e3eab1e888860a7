// Program identity: normalize_source() and program_hash() (archive.h).
#include <string>

#include "archive/archive.h"
#include "common/hash.h"

namespace kevo {

std::string normalize_source(std::string_view source) {
  std::string out;
  out.reserve(source.size() + 1);
  size_t i = 0;
  while (i < source.size()) {
    size_t end = source.find_first_of("\r\n", i);
    if (end == std::string_view::npos) end = source.size();
    std::string_view line = source.substr(i, end - i);
    size_t keep = line.find_last_not_of(" \t\f\v");
    out.append(line.substr(0, keep == std::string_view::npos ? 0 : keep + 1));
    out.push_back('\n');
    // "\r\n", "\r" and "\n" each end one line.
    if (end < source.size() && source[end] == '\r' && end + 1 < source.size() &&
        source[end + 1] == '\n') {
      ++end;
    }
    i = end + 1;
  }
  while (out.size() >= 2 && out[out.size() - 1] == '\n' && out[out.size() - 2] == '\n') {
    out.pop_back();
  }
  if (out == "\n") out.clear();  // a source of only blank lines is empty
  return out;
}

std::string program_hash(std::string_view source, const std::map<std::string, int64_t>& params) {
  Sha256 h;
  h.update_field("kevo-program-v1");  // a new normalization gets a new tag, never a silent change
  h.update_field(normalize_source(source));
  h.update_field(std::to_string(params.size()));
  for (const auto& [name, value] : params) {  // std::map: sorted by name
    h.update_field(name);
    h.update_field(std::to_string(value));
  }
  return h.hex_digest();
}

}  // namespace kevo
