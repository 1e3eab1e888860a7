// Host mirror of kevo::Args (evaluator/device/kevo/sparse_decode.cuh). The layouts must match
// byte for byte: the struct is passed by value as the only kernel parameter.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kevo {

struct HostArgs {
  uint64_t q, k, v, o;      // device pointers (CUdeviceptr)
  uint64_t index, workspace;
  int32_t B, Hq, Hkv, N, D;
  float scale;
  uint64_t seed;
  int64_t index_bytes;
  int64_t workspace_bytes;
};

static_assert(offsetof(HostArgs, B) == 48);
static_assert(offsetof(HostArgs, scale) == 68);
static_assert(offsetof(HostArgs, seed) == 72);
static_assert(offsetof(HostArgs, workspace_bytes) == 88);
static_assert(sizeof(HostArgs) == 96);

}  // namespace kevo
