// Text files compiled into the binary (see cmake/EmbedFiles.cmake).
#pragma once

#include <string_view>
#include <vector>

namespace kevo {

struct EmbeddedFile {
  std::string_view path;      // relative to the embedding's base folder, e.g. "kevo/sparse_decode.cuh"
  std::string_view contents;  // static storage; never freed
};

}  // namespace kevo
