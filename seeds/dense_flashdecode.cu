// dense_flashdecode: split-KV decode attention over every token, the baseline of every speedup.
//
// Method: Flash-Decoding (Dao, Haziza, Massa, Sizov, "Flash-Decoding for long-context
// inference", 2023, https://crfm.stanford.edu/2023/10/12/flashdecoding.html): the keys and
// values are split over many blocks so that one query token fills the GPU; each split writes a
// partial softmax output and its log-sum-exp, and the partials are merged (kevo/splits.cuh).
//
// Here one wave of CTAS blocks (a multiple of the SM count: 132 on the H100 and H200) shares
// the B*Hkv*cdiv(G,16)*cdiv(N,16) tiles of 16 tokens evenly, so every block streams the same
// number of bytes and all finish together; a block's range may run from one (batch, KV head)
// into the next, and it writes one partial per piece. Each warp takes every WARPS-th tile of a
// piece, keeps STAGES-1 tiles in flight with cp.async (8 KB each), and attends each tile for all
// query heads of the KV head at once on tensor cores (kevo/tile_attend.cuh), so K and V are read
// once per GQA group and a tile costs ~140 warp instructions: the kernel is bound by DRAM, not
// by issue. The warps' states meet in shared memory, the block writes its partial, and the last
// block of a (batch, KV head) to finish merges that head's partials (no second kernel). That body
// is kevo/dense_decode.cuh's dense_decode(), which the sparse seeds run below their crossover.
// Bytes read: K and V once (B*Hkv*N*512 at D=128), q, and ~0.5 KB of partials per block and
// head; written: o and the partials. Head dimension 128 only (other D leave o unwritten, which
// the evaluator reports).
// Roofline (scripts/roofline.py, default params, llama3-8b B1-N8K / B1-N32K / B1-N128K /
// B8-N32K): the method reads 33.6 / 134.2 / 536.9 / 1073.9 MB per decode call,
// 8.4 / 33.6 / 134.2 / 268.5 us at 4 TB/s.
#include "kevo/attention.cuh"

// EVOLVE-BLOCK-START

// kevo:param CTAS = 132 in {132, 264, 396}
// kevo:param WARPS = 8 in {4, 8}
// kevo:param STAGES = 2 in {2, 3}
// kevo:param WIDE_T = 131072 in {0, 131072, 262144, 1073741824}
// kevo:let       WIDE = B*Hkv*cdiv(G,16)*N>=WIDE_T
// kevo:workspace (2*CTAS + B*Hkv*cdiv(G,16)) * (min(G,16) * (D+1) * 4 + 8) + 1024
// kevo:decode flash_decode grid(CTAS*(1-WIDE)) block(32*WARPS) smem(WARPS*STAGES*8192)
// kevo:decode flash_decode_wide grid(2*CTAS*WIDE) block(16*WARPS) smem(WARPS/2*STAGES*8192)

using namespace kevo;

// The whole decode is kevo/dense_decode.cuh's block body, which the sparse seeds also run below
// their crossover (one copy of the baseline's code).
extern "C" __global__ void __launch_bounds__(32 * WARPS, 1) flash_decode(const Args a) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  dense_decode<WARPS, STAGES>(a, smem_raw);
}
// Long caches (B*Hkv*cdiv(G,16)*N >= WIDE_T): two blocks an SM of half the warps, one wave of
// 2*CTAS blocks; the tuner had found CTAS=264 WARPS=4 6% faster at B1-N32K and 4-28% slower at
// B1-N8K and B1-N16K-H28x4 (docs/decisions.md, "Seed defaults from the tuner"), so the plan
// picks the kernel by the shape. Measured as a rule (H100, run 17's A/B, 3 evaluations, median
// decode us): B1-N32K 58.6 -> 56.3, B1-N128K 182.4 -> 181.9, B8-N32K 347.4 -> 349.5, B1-N8K
// (flash_decode, unchanged) 24.3 -> 24.4.
extern "C" __global__ void __launch_bounds__(16 * WARPS, 2) flash_decode_wide(const Args a) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  dense_decode<WARPS / 2, STAGES>(a, smem_raw);
}
// EVOLVE-BLOCK-END
