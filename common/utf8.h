// UTF-8 hygiene for text that comes from outside (LLM replies, command output, compile logs):
// JSON encoders throw on invalid UTF-8, so such text is made valid once, where it enters.
#pragma once

#include <string>
#include <string_view>

namespace kevo {

// `text` with every byte that does not start or continue a well-formed UTF-8 sequence (overlong
// forms, surrogates and code points above U+10FFFF included) replaced by U+FFFD. Valid text comes
// back unchanged.
std::string valid_utf8(std::string_view text);

}  // namespace kevo
