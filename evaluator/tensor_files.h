// Captured q/k/v tensors from .npy or .safetensors files, converted to bf16 (the task's dtype).
// Accepted dtypes: float32, float16, float64, bfloat16 (safetensors BF16; in .npy the raw-bits
// forms '<V2' or '<u2'/'<i2', since numpy has no bfloat16). Little-endian, C order only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "evaluator/task.h"

namespace kevo {

struct HostArray {
  std::vector<int64_t> shape;
  std::vector<uint16_t> bf16;  // row-major values as bf16 bits
};

Result<HostArray> read_npy(const std::string& path);
// The tensor `name` of a .safetensors file.
Result<HostArray> read_safetensors(const std::string& path, const std::string& name);
// Parses from memory (`what` names the source in messages).
Result<HostArray> parse_npy(const std::string& bytes, const std::string& what);
Result<HostArray> parse_safetensors(const std::string& bytes, const std::string& name,
                                    const std::string& what);

// A workload made of captured tensors. Layouts: q [T, B, Hq, D], [B, Hq, D] or [Hq, D];
// k and v [B, Hkv, N, D] or [Hkv, N, D]. T queries are kept (queries >= 1).
struct CapturedTensors {
  Shape shape;
  int queries = 1;
  std::vector<uint16_t> q, k, v;
};
Result<CapturedTensors> make_captured(HostArray q, HostArray k, HostArray v);

// bf16 bits <-> float (round to nearest even), for host code and tests.
float bf16_bits_to_float(uint16_t h);
uint16_t float_to_bf16_bits(float f);

}  // namespace kevo
