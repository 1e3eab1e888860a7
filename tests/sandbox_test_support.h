// Helpers shared by the sandbox suites (header-only: the suites are separate executables).
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <string>

namespace kevo::testing {

inline bool sandbox_under_asan() {
#if defined(__SANITIZE_ADDRESS__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return true;
#endif
#endif
  return false;
}

// Fails when `text` holds the content of a file that must not leak. Short contents (a hostname
// such as "vm") would match inside ordinary words ("nvvm"), so they count only as whole words.
inline void expect_no_leak(const std::string& text, std::string secret) {
  while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back()))) secret.pop_back();
  ASSERT_FALSE(secret.empty());
  if (secret.size() >= 8) {
    EXPECT_EQ(text.find(secret), std::string::npos) << "leaked '" << secret << "' in:\n" << text;
    return;
  }
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 1)) {
    bool starts = at == 0 || !word(text[at - 1]);
    bool ends = at + secret.size() == text.size() || !word(text[at + secret.size()]);
    EXPECT_FALSE(starts && ends) << "leaked '" << secret << "' at " << at << " in:\n" << text;
  }
}

}  // namespace kevo::testing
