#include "evaluator/tensor_files.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

namespace kevo {

float bf16_bits_to_float(uint16_t h) {
  uint32_t x = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

uint16_t float_to_bf16_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FC0;
  x += 0x7FFFu + ((x >> 16) & 1u);
  return uint16_t(x >> 16);
}

namespace {

float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      do {
        ++e;
        man <<= 1;
      } while (!(man & 0x400));
      bits = sign | uint32_t(127 - 15 - e) << 23 | (man & 0x3FF) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | man << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | man << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

enum class DType { kF32, kF16, kF64, kBF16 };

int dtype_size(DType t) {
  switch (t) {
    case DType::kF32:
      return 4;
    case DType::kF64:
      return 8;
    default:
      return 2;
  }
}

Result<HostArray> convert(const char* data, size_t avail, DType t, std::vector<int64_t> shape,
                          const std::string& what) {
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0) return Status::InvalidArgument(what + ": negative dimension");
    count *= d;
  }
  if (size_t(count) * dtype_size(t) > avail) {
    return Status::InvalidArgument(what + ": the file holds " + std::to_string(avail) +
                                   " bytes of data, the shape needs " +
                                   std::to_string(count * dtype_size(t)));
  }
  HostArray out;
  out.shape = std::move(shape);
  out.bf16.resize(count);
  for (int64_t i = 0; i < count; ++i) {
    const char* p = data + i * dtype_size(t);
    switch (t) {
      case DType::kBF16:
        std::memcpy(&out.bf16[i], p, 2);
        break;
      case DType::kF16: {
        uint16_t h;
        std::memcpy(&h, p, 2);
        out.bf16[i] = float_to_bf16_bits(half_to_float(h));
        break;
      }
      case DType::kF32: {
        float f;
        std::memcpy(&f, p, 4);
        out.bf16[i] = float_to_bf16_bits(f);
        break;
      }
      case DType::kF64: {
        double d;
        std::memcpy(&d, p, 8);
        out.bf16[i] = float_to_bf16_bits(float(d));
        break;
      }
    }
  }
  return out;
}

Result<std::string> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open tensor file " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Result<HostArray> parse_npy(const std::string& bytes, const std::string& what) {
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) {
    return Status::InvalidArgument(what + ": not a .npy file (no \\x93NUMPY magic)");
  }
  int major = uint8_t(bytes[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = uint8_t(bytes[8]) | size_t(uint8_t(bytes[9])) << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return Status::InvalidArgument(what + ": truncated .npy header");
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= size_t(uint8_t(bytes[8 + i])) << (8 * i);
    header_start = 12;
  } else {
    return Status::InvalidArgument(what + ": unsupported .npy version " + std::to_string(major));
  }
  if (header_start + header_len > bytes.size()) {
    return Status::InvalidArgument(what + ": truncated .npy header");
  }
  const std::string header = bytes.substr(header_start, header_len);
  std::smatch m;
  if (!std::regex_search(header, m, std::regex(R"('descr'\s*:\s*'([^']*)')"))) {
    return Status::InvalidArgument(what + ": .npy header has no 'descr'");
  }
  const std::string descr = m[1];
  DType t;
  if (descr == "<f4")
    t = DType::kF32;
  else if (descr == "<f2")
    t = DType::kF16;
  else if (descr == "<f8")
    t = DType::kF64;
  else if (descr == "<V2" || descr == "|V2" || descr == "<u2" || descr == "<i2" ||
           descr == "bfloat16")
    t = DType::kBF16;
  else
    return Status::InvalidArgument(what + ": dtype '" + descr +
                                   "' is not supported (float32, float16, float64, or bfloat16 "
                                   "bits as '<V2'/'<u2'; little-endian)");
  if (std::regex_search(header, m, std::regex(R"('fortran_order'\s*:\s*True)"))) {
    return Status::InvalidArgument(what + ": Fortran-ordered arrays are not supported");
  }
  if (!std::regex_search(header, m, std::regex(R"('shape'\s*:\s*\(([^)]*)\))"))) {
    return Status::InvalidArgument(what + ": .npy header has no 'shape'");
  }
  std::vector<int64_t> shape;
  std::string dims = m[1];
  std::regex num(R"(\d+)");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num); it != std::sregex_iterator();
       ++it) {
    shape.push_back(std::stoll(it->str()));
  }
  const size_t data_start = header_start + header_len;
  return convert(bytes.data() + data_start, bytes.size() - data_start, t, std::move(shape), what);
}

namespace {

// One tensor of a safetensors header: its dtype, shape and byte range within the data section.
struct SafetensorsEntry {
  DType type = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

// Finds `name` in the header text (the JSON after the 8-byte size).
Result<SafetensorsEntry> find_tensor(const std::string& header_text, const std::string& name,
                                     const std::string& what) {
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text);
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(what + ": bad safetensors header: " + e.what());
  }
  if (!header.is_object() || !header.contains(name)) {
    std::string names;
    if (header.is_object()) {
      for (auto it = header.begin(); it != header.end(); ++it) {
        if (it.key() != "__metadata__") names += (names.empty() ? "" : ", ") + it.key();
      }
    }
    return Status::NotFound(what + ": no tensor '" + name + "' (it has: " + names + ")");
  }
  try {
    const auto& t = header[name];
    const std::string dt = t.at("dtype").get<std::string>();
    SafetensorsEntry e;
    if (dt == "BF16")
      e.type = DType::kBF16;
    else if (dt == "F16")
      e.type = DType::kF16;
    else if (dt == "F32")
      e.type = DType::kF32;
    else if (dt == "F64")
      e.type = DType::kF64;
    else
      return Status::InvalidArgument(what + ": tensor '" + name + "' has dtype " + dt +
                                     " (BF16, F16, F32 or F64 expected)");
    e.shape = t.at("shape").get<std::vector<int64_t>>();
    auto off = t.at("data_offsets").get<std::vector<uint64_t>>();
    if (off.size() != 2 || off[0] > off[1]) {
      return Status::InvalidArgument(what + ": tensor '" + name + "' has bad data_offsets");
    }
    e.begin = off[0];
    e.end = off[1];
    return e;
  } catch (const nlohmann::json::exception& ex) {
    return Status::InvalidArgument(what + ": tensor '" + name + "': " + ex.what());
  }
}

uint64_t header_size(const char* p) {
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(p[i])) << (8 * i);
  return n;
}

}  // namespace

Result<HostArray> parse_safetensors(const std::string& bytes, const std::string& name,
                                    const std::string& what) {
  if (bytes.size() < 8) return Status::InvalidArgument(what + ": too short for safetensors");
  const uint64_t n = header_size(bytes.data());
  if (n > bytes.size() - 8) return Status::InvalidArgument(what + ": header size past end of file");
  KEVO_ASSIGN_OR_RETURN(SafetensorsEntry e, find_tensor(bytes.substr(8, n), name, what));
  if (8 + n + e.end > bytes.size()) {
    return Status::InvalidArgument(what + ": tensor '" + name + "' has bad data_offsets");
  }
  return convert(bytes.data() + 8 + n + e.begin, e.end - e.begin, e.type, std::move(e.shape),
                 what + " tensor '" + name + "'");
}

Result<HostArray> read_npy(const std::string& path) {
  KEVO_ASSIGN_OR_RETURN(std::string bytes, slurp(path));
  return parse_npy(bytes, path);
}

// Reads the header and then only the bytes of `name`: a capture holds q, k and v of a layer in
// one file, and a 128K-token layer is half a gigabyte.
Result<HostArray> read_safetensors(const std::string& path, const std::string& name) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return Status::NotFound("cannot open tensor file " + path);
  const uint64_t file_size = uint64_t(in.tellg());
  char size_bytes[8];
  in.seekg(0);
  if (file_size < 8 || !in.read(size_bytes, 8)) {
    return Status::InvalidArgument(path + ": too short for safetensors");
  }
  const uint64_t n = header_size(size_bytes);
  if (n > file_size - 8) return Status::InvalidArgument(path + ": header size past end of file");
  std::string header(n, '\0');
  if (!in.read(header.data(), std::streamsize(n))) return Status::IoError("cannot read " + path);
  KEVO_ASSIGN_OR_RETURN(SafetensorsEntry e, find_tensor(header, name, path));
  if (8 + n + e.end > file_size) {
    return Status::InvalidArgument(path + ": tensor '" + name +
                                   "' has bad data_offsets (the file "
                                   "is " +
                                   std::to_string(file_size) + " bytes)");
  }
  std::string data(e.end - e.begin, '\0');
  in.seekg(std::streamoff(8 + n + e.begin));
  if (!in.read(data.data(), std::streamsize(data.size()))) {
    return Status::IoError("cannot read tensor '" + name + "' of " + path);
  }
  return convert(data.data(), data.size(), e.type, std::move(e.shape),
                 path + " tensor '" + name + "'");
}

Result<CapturedTensors> make_captured(HostArray q, HostArray k, HostArray v) {
  auto dims = [](const std::vector<int64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
  };
  if (k.shape != v.shape) {
    return Status::InvalidArgument("k " + dims(k.shape) + " and v " + dims(v.shape) +
                                   " must have the same shape");
  }
  if (k.shape.size() == 3) k.shape.insert(k.shape.begin(), 1);
  if (k.shape.size() != 4) {
    return Status::InvalidArgument("k must be [B, Hkv, N, D] or [Hkv, N, D], got " + dims(k.shape));
  }
  std::vector<int64_t> qs = q.shape;
  if (qs.size() == 2) qs.insert(qs.begin(), 1);
  if (qs.size() == 3) qs.insert(qs.begin(), 1);
  if (qs.size() != 4) {
    return Status::InvalidArgument("q must be [T, B, Hq, D], [B, Hq, D] or [Hq, D], got " +
                                   dims(q.shape));
  }
  CapturedTensors c;
  c.shape.B = int(k.shape[0]);
  c.shape.Hkv = int(k.shape[1]);
  c.shape.N = int(k.shape[2]);
  c.shape.D = int(k.shape[3]);
  c.shape.Hq = int(qs[2]);
  c.queries = int(qs[0]);
  if (qs[1] != c.shape.B || qs[3] != c.shape.D) {
    return Status::InvalidArgument("q " + dims(q.shape) + " does not match k " + dims(k.shape) +
                                   " (batch and head dimension must agree)");
  }
  if (c.shape.Hkv == 0 || c.shape.Hq % c.shape.Hkv != 0) {
    return Status::InvalidArgument("query heads (" + std::to_string(c.shape.Hq) +
                                   ") must be a multiple of KV heads (" +
                                   std::to_string(c.shape.Hkv) + ")");
  }
  c.q = std::move(q.bf16);
  c.k = std::move(k.bf16);
  c.v = std::move(v.bf16);
  return c;
}

}  // namespace kevo
