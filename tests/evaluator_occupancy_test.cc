// Occupancy without a GPU (evaluator/occupancy.h): NVIDIA's calculator on the published limits of
// each architecture's data-centre GPU, against figures the hardware showed.
#include "evaluator/occupancy.h"

#include <gtest/gtest.h>

namespace kevo {
namespace {

TEST(Occupancy, ArchitecturesKevoCompilesForHaveTheirGpu) {
  auto h = typical_gpu("sm_90a");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->sm_count, 132);
  EXPECT_EQ(typical_gpu("sm_90")->name, h->name);
  EXPECT_EQ(typical_gpu("sm_80")->sm_count, 108);
  EXPECT_EQ(typical_gpu("sm_100")->sm_count, 148);
  EXPECT_FALSE(typical_gpu("sm_75"));
  EXPECT_FALSE(typical_gpu("nonsense"));
}

TEST(Occupancy, EachLimitDecidesInItsTurn) {
  const GpuLimits h = *typical_gpu("sm_90a");
  // Threads: 2048 per SM.
  EXPECT_EQ(blocks_per_sm(h, 256, 32, 0, 0), 8);
  EXPECT_EQ(blocks_per_sm(h, 1024, 32, 0, 0), 2);
  // Registers: dsa_indexer's attend (256 threads, 127 registers, 64 KiB of dynamic shared
  // memory) ran 16 warps per SM on the H200 under ncu: 2 blocks.
  EXPECT_EQ(blocks_per_sm(h, 256, 127, 2662, 65536), 2);
  EXPECT_EQ(blocks_per_sm(h, 128, 151, 33382, 0), 3);
  // Shared memory: 228 KB per SM, 1 KB of it reserved per block.
  EXPECT_EQ(blocks_per_sm(h, 64, 16, 0, 100 * 1024), 2);
  EXPECT_EQ(blocks_per_sm(h, 64, 16, 0, 227 * 1024), 1);
  // More than a block may have: the launch cannot run.
  EXPECT_EQ(blocks_per_sm(h, 64, 16, 0, 240 * 1024), 0);
  // Blocks: at most 32 per SM however small.
  EXPECT_EQ(blocks_per_sm(h, 32, 16, 0, 0), 32);
  // An A100 has less shared memory: the same 100 KB block fits once.
  EXPECT_EQ(blocks_per_sm(*typical_gpu("sm_80"), 64, 16, 0, 100 * 1024), 1);
}

}  // namespace
}  // namespace kevo
