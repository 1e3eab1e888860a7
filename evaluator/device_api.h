// The reference of the device API a candidate may call: every public declaration of the headers
// under evaluator/device/kevo/ (functions, structs and their members, constants, macros) with its
// one-line contract, the first sentence of the comment above it. Generated from the headers
// embedded at build time, so it can never describe another version of them; the system prompt
// carries it, and `kevo prompt` shows it.
//
// Conventions the headers follow (tests/evaluator_device_api_test.cc checks them):
//   - a `//` comment directly above a declaration is its contract; declarations written on
//     consecutive lines with no blank line between them share the comment above the first;
//   - everything inside `namespace detail { ... }` is private and left out;
//   - the first comment block of a file describes the file.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kevo {

struct DeviceApiEntry {
  std::string header;     // "kevo/attention.cuh"
  std::string signature;  // "float warp_sum(float x)", "struct Partials", "#define KEVO_CHECK(cond)"
  std::string contract;   // first sentence of its comment; "" when it has none
  std::string owner;      // enclosing struct for members ("Partials"), "" at namespace level
  int line = 0;           // 1-based line in the header
};

// Parses one header's text. Pure; thread-safe.
std::vector<DeviceApiEntry> parse_device_api(std::string_view header_path, std::string_view text);

// Every entry of every embedded header, headers in path order.
const std::vector<DeviceApiEntry>& device_api_entries();

// The reference as text for a prompt: one section per header (its description), one line per
// declaration, members indented under their struct.
const std::string& device_api_reference();

}  // namespace kevo
