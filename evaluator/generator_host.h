// The workload generator and an fp64 dense reference on the host. Same math as the GPU
// generator (internal_kernels/gen_math.h), for tests (statistics of the data, GPU-vs-host
// checks) and for small shapes; the evaluator itself generates on the GPU.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "evaluator/device_headers.h"
#include "evaluator/internal_kernels/gen_math.h"
#include "evaluator/workloads.h"

namespace kevo {

static_assert(sizeof(kevo_gen::GenParams) == 104, "GenParams layout must match the NVRTC side");

// The kernel parameter block for a generated workload.
kevo_gen::GenParams make_gen_params(const WorkloadSpec& w);

// k and v [B, Hkv, N, D] as bf16 bits.
void generate_kv_host(const kevo_gen::GenParams& p, std::vector<uint16_t>& k,
                      std::vector<uint16_t>& v);
// q [B, Hq, D] as bf16 bits for one call.
std::vector<uint16_t> generate_q_host(const kevo_gen::GenParams& p, uint64_t call_seed);

// softmax(q k^T / sqrt(D)) v in fp64 over bf16 inputs: [B, Hq, D].
std::vector<double> dense_attention_fp64(const std::vector<uint16_t>& q,
                                         const std::vector<uint16_t>& k,
                                         const std::vector<uint16_t>& v, const Shape& s);
// The attention weights of one query row (b, hq) in fp64: [N].
std::vector<double> attention_weights_fp64(const std::vector<uint16_t>& q,
                                           const std::vector<uint16_t>& k, const Shape& s, int b,
                                           int hq);

}  // namespace kevo
