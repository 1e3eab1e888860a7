// Content hashing for program identity and compile caches. SHA-256 (FIPS 180-4), so keys are
// stable across machines and versions of kevo.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kevo {

// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

// Incremental form, for hashing several parts without concatenating them.
class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  // Separates parts so ("ab","c") and ("a","bc") differ.
  void update_field(std::string_view data);
  std::string hex_digest();  // finishes; the object must not be updated afterwards

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  uint64_t len_ = 0;
  size_t used_ = 0;
};

}  // namespace kevo
