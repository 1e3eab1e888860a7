// Standard base64 (RFC 4648, with padding), for binary payloads inside JSON: CUBINs in compile
// results, cache entries and worker pipes.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace kevo {

std::string base64_encode(std::string_view data);
// InvalidArgument on a character outside the alphabet or a bad length.
Result<std::string> base64_decode(std::string_view text);

}  // namespace kevo
