// What of NVRTC's log is shown: the candidate's diagnostics, nothing naming other files, capped;
// and the ptxas -v report turned into per-kernel resources.
#include <gtest/gtest.h>

#include "evaluator/compile_log.h"

namespace kevo {
namespace {

// Shaped like a real NVRTC 13 log (see tests/evaluator_compile_test.cc for live ones).
const char* kRawLog = R"(candidate.cu(4): error: identifier "undefined_thing" is undefined
    int x = undefined_thing + 1;
            ^

/etc/hostname(1): error: this declaration has no storage class or type specifier
  SECRET-CONTENT
  ^

/usr/local/cuda/include/cccl/cub/block/block_reduce.cuh(300): error: no instance of overloaded function
  CUB-INTERNAL-LINE
          detected during instantiation at line 9 of candidate.cu

candidate.cu(9): warning #1105-D: #warning directive: hello there
  #warning hello there
   ^

Remark: The warnings can be suppressed with "-diag-suppress <warning-number>"

kevo/sparse_decode.cuh(3): error: class "kevo::Args" has no member "foo"
  template<class T> __device__ T twice(T x){ return x.foo(); }
                                                   ^
          detected during instantiation of "T kevo::twice(T) [with T=kevo::Args]" at line 5 of candidate.cu
          detected during instantiation at line 40 of /usr/local/cuda/include/cub/x.cuh

At end of source: error: expected a ";"

4 errors detected in the compilation of "candidate.cu".
ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'attend' for 'sm_90a'
)";

TEST(CompileLog, KeepsOnlyTheCandidatesDiagnostics) {
  std::string cut = cut_compile_log(kRawLog);
  EXPECT_NE(cut.find("candidate.cu(4): error: identifier \"undefined_thing\""), std::string::npos) << cut;
  EXPECT_NE(cut.find("int x = undefined_thing + 1;"), std::string::npos);
  EXPECT_NE(cut.find("candidate.cu(9): warning"), std::string::npos);
  EXPECT_NE(cut.find("kevo/sparse_decode.cuh(3): error"), std::string::npos);
  EXPECT_NE(cut.find("at line 5 of candidate.cu"), std::string::npos);
  EXPECT_NE(cut.find("At end of source"), std::string::npos);
  EXPECT_NE(cut.find("4 errors detected"), std::string::npos);
  for (const char* gone : {"SECRET-CONTENT", "/etc/hostname", "CUB-INTERNAL-LINE", "/usr/", "Remark",
                           "ptxas info", "line 9 of candidate.cu"}) {
    EXPECT_EQ(cut.find(gone), std::string::npos) << gone << " in:\n" << cut;
  }
  EXPECT_EQ(cut.find("\n\n\n"), std::string::npos);  // blank lines collapsed
}

TEST(CompileLog, ToolkitHeaderErrorsAreShortenedAndPointBack) {
  const char* raw = R"(/opt/cuda/include/cccl/cub/warp/reduce.cuh(457): error: no instance of "plus" matches
            argument types are: (P, P)
        output = reduction_op(input, temp);
                 ^
          detected during:
            instantiation of "Reduce" at line 511
            instantiation of "Sum" at line 221 of /opt/cuda/include/cccl/cub/block/block_reduce.cuh
            instantiation of "Sum(T) [with T=P]" at line 6 of candidate.cu

/opt/cuda/include/cuda_bf16.hpp(10): warning: something
  TOOLKIT-SOURCE-LINE

1 error detected in the compilation of "candidate.cu".
)";
  LogCutOptions opt;
  opt.toolkit_dirs = {"/opt/cuda/include/cccl/", "/opt/cuda/include/"};
  std::string cut = cut_compile_log(raw, opt);
  EXPECT_NE(cut.find("cub/warp/reduce.cuh(457): error: no instance"), std::string::npos) << cut;
  EXPECT_NE(cut.find("argument types are: (P, P)"), std::string::npos);
  EXPECT_NE(cut.find("at line 6 of candidate.cu"), std::string::npos);
  EXPECT_NE(cut.find("cuda_bf16.hpp(10): warning"), std::string::npos);
  for (const char* gone : {"/opt/", "reduction_op", "TOOLKIT-SOURCE-LINE", "line 511", "line 221"}) {
    EXPECT_EQ(cut.find(gone), std::string::npos) << gone << " in:\n" << cut;
  }
  EXPECT_EQ(first_error(cut), "line 6: in cub/warp/reduce.cuh(457): no instance of \"plus\" matches");
  // Without toolkit folders the same diagnostics are dropped whole.
  EXPECT_EQ(cut_compile_log(raw).find("reduce.cuh"), std::string::npos);
}

TEST(CompileLog, CapsLinesBytesAndLongLines) {
  std::string raw;
  for (int i = 1; i <= 100; ++i) raw += "candidate.cu(" + std::to_string(i) + "): warning: w\n";
  std::string cut = cut_compile_log(raw);
  EXPECT_NE(cut.find("candidate.cu(60): warning"), std::string::npos);
  EXPECT_EQ(cut.find("candidate.cu(61): warning"), std::string::npos);
  EXPECT_NE(cut.find("... 40 more lines"), std::string::npos) << cut;

  std::string wide;
  for (int i = 0; i < 40; ++i) wide += "candidate.cu(" + std::to_string(i) + "): error: " + std::string(300, 'x') + "\n";
  std::string capped = cut_compile_log(wide);
  EXPECT_LE(capped.size(), 8 * 1024 + 64);
  EXPECT_NE(capped.find("more lines"), std::string::npos);

  std::string long_line = "candidate.cu(1): error: " + std::string(5000, 'y') + "\n";
  EXPECT_LT(cut_compile_log(long_line).size(), 500u);
}

TEST(CompileLog, FirstErrorNamesTheCandidateLine) {
  std::string cut = cut_compile_log(kRawLog);
  EXPECT_EQ(first_error(cut), "line 4: identifier \"undefined_thing\" is undefined");
  EXPECT_EQ(first_error("kevo/a.cuh(7): error: bad\n"), "kevo/a.cuh line 7: bad");
  EXPECT_EQ(first_error("ptxas error   : Entry function 'k' uses too much shared data\n"),
            "ptxas error   : Entry function 'k' uses too much shared data");
  EXPECT_EQ(first_error(""), "");
}

TEST(CompileLog, PtxasErrorsAreKept) {
  std::string cut = cut_compile_log("ptxas error   : Entry function 'k' uses too much shared data (0x30000 bytes, 0xc000 max)\n");
  EXPECT_NE(cut.find("too much shared data"), std::string::npos);
}

TEST(CompileLog, ParsesPtxasResourcesPerKernel) {
  const char* raw = R"(ptxas info    : 0 bytes gmem
ptxas info    : Function properties for helper
ptxas         .     64 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Compiling entry function 'attend' for 'sm_90a'
ptxas info    : Function properties for attend
ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 4 registers, used 0 barriers
ptxas info    : Compile time = 2.431 ms
ptxas info    : Compiling entry function 'score' for 'sm_90a'
ptxas info    : Function properties for score
ptxas         .     24 bytes stack frame, 16 bytes spill stores, 8 bytes spill loads
ptxas info    : Used 255 registers, used 1 barriers, 1024 bytes smem
ptxas info    : Compile time = 27.868 ms
)";
  auto k = parse_ptxas_resources(raw);
  ASSERT_EQ(k.size(), 2u);
  EXPECT_EQ(k[0].name, "attend");
  EXPECT_EQ(k[0].registers, 4);
  EXPECT_EQ(k[0].smem_bytes, 0);
  EXPECT_EQ(k[0].local_bytes, 0);
  EXPECT_EQ(k[1].name, "score");
  EXPECT_EQ(k[1].registers, 255);
  EXPECT_EQ(k[1].smem_bytes, 1024);
  EXPECT_EQ(k[1].local_bytes, 24);
  EXPECT_EQ(k[1].spill_stores, 16);
  EXPECT_EQ(k[1].spill_loads, 8);
  EXPECT_TRUE(parse_ptxas_resources("").empty());
}

}  // namespace
}  // namespace kevo
