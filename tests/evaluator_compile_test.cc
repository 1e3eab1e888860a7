// compile_candidate with the real NVRTC (no GPU needed): CUBIN for sm_90a, errors cut to the
// candidate's lines, the disk cache, the deadline, and refusals that never reach NVRTC.
#include <gtest/gtest.h>

#include <filesystem>

#include "evaluator/evaluator.h"
#include "evaluator/nvrtc_compile.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

namespace fs = std::filesystem;

const char* kValid = R"(#include "kevo/sparse_decode.cuh"
// kevo:param  THREADS = 128 in {64, 128, 256}
// kevo:decode attend grid(Hq, B) block(THREADS) smem(THREADS*4)
extern "C" __global__ void attend(const kevo::Args a) {
  extern __shared__ float partial[];
  const int h = blockIdx.x, b = blockIdx.y;
  float acc = 0.f;
  for (int d = threadIdx.x; d < a.D; d += THREADS) acc += __bfloat162float(a.q[kevo::q_offset(a, b, h) + d]);
  partial[threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.x < a.D) a.o[kevo::q_offset(a, b, h) + threadIdx.x] = __float2bfloat16(partial[0]);
}
)";

Candidate candidate(const std::string& source, std::map<std::string, int64_t> params = {}) {
  return {"test", source, std::move(params)};
}

CompileOptions options(const std::string& cache_dir = "") {
  CompileOptions o;
  o.arch = "sm_90a";
  o.cache_dir = cache_dir;
  return o;
}

TEST(Compile, ValidKernelGivesACubinForSm90a) {
  CompileOutcome out = compile_candidate(candidate(kValid), options());
  ASSERT_EQ(out.status, EvalStatus::kOk) << out.message << "\n" << out.log;
  ASSERT_GT(out.cubin.size(), 4u);
  EXPECT_EQ(out.cubin.substr(0, 4), "\x7f" "ELF");  // a CUBIN, not PTX text
  EXPECT_EQ(out.params.at("THREADS"), 128);
  EXPECT_FALSE(out.cache_hit);
  EXPECT_GT(out.compile_ms, 0);
  ASSERT_EQ(out.kernels.size(), 1u);
  EXPECT_EQ(out.kernels[0].name, "attend");
  EXPECT_GT(out.kernels[0].registers, 0);
  EXPECT_EQ(out.log.find("ptxas info"), std::string::npos) << out.log;
}

TEST(Compile, ParamsBecomeDefines) {
  std::string src = std::string(kValid) + "static_assert(THREADS == 256, \"THREADS is not 256\");\n";
  CompileOutcome def = compile_candidate(candidate(src), options());
  EXPECT_EQ(def.status, EvalStatus::kCompileError);
  EXPECT_NE(def.message.find("line 13: "), std::string::npos) << def.message;
  EXPECT_NE(def.message.find("THREADS is not 256"), std::string::npos) << def.message;
  CompileOutcome tuned = compile_candidate(candidate(src, {{"THREADS", 256}}), options());
  EXPECT_EQ(tuned.status, EvalStatus::kOk) << tuned.message << tuned.log;
}

TEST(Compile, SyntaxErrorNamesTheCandidateLineAndNoSystemPaths) {
  std::string src = std::string(kValid) + "\n__device__ int broken() { return undefined_name + 1; }\n";
  CompileOutcome out = compile_candidate(candidate(src), options());
  ASSERT_EQ(out.status, EvalStatus::kCompileError);
  EXPECT_EQ(out.message, "line 14: identifier \"undefined_name\" is undefined");
  EXPECT_NE(out.log.find("candidate.cu(14): error"), std::string::npos) << out.log;
  EXPECT_EQ(out.log.find("/usr/"), std::string::npos) << out.log;
  EXPECT_EQ(out.log.find("/cuda"), std::string::npos) << out.log;
  EXPECT_TRUE(out.cubin.empty());
}

TEST(Compile, ErrorsInsideToolkitHeadersPointBackToTheCandidate) {
  // CUB cannot add two P: the error is inside CUB's headers. The message names the candidate's
  // line that instantiated it; the log names CUB's files relative to the include folder.
  std::string src = R"(#include "kevo/sparse_decode.cuh"
// kevo:decode k grid(1) block(128)
#include <cub/block/block_reduce.cuh>
struct P { int x; };
extern "C" __global__ void k(const kevo::Args a) {
  using R = cub::BlockReduce<P, 128>;
  __shared__ typename R::TempStorage t;
  P p{1};
  p = R(t).Sum(p);
  a.o[0] = __float2bfloat16((float)p.x);
}
)";
  CompileOutcome out = compile_candidate(candidate(src), options());
  ASSERT_EQ(out.status, EvalStatus::kCompileError);
  EXPECT_EQ(out.message.rfind("line 9: in cub/", 0), 0u) << out.message;
  EXPECT_NE(out.log.find("at line 9 of candidate.cu"), std::string::npos) << out.log;
  EXPECT_NE(out.log.find("argument types are: (P, P)"), std::string::npos) << out.log;
  EXPECT_EQ(out.log.find("/usr/"), std::string::npos) << out.log;
  EXPECT_EQ(out.log.find("include/"), std::string::npos) << out.log;
  EXPECT_EQ(out.log.find("reduction_op("), std::string::npos) << out.log;  // CUB's source lines
}

TEST(Compile, PlanKernelsMustBeExternCEntries) {
  std::string src = R"(#include "kevo/sparse_decode.cuh"
// kevo:decode attend grid(Hq, B) block(128)
__global__ void attend(const kevo::Args a) {}
)";
  CompileOutcome out = compile_candidate(candidate(src), options());
  ASSERT_EQ(out.status, EvalStatus::kCompileError);
  EXPECT_NE(out.message.find("line 2: the plan names kernel 'attend'"), std::string::npos) << out.message;
  EXPECT_NE(out.message.find("without extern \"C\""), std::string::npos) << out.message;
  EXPECT_NE(out.message.find("kernels found: attend(kevo::Args)"), std::string::npos)
      << out.message;
}

// The extern "C" hint is given only when a C++ kernel of the plan's name exists; names are shown
// demangled.
TEST(Compile, ExternCHintOnlyWhenItIsTheCause) {
  std::string src = R"(#include "kevo/sparse_decode.cuh"
// kevo:decode attend grid(Hq, B) block(128)
extern "C" __global__ void attend_all(const kevo::Args a) {}
__global__ void helper_attend(const kevo::Args a) {}
)";
  CompileOutcome out = compile_candidate(candidate(src), options());
  ASSERT_EQ(out.status, EvalStatus::kCompileError);
  EXPECT_NE(out.message.find("line 2: the plan names kernel 'attend', but the file has no "
                             "__global__ function of that name"),
            std::string::npos)
      << out.message;
  EXPECT_EQ(out.message.find("extern"), std::string::npos) << out.message;
  EXPECT_NE(out.message.find("attend_all"), std::string::npos) << out.message;
  EXPECT_NE(out.message.find("helper_attend(kevo::Args)"), std::string::npos) << out.message;
  EXPECT_EQ(demangle_kernel_name("_Z6attendN4kevo4ArgsE"), "attend(kevo::Args)");
  EXPECT_EQ(demangle_kernel_name("attend"), "attend");
}

TEST(Compile, DiskCacheHitsOnTheSameInputsOnly) {
  testing::TempDir cache;
  CompileOutcome first = compile_candidate(candidate(kValid), options(cache.path()));
  ASSERT_EQ(first.status, EvalStatus::kOk) << first.message;
  EXPECT_FALSE(first.cache_hit);
  CompileOutcome second = compile_candidate(candidate(kValid), options(cache.path()));
  ASSERT_EQ(second.status, EvalStatus::kOk);
  EXPECT_TRUE(second.cache_hit);
  EXPECT_EQ(second.cubin, first.cubin);
  ASSERT_EQ(second.kernels.size(), 1u);
  EXPECT_EQ(second.kernels[0].registers, first.kernels[0].registers);
  int entries = 0;
  for (const auto& e : fs::directory_iterator(cache.path())) {
    EXPECT_EQ(e.path().extension(), ".json");
    EXPECT_NE(e.path().filename().string()[0], '.');  // no temporary file left behind
    ++entries;
  }
  EXPECT_EQ(entries, 1);
  CompileOutcome other_param = compile_candidate(candidate(kValid, {{"THREADS", 64}}), options(cache.path()));
  EXPECT_FALSE(other_param.cache_hit);
  CompileOutcome other_arch = compile_candidate(candidate(kValid), [&] {
    auto o = options(cache.path());
    o.arch = "sm_80";
    return o;
  }());
  ASSERT_EQ(other_arch.status, EvalStatus::kOk) << other_arch.message;
  EXPECT_FALSE(other_arch.cache_hit);
}

TEST(Compile, DeadlineCancelsAHeavyCompile) {
  // 4^6 = 4096 unrolled statements: many seconds of optimisation, cancelled at 0.5 s.
  std::string src = R"(#include "kevo/sparse_decode.cuh"
// kevo:decode k grid(1) block(256)
#define S(i) x = x * 1.0001f + __sinf(x + (float)(i)); y[(i) & 255] += x;
#define A1(b) S(4*(b)) S(4*(b)+1) S(4*(b)+2) S(4*(b)+3)
#define A2(b) A1(4*(b)) A1(4*(b)+1) A1(4*(b)+2) A1(4*(b)+3)
#define A3(b) A2(4*(b)) A2(4*(b)+1) A2(4*(b)+2) A2(4*(b)+3)
#define A4(b) A3(4*(b)) A3(4*(b)+1) A3(4*(b)+2) A3(4*(b)+3)
#define A5(b) A4(4*(b)) A4(4*(b)+1) A4(4*(b)+2) A4(4*(b)+3)
#define A6(b) A5(4*(b)) A5(4*(b)+1) A5(4*(b)+2) A5(4*(b)+3)
extern "C" __global__ void k(const kevo::Args a) {
  __shared__ float y[256];
  float x = a.scale;
  A6(0)
  a.o[threadIdx.x] = __float2bfloat16(x + y[threadIdx.x]);
}
)";
  CompileOptions opt = options();
  opt.timeout_s = 0.5;
  CompileOutcome out = compile_candidate(candidate(src), opt);
  EXPECT_EQ(out.status, EvalStatus::kTimeout) << out.message;
  EXPECT_NE(out.message.find("deadline of 0.5 s"), std::string::npos) << out.message;
  EXPECT_TRUE(out.cubin.empty());
}

TEST(Compile, RefusedSourcesNeverReachNvrtcAndLeakNothing) {
  testing::TempDir tmp;
  const std::string secret = "KEVO-SECRET-91c4-never-in-a-log";
  testing::write_file(tmp.file("secret.h"), secret + "\n");
  std::string hostname = testing::read_file("/etc/hostname");
  while (!hostname.empty() && (hostname.back() == '\n' || hostname.back() == ' ')) hostname.pop_back();
  std::string head = "#include \"kevo/sparse_decode.cuh\"\n// kevo:decode k grid(1) block(32)\n";
  const std::string tail = "\nextern \"C\" __global__ void k(const kevo::Args a) {}\n";
  std::string climb = "../../../../../../../../../.." + fs::canonical(tmp.file("secret.h")).string();
  for (const std::string& line : std::vector<std::string>{
           "#include \"" + tmp.file("secret.h") + "\"",
           "#include <" + tmp.file("secret.h") + ">",
           "#include \"" + climb + "\"",
           "#include \"/etc/hostname\"",
           "#include </etc/hostname>",
           "#define F \"/etc/hostname\"\n#include F",
           "#if __has_include(\"/etc/hostname\")\n#endif",
       }) {
    CompileOutcome out = compile_candidate(candidate(head + line + tail), options());
    EXPECT_EQ(out.status, EvalStatus::kRejectedSource) << line;
    EXPECT_EQ(out.message.substr(0, 5), "line ") << out.message;
    EXPECT_TRUE(out.log.empty()) << out.log;
    EXPECT_EQ(out.message.find(secret), std::string::npos);
    if (hostname.size() >= 2) {
      EXPECT_EQ(out.message.find(hostname), std::string::npos) << out.message;
    }
  }
  // A symlink under an allow-listed folder name that leads outside the include folder.
  fs::create_directories(tmp.file("cuda/include/cub"));
  fs::create_directories(tmp.file("cuda/include/cccl"));
  fs::create_symlink(tmp.file("secret.h"), tmp.file("cuda/include/cub/util.cuh"));
  CompileOptions opt = options();
  opt.cuda_include_dir = tmp.file("cuda/include");
  CompileOutcome out = compile_candidate(candidate(head + "#include <cub/util.cuh>" + tail), opt);
  EXPECT_EQ(out.status, EvalStatus::kRejectedSource);
  EXPECT_NE(out.message.find("line 3: <cub/util.cuh> does not resolve"), std::string::npos) << out.message;
  EXPECT_EQ(out.message.find(secret), std::string::npos);
  EXPECT_EQ(out.log.find(secret), std::string::npos);
}

TEST(Compile, BadDirectivesAndParamsAreRejectedSource) {
  CompileOutcome bad = compile_candidate(candidate("// kevo:decode k grid(1)\n"), options());
  EXPECT_EQ(bad.status, EvalStatus::kRejectedSource);
  EXPECT_NE(bad.message.find("line 1: "), std::string::npos);
  CompileOutcome unknown = compile_candidate(candidate(kValid, {{"WIDTH", 4}}), options());
  EXPECT_EQ(unknown.status, EvalStatus::kRejectedSource);
  EXPECT_NE(unknown.message.find("unknown param 'WIDTH'"), std::string::npos);
  CompileOptions opt = options();
  opt.arch = "sm_90a -I/etc";
  EXPECT_EQ(compile_candidate(candidate(kValid), opt).status, EvalStatus::kCompileError);
}

TEST(Compile, OutcomeJsonRoundTripsBinaryCubins) {
  CompileOutcome o;
  o.status = EvalStatus::kOk;
  for (int i = 0; i < 256; ++i) o.cubin += static_cast<char>(i);
  o.cubin += "\x7f" "ELF";
  o.log = "candidate.cu(3): warning: x";
  o.compile_ms = 12.5;
  o.params = {{"BITS", 32}};
  o.kernels = {{"attend", 40, 1024, 16, 8, 4}};
  auto back = compile_outcome_from_json(to_json(o));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->cubin, o.cubin);
  EXPECT_EQ(back->log, o.log);
  EXPECT_EQ(back->params, o.params);
  ASSERT_EQ(back->kernels.size(), 1u);
  EXPECT_EQ(back->kernels[0].smem_bytes, 1024);
  EXPECT_EQ(back->kernels[0].spill_loads, 4);
  EXPECT_FALSE(compile_outcome_from_json({{"status", "ok"}, {"cubin_base64", "a$=="}}).ok());
  EXPECT_FALSE(compile_outcome_from_json({{"status", "fine"}}).ok());

  Candidate c{"p1", "// src\n", {{"X", -3}}};
  auto cb = candidate_from_json(to_json(c));
  ASSERT_TRUE(cb.ok());
  EXPECT_EQ(cb->source, c.source);
  EXPECT_EQ(cb->params, c.params);
  EXPECT_FALSE(candidate_from_json({{"name", "x"}}).ok());
}

}  // namespace
}  // namespace kevo
