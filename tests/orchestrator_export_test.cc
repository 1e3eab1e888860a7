// Export (docs/design.md, Export): every file is written, the generated plan header computes what
// resolve_plan computes (compiled here with the host compiler), the generated CUDA compiles with
// nvcc for sm_90a, the Python files parse, metadata.json has its fields, and `kevo export` works
// from a file and from an archive (lineage, metrics). No GPU needed.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "archive/archive.h"
#include "common/hash.h"
#include "evaluator/task.h"
#include "orchestrator/export/codegen.h"
#include "orchestrator/export/export.h"
#include "tests/test_support.h"

namespace kevo {
namespace {
namespace fs = std::filesystem;
using testing::read_file;
using testing::run_kevo;
using testing::TempDir;
using testing::write_file;

// A small candidate with everything a plan can hold: params with choices, index, workspace, a
// build kernel, two decode kernels, min/max/cdiv/%, and dynamic shared memory over 48 KiB.
const char* kFixture = R"(#include "kevo/sparse_decode.cuh"

// kevo:param  BITS = 32 in {16, 32, 64}
// kevo:param  THREADS = 128 in {64, 128, 256}
// kevo:param  CHUNK = 256
// kevo:index      B*Hkv*N*(BITS/8)
// kevo:workspace  B*Hq*cdiv(N, CHUNK)*(D + 2)*4
// kevo:build   sign_keys  grid(cdiv(N, THREADS), Hkv, B) block(THREADS)
// kevo:decode  partial    grid(cdiv(N, CHUNK), Hq, B) block(THREADS) smem(max(D*4, 64*1024 + N % 7))
// kevo:decode  merge      grid(Hq, B) block(min(D, 1024))

extern "C" __global__ void sign_keys(const kevo::Args a) {
  int n = blockIdx.x * blockDim.x + threadIdx.x;
  if (n >= a.N) return;
  const __nv_bfloat16* k = a.k + kevo::kv_offset(a, blockIdx.z, blockIdx.y, n);
  unsigned long long bits = 0;
  for (int i = 0; i < BITS && i < a.D; ++i) bits |= (unsigned long long)(__bfloat162float(k[i]) > 0) << i;
  unsigned char* out = a.index + ((long long)(blockIdx.z * a.Hkv + blockIdx.y) * a.N + n) * (BITS / 8);
  for (int i = 0; i < BITS / 8; ++i) out[i] = (unsigned char)(bits >> (8 * i));
}

extern "C" __global__ void partial(const kevo::Args a) {
  extern __shared__ float smem[];
  int h = blockIdx.y, b = blockIdx.z, c = blockIdx.x;
  int hkv = h / (a.Hq / a.Hkv);
  float* part = reinterpret_cast<float*>(a.workspace) +
                ((long long)(b * a.Hq + h) * gridDim.x + c) * (a.D + 2);
  if (threadIdx.x == 0) {
    float m = -1e30f, l = 0;
    for (int n = c * CHUNK; n < min(a.N, (c + 1) * CHUNK); ++n) {
      float s = 0;
      for (int d = 0; d < a.D; ++d)
        s += __bfloat162float(a.q[kevo::q_offset(a, b, h) + d]) *
             __bfloat162float(a.k[kevo::kv_offset(a, b, hkv, n) + d]);
      s *= a.scale;
      float m2 = fmaxf(m, s);
      l = l * __expf(m - m2) + __expf(s - m2);
      for (int d = 0; d < a.D; ++d) smem[d] = (n == c * CHUNK ? 0.f : smem[d] * __expf(m - m2)) +
          __expf(s - m2) * __bfloat162float(a.v[kevo::kv_offset(a, b, hkv, n) + d]);
      m = m2;
    }
    for (int d = 0; d < a.D; ++d) part[d] = smem[d];
    part[a.D] = m;
    part[a.D + 1] = l;
  }
}

extern "C" __global__ void merge(const kevo::Args a) {
  int h = blockIdx.x, b = blockIdx.y, d = threadIdx.x, chunks = kevo::cdiv(a.N, CHUNK);
  const float* part = reinterpret_cast<const float*>(a.workspace) + (long long)(b * a.Hq + h) * chunks * (a.D + 2);
  float m = -1e30f;
  for (int c = 0; c < chunks; ++c) m = fmaxf(m, part[c * (a.D + 2) + a.D]);
  float num = 0, den = 0;
  for (int c = 0; c < chunks; ++c) {
    float w = __expf(part[c * (a.D + 2) + a.D] - m);
    num += w * part[c * (a.D + 2) + d];
    den += w * part[c * (a.D + 2) + a.D + 1];
  }
  a.o[kevo::q_offset(a, b, h) + d] = __float2bfloat16(num / den);
}
)";

std::string sh_quote(const std::string& s) { return "'" + s + "'"; }

int shell(const std::string& cmd, std::string* output = nullptr) {
  TempDir tmp;
  int rc = std::system((cmd + " >" + tmp.file("log") + " 2>&1").c_str());
  if (output) *output = read_file(tmp.file("log"));
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string nvcc_path() {
  for (const char* p : {"/usr/local/cuda/bin/nvcc"}) {
    if (fs::exists(p)) return p;
  }
  return shell("command -v nvcc") == 0 ? "nvcc" : "";
}

ExportInput fixture_input() {
  ExportInput in;
  in.name = "fixture";
  in.source = kFixture;
  in.origin = "fixture.cu";
  return in;
}

Result<ExportSummary> export_to(const ExportInput& in, ExportFormat f, const std::string& dir) {
  ExportOptions opt;
  opt.format = f;
  opt.out_dir = dir;
  opt.kevo_version = "test";
  return export_package(in, opt);
}

std::vector<std::string> seed_files() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(testing::source_dir() + "/seeds", ec)) {
    if (e.path().extension() == ".cu") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Export, CudaPackageHasEveryFile) {
  TempDir tmp;
  auto s = export_to(fixture_input(), ExportFormat::kCuda, tmp.path());
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  for (const char* f : {"include/fixture.h", "src/fixture.cu", "src/fixture_plan.h",
                        "src/fixture_kernels.cuh", "src/kevo/sparse_decode.cuh", "example/check.cu",
                        "example/kevo_gen_math.h", "CMakeLists.txt", "build.sh", "README.md",
                        "metadata.json"}) {
    EXPECT_TRUE(fs::is_regular_file(tmp.file(f))) << f;
    EXPECT_NE(std::find(s->files.begin(), s->files.end(), f), s->files.end()) << f;
  }
  EXPECT_EQ(s->files.size(), 11u);  // nothing unexpected (the fixture includes one kevo header)
  // The check generates kevo's own data: the generator header, with the default suite's settings
  // and the seed kevo gives its first workload (llama3-8b: seed 8001, workload 0).
  EXPECT_NE(read_file(tmp.file("example/kevo_gen_math.h")).find("KEVO_GEN_FN void kv_pair"),
            std::string::npos);
  std::string check = read_file(tmp.file("example/check.cu"));
  EXPECT_NE(check.find("p.rope_base = 500000.0f;"), std::string::npos);
  EXPECT_NE(check.find("{1, 32, 8, 8192, 128, 8001024003ull}"), std::string::npos);
  for (const char* placeholder : {"@GEN_FIELDS@", "@GEN_SEEDS@", "@SUITE@"}) {
    EXPECT_EQ(check.find(placeholder), std::string::npos) << placeholder;
  }
  std::string kernels = read_file(tmp.file("src/fixture_kernels.cuh"));
  EXPECT_NE(kernels.find("#define BITS 32"), std::string::npos);
  EXPECT_NE(kernels.find("#undef THREADS"), std::string::npos);
  // Kernels carry the package's name, so several packages link into one program; the plan's
  // comment lines and other uses of the names are left alone.
  EXPECT_NE(kernels.find("extern \"C\" __global__ void fixture_merge(const kevo::Args a)"),
            std::string::npos);
  EXPECT_NE(kernels.find("extern \"C\" __global__ void fixture_sign_keys("), std::string::npos);
  EXPECT_NE(kernels.find("// kevo:decode  merge      grid(Hq, B)"), std::string::npos);
  EXPECT_EQ(kernels.find("void merge("), std::string::npos);
  EXPECT_NE(read_file(tmp.file("src/fixture.cu"))
                .find("{fixture_sign_keys, fixture_partial, "
                      "fixture_merge}"),
            std::string::npos);
  EXPECT_NE(fs::status(tmp.file("build.sh")).permissions() & fs::perms::owner_exec, fs::perms::none);
  // No placeholder was left unfilled anywhere.
  for (const auto& f : s->files) EXPECT_EQ(read_file(tmp.file(f)).find("@NAME@"), std::string::npos) << f;
}

TEST(Export, TorchPackageHasEveryFile) {
  TempDir tmp;
  auto s = export_to(fixture_input(), ExportFormat::kTorch, tmp.path());
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  for (const char* f : {"fixture/__init__.py", "setup.py", "test_fixture.py", "csrc/fixture.h",
                        "csrc/fixture.cu", "csrc/fixture_plan.h", "csrc/fixture_kernels.cuh",
                        "csrc/fixture_torch.cpp", "csrc/kevo/sparse_decode.cuh", "README.md",
                        "metadata.json"}) {
    EXPECT_TRUE(fs::is_regular_file(tmp.file(f))) << f;
  }
  // The index depends only on B, Hkv, N: build_index needs no query-head count.
  EXPECT_NE(read_file(tmp.file("csrc/fixture_torch.cpp")).find("kBuildNeedsHq = false"),
            std::string::npos);
  // The operators for torch.compile: schemas, CUDA implementations, shape functions.
  std::string binding = read_file(tmp.file("csrc/fixture_torch.cpp"));
  for (const char* want : {"TORCH_LIBRARY(fixture, m)",
                           "m.def(\"decode(Tensor q, Tensor k, Tensor v, Tensor index, float "
                           "scale=0.0) -> Tensor\")",
                           "TORCH_LIBRARY_IMPL(fixture, CUDA, m)", "m.impl(\"decode\", &decode)",
                           "m.impl(\"build_index\", &build_index)"}) {
    EXPECT_NE(binding.find(want), std::string::npos) << want;
  }
  std::string init = read_file(tmp.file("fixture/__init__.py"));
  EXPECT_NE(init.find("@register(\"fixture::decode\")"), std::string::npos);
  EXPECT_NE(init.find("torch.ops.fixture.decode(q, k, v, index"), std::string::npos);
  EXPECT_NE(read_file(tmp.file("test_fixture.py")).find("torch.compile("), std::string::npos);
  std::string out;
  if (shell("command -v python3") != 0) GTEST_SKIP() << "no python3 to check the Python files";
  EXPECT_EQ(shell("python3 -m py_compile " + tmp.file("setup.py") + " " +
                      tmp.file("test_fixture.py") + " " + tmp.file("fixture/__init__.py"), &out), 0)
      << out;
  // --help needs nothing, not even PyTorch; without PyTorch or a GPU the test says which.
  EXPECT_EQ(shell("python3 " + tmp.file("test_fixture.py") + " --help", &out), 0) << out;
  EXPECT_NE(out.find("--no-compile"), std::string::npos) << out;
  int rc = shell("python3 " + tmp.file("test_fixture.py"), &out);
  if (shell("python3 -c 'import torch'") != 0) {
    EXPECT_EQ(rc, 2) << out;
    EXPECT_NE(out.find("needs PyTorch"), std::string::npos) << out;
  } else if (shell("python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "
                   "1)'") != 0) {
    EXPECT_EQ(rc, 3) << out;
    EXPECT_NE(out.find("no CUDA device"), std::string::npos) << out;
  }
}

TEST(Export, RenamesOnlyKernelDefinitions) {
  const std::string src =
      "// the kernel attend(...) below\n"
      "extern \"C\" __global__ void __launch_bounds__(256, 2) attend(const kevo::Args a);\n"
      "__device__ float attend_helper(float x) { return x; }\n"
      "extern \"C\" __global__ void __launch_bounds__(256, 2)\n    attend(const kevo::Args a) {\n"
      "  const char* s = \"attend(\"; float attend = 1; (void)s; (void)attend;\n}\n";
  std::string out = export_detail::rename_kernels(src, {{"attend", "pkg_attend"}});
  EXPECT_EQ(
      out,
      "// the kernel attend(...) below\n"
      "extern \"C\" __global__ void __launch_bounds__(256, 2) pkg_attend(const kevo::Args a);\n"
      "__device__ float attend_helper(float x) { return x; }\n"
      "extern \"C\" __global__ void __launch_bounds__(256, 2)\n    pkg_attend(const kevo::Args a) "
      "{\n"
      "  const char* s = \"attend(\"; float attend = 1; (void)s; (void)attend;\n}\n");
}

TEST(Export, RefusesNonEmptyFolderUnlessForced) {
  TempDir tmp;
  write_file(tmp.file("mine.txt"), "keep me");
  auto s = export_to(fixture_input(), ExportFormat::kCuda, tmp.path());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("not empty"), std::string::npos) << s.status().message();
  EXPECT_FALSE(fs::exists(tmp.file("README.md")));
  ExportOptions opt;
  opt.out_dir = tmp.path();
  opt.force = true;
  ASSERT_TRUE(export_package(fixture_input(), opt).ok());
  EXPECT_EQ(read_file(tmp.file("mine.txt")), "keep me");
  EXPECT_TRUE(fs::exists(tmp.file("README.md")));
}

TEST(Export, RejectsBadInput) {
  TempDir tmp;
  ExportInput in = fixture_input();
  in.name = "1bad-name";
  EXPECT_FALSE(export_to(in, ExportFormat::kCuda, tmp.file("a")).ok());
  in = fixture_input();
  in.params["BITS"] = 24;  // not among the choices
  auto s = export_to(in, ExportFormat::kCuda, tmp.file("b"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("BITS"), std::string::npos) << s.status().message();
  in = fixture_input();
  in.params["NOPE"] = 1;
  EXPECT_FALSE(export_to(in, ExportFormat::kCuda, tmp.file("c")).ok());
  in = fixture_input();
  in.source = std::string("#include \"kevo/not_a_header.cuh\"\n") + kFixture;
  s = export_to(in, ExportFormat::kCuda, tmp.file("d"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("kevo/not_a_header.cuh"), std::string::npos);
  EXPECT_EQ(export_name_from("program 41"), "program_41");
  EXPECT_EQ(export_name_from("41-x"), "k_41_x");
  EXPECT_EQ(export_name_from("--"), "kernel");
}

TEST(Export, ParamOverrideIsBakedIn) {
  TempDir tmp;
  ExportInput in = fixture_input();
  in.params["BITS"] = 64;
  auto s = export_to(in, ExportFormat::kCuda, tmp.path());
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_NE(read_file(tmp.file("src/fixture_plan.h")).find("constexpr i64 BITS = 64;"), std::string::npos);
  EXPECT_NE(read_file(tmp.file("src/fixture_kernels.cuh")).find("#define BITS 64"), std::string::npos);
  EXPECT_EQ(s->metadata["params"]["BITS"], 64);
}

// ---- the generated plan against resolve_plan ----

const std::vector<Shape> kShapes = {
    {1, 32, 8, 8192, 128}, {1, 32, 8, 32768, 128}, {1, 32, 8, 131072, 128}, {8, 32, 8, 32768, 128},
    {2, 28, 4, 1000, 64},  {3, 8, 8, 1, 128},      {1, 64, 8, 4097, 256}};

// Runs the generated <name>_plan.h, compiled with the host compiler, on kShapes; one line each.
std::vector<std::string> run_generated_plan(const std::string& pkg, const std::string& name,
                                            const std::string& src_dir) {
  TempDir tmp;
  std::ostringstream d;
  d << "#include \"" << name << "_plan.h\"\n#include <cstdio>\n#include <cstdlib>\n"
    << "namespace plan = " << name << "_plan;\n"
    << "int main(int argc, char** argv) {\n"
    << "  for (int i = 1; i + 4 < argc; i += 5) {\n"
    << "    plan::Shape s{atoll(argv[i]), atoll(argv[i+1]), atoll(argv[i+2]), atoll(argv[i+3]), "
       "atoll(argv[i+4])};\n"
    << "    if (!plan::valid(s)) { printf(\"invalid\\n\"); continue; }\n"
    << "    printf(\"%lld %lld\", plan::index_bytes(s), plan::workspace_bytes(s));\n"
    << "    plan::Launch l[plan::kNumKernels];\n    plan::launches(s, l);\n"
    << "    for (int k = 0; k < plan::kNumKernels; ++k)\n"
    << "      printf(\" %s:%d:%lld,%lld,%lld:%lld,%lld,%lld:%lld\", l[k].name, (int)l[k].decode,\n"
    << "             l[k].grid[0], l[k].grid[1], l[k].grid[2], l[k].block[0], l[k].block[1],\n"
    << "             l[k].block[2], l[k].smem);\n"
    << "    printf(\"\\n\");\n  }\n}\n";
  write_file(tmp.file("driver.cc"), d.str());
  std::string log;
  int rc = shell("c++ -std=c++17 -Wall -Wextra -Werror -I" + sh_quote(pkg + "/" + src_dir) + " " +
                     tmp.file("driver.cc") + " -o " + tmp.file("driver"),
                 &log);
  EXPECT_EQ(rc, 0) << log;
  if (rc != 0) return {};
  std::string args;
  for (const auto& s : kShapes) {
    args += " " + std::to_string(s.B) + " " + std::to_string(s.Hq) + " " + std::to_string(s.Hkv) +
            " " + std::to_string(s.N) + " " + std::to_string(s.D);
  }
  rc = shell(tmp.file("driver") + args, &log);
  EXPECT_EQ(rc, 0) << log;
  std::vector<std::string> lines;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The same line from kevo's own resolve_plan.
std::string expected_line(const TaskSpec& spec, const std::map<std::string, int64_t>& params,
                          const Shape& s) {
  auto plan = resolve_plan(spec, params, s);
  if (!plan.ok()) return "invalid";
  std::ostringstream o;
  o << plan->index_bytes << " " << plan->workspace_bytes;
  for (Phase phase : {Phase::kBuild, Phase::kDecode}) {
    for (const auto& l : plan->launches) {
      if (l.phase != phase) continue;
      o << " " << l.name << ":" << (phase == Phase::kDecode) << ":" << l.grid[0] << "," << l.grid[1]
        << "," << l.grid[2] << ":" << l.block[0] << "," << l.block[1] << "," << l.block[2] << ":"
        << l.smem;
    }
  }
  return o.str();
}

void expect_plan_matches(const std::string& origin, const ExportInput& in) {
  SCOPED_TRACE(origin);
  TempDir tmp;
  auto s = export_to(in, ExportFormat::kCuda, tmp.path());
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  auto spec = parse_task_spec(in.source);
  ASSERT_TRUE(spec.ok());
  auto params = spec->resolve_params(in.params);
  ASSERT_TRUE(params.ok());
  auto lines = run_generated_plan(tmp.path(), in.name, "src");
  ASSERT_EQ(lines.size(), kShapes.size());
  int valid = 0;
  for (size_t i = 0; i < kShapes.size(); ++i) {
    const Shape& sh = kShapes[i];
    SCOPED_TRACE("B=" + std::to_string(sh.B) + " Hq=" + std::to_string(sh.Hq) + " N=" +
                 std::to_string(sh.N) + " D=" + std::to_string(sh.D));
    EXPECT_EQ(lines[i], expected_line(*spec, *params, sh));
    valid += lines[i] != "invalid";
  }
  EXPECT_GE(valid, 4);  // the suite's llama3-8b shapes at least
}

TEST(Export, GeneratedPlanMatchesResolvePlan) {
  expect_plan_matches("fixture", fixture_input());
  ExportInput in = fixture_input();
  in.params = {{"BITS", 16}, {"THREADS", 256}};
  expect_plan_matches("fixture BITS=16 THREADS=256", in);
}

TEST(Export, GeneratedPlanMatchesResolvePlanForEverySeed) {
  auto seeds = seed_files();
  if (seeds.empty()) GTEST_SKIP() << "no seeds/*.cu in " << testing::source_dir();
  for (const auto& path : seeds) {
    ExportInput in;
    in.source = read_file(path);
    in.name = export_name_from(fs::path(path).stem().string());
    in.origin = path;
    expect_plan_matches(path, in);
  }
}

// ---- nvcc ----

void expect_nvcc_compiles(const std::string& pkg, const std::string& name) {
  std::string nvcc = nvcc_path();
  std::string log;
  int rc = shell(sh_quote(pkg + "/build.sh") + " sm_90a", &log);
  EXPECT_EQ(rc, 0) << log;
  EXPECT_TRUE(fs::exists(pkg + "/build/" + name + "_check")) << log;
  // The launcher alone, with the warnings a user's build would show.
  rc = shell(nvcc + " -std=c++17 -c -gencode=arch=compute_90a,code=sm_90a -Xcompiler -Wall,-Wextra "
                    "-I" + sh_quote(pkg + "/include") + " -I" + sh_quote(pkg + "/src") + " " +
                 sh_quote(pkg + "/src/" + name + ".cu") + " -o " + sh_quote(pkg + "/launcher.o"),
             &log);
  EXPECT_EQ(rc, 0) << log;
}

TEST(Export, CudaPackageCompilesWithNvcc) {
  if (nvcc_path().empty()) GTEST_SKIP() << "no nvcc (looked for /usr/local/cuda/bin/nvcc and PATH)";
  TempDir tmp;
  auto s = export_to(fixture_input(), ExportFormat::kCuda, tmp.path());
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  expect_nvcc_compiles(tmp.path(), "fixture");
  // The package's check: --help needs no GPU; without a CUDA device it says so and exits 3.
  std::string out;
  EXPECT_EQ(shell(sh_quote(tmp.file("build/fixture_check")) + " --help", &out), 0) << out;
  EXPECT_NE(out.find("usage: "), std::string::npos) << out;
  if (!testing::gpu_unavailable_reason().empty()) {
    EXPECT_EQ(shell(sh_quote(tmp.file("build/fixture_check")), &out), 3) << out;
    EXPECT_NE(out.find("fixture_check: no CUDA device"), std::string::npos) << out;
  }
}

// Two packages whose kernels have the same names (here: the same candidate twice) link into one
// program: their kernel symbols carry the package names.
TEST(Export, TwoPackagesLinkIntoOneProgram) {
  if (nvcc_path().empty()) GTEST_SKIP() << "no nvcc (looked for /usr/local/cuda/bin/nvcc and PATH)";
  TempDir tmp;
  for (const char* name : {"alpha", "beta"}) {
    ExportInput in = fixture_input();
    in.name = name;
    auto s = export_to(in, ExportFormat::kCuda, tmp.file(name));
    ASSERT_TRUE(s.ok()) << s.status().to_string();
  }
  write_file(
      tmp.file("main.cu"),
      "#include <cstdio>\n#include \"alpha.h\"\n#include \"beta.h\"\n"
      "int main() {\n"
      "  std::printf(\"%d %d %zu\\n\", alpha_supported(1, 32, 8, 8192, 128),\n"
      "              beta_supported(1, 32, 8, 8192, 128), beta_index_bytes(1, 32, 8, 8192, 128));\n"
      "  return 0;\n}\n");
  std::string objs, log;
  for (const char* name : {"alpha", "beta"}) {
    const std::string pkg = tmp.file(name);
    int rc = shell(nvcc_path() + " -std=c++17 -c -gencode=arch=compute_90a,code=sm_90a -I" +
                       sh_quote(pkg + "/include") + " -I" + sh_quote(pkg + "/src") + " " +
                       sh_quote(pkg + "/src/" + name + ".cu") + " -o " +
                       sh_quote(tmp.file(std::string(name) + ".o")),
                   &log);
    ASSERT_EQ(rc, 0) << log;
    objs += " " + sh_quote(tmp.file(std::string(name) + ".o"));
  }
  int rc = shell(nvcc_path() + " -std=c++17 -I" + sh_quote(tmp.file("alpha/include")) + " -I" +
                     sh_quote(tmp.file("beta/include")) + " " + sh_quote(tmp.file("main.cu")) +
                     objs + " -o " + sh_quote(tmp.file("both")),
                 &log);
  ASSERT_EQ(rc, 0) << "linking two packages failed:\n" << log;
  EXPECT_EQ(shell(sh_quote(tmp.file("both")), &log), 0) << log;
  EXPECT_EQ(log, "1 1 " + std::to_string(8LL * 8192 * 4) + "\n");  // B*Hkv*N*(BITS/8)
}

TEST(Export, DenseSeedCompilesWithNvcc) {
  const std::string path = testing::source_dir() + "/seeds/dense_flashdecode.cu";
  if (!fs::exists(path)) GTEST_SKIP() << "no " << path;
  if (nvcc_path().empty()) GTEST_SKIP() << "no nvcc (looked for /usr/local/cuda/bin/nvcc and PATH)";
  TempDir tmp;
  ExportInput in;
  in.source = read_file(path);
  in.name = "dense_flashdecode";
  in.origin = path;
  auto s = export_to(in, ExportFormat::kCuda, tmp.path());
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  expect_nvcc_compiles(tmp.path(), "dense_flashdecode");
}

// ---- metadata and the CLI ----

TEST(Export, MetadataHasItsFields) {
  TempDir tmp;
  ExportInput in = fixture_input();
  in.result = {{"status", "ok"},
               {"fitness", 2.5},
               {"metrics", {{"speedup", 2.5}, {"mean_rel_err", 0.03}}},
               {"workloads", {{{"name", "B1-N8192"}, {"B", 1}, {"N", 8192}, {"decode_us", 4.0},
                               {"dense_us", 10.0}, {"speedup", 2.5}}}}};
  in.run = "r1";
  in.program_id = 7;
  in.lineage = {{7, 2.5, "ok", "llm"}, {1, 1.0, "ok", "seed"}};
  in.gpu = {{"name", "NVIDIA H100 80GB HBM3"}, {"arch", "sm_90a"}};
  auto s = export_to(in, ExportFormat::kCuda, tmp.path());
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  auto m = nlohmann::json::parse(read_file(tmp.file("metadata.json")));
  for (const char* key : {"name", "format", "kevo_version", "exported_at", "origin", "source_sha256",
                          "params", "param_space", "plan", "metrics", "workloads", "lineage", "gpu",
                          "run", "program_id", "tolerance", "files"}) {
    EXPECT_TRUE(m.contains(key)) << key;
  }
  EXPECT_EQ(m["source_sha256"], sha256_hex(kFixture));
  EXPECT_EQ(m["params"], nlohmann::json({{"BITS", 32}, {"CHUNK", 256}, {"THREADS", 128}}));
  EXPECT_EQ(m["plan"]["kernels"].size(), 3u);
  EXPECT_EQ(m["plan"]["kernels"][0]["phase"], "build");
  EXPECT_EQ(m["lineage"][1]["origin"], "seed");
  EXPECT_DOUBLE_EQ(m["tolerance"].get<double>(), 0.07);  // 2 * 0.03 + 0.01
  EXPECT_NE(read_file(tmp.file("example/check.cu")).find("double tol = 0.07;"), std::string::npos);
  for (const auto& f : m["files"]) EXPECT_TRUE(fs::exists(tmp.file(f.get<std::string>()))) << f;
  std::string readme = read_file(tmp.file("README.md"));
  EXPECT_NE(readme.find("| B1-N8192 | 1 | 8192 | 4.00 | 10.00 | 2.50"), std::string::npos) << readme;
  EXPECT_NE(readme.find("7 (2.50, llm) &larr; 1 (1.00, seed)"), std::string::npos) << readme;
  EXPECT_NE(readme.find("NVIDIA H100 80GB HBM3"), std::string::npos);
}

TEST(ExportCli, FromFile) {
  TempDir tmp;
  write_file(tmp.file("my-kernel.cu"), kFixture);
  auto r = run_kevo("export " + tmp.file("my-kernel.cu") + " --format torch --param THREADS=64 --out " +
                    tmp.file("pkg") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["name"], "my_kernel");
  EXPECT_EQ(j["metadata"]["params"]["THREADS"], 64);
  EXPECT_TRUE(j["metadata"]["metrics"].is_null());
  EXPECT_TRUE(fs::exists(tmp.file("pkg/my_kernel/__init__.py")));
  // Again into the same folder: refused, one line, then allowed with --force.
  r = run_kevo("export " + tmp.file("my-kernel.cu") + " --format torch --out " + tmp.file("pkg"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = run_kevo("export " + tmp.file("my-kernel.cu") + " --format torch --force --out " + tmp.file("pkg"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = run_kevo("export " + tmp.file("my-kernel.cu") + " --format onnx --out " + tmp.file("x"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = run_kevo("export " + tmp.file("missing.cu") + " --format cuda --out " + tmp.file("x"));
  EXPECT_EQ(r.exit_code, 2) << r.err;  // a missing file is a usage error
}

TEST(ExportCli, FromArchiveWithLineage) {
  TempDir tmp;
  const std::string db = tmp.file("runs/r1/kevo.db");
  {
    RunInfo run;
    run.name = "r1";
    auto ar = Archive::create(db, run, ArchiveConfig{});
    ASSERT_TRUE(ar.ok()) << ar.status().to_string();
    auto seed = (*ar)->begin_evaluation({kFixture, {}, std::nullopt, 0, "seed", std::nullopt});
    ASSERT_TRUE(seed.ok()) << seed.status().to_string();
    nlohmann::json result = {
        {"status", "ok"}, {"message", ""}, {"fitness", 1.5},
        {"metrics", {{"speedup", 1.5}, {"mean_rel_err", 0.01}, {"index_bytes_per_token", 4}}},
        {"workloads", nlohmann::json::array()}, {"artifacts", {{"compile_log", ""}, {"feedback", ""}}}};
    ASSERT_TRUE((*ar)->record_result(seed->id, result).ok());
    auto child = (*ar)->begin_evaluation({kFixture, {{"BITS", 16}}, seed->id, 0, "tuner", std::nullopt});
    ASSERT_TRUE(child.ok()) << child.status().to_string();
    result["fitness"] = 2.0;
    result["metrics"]["speedup"] = 2.0;
    result["metrics"]["mean_rel_err"] = 0.02;
    ASSERT_TRUE((*ar)->record_result(child->id, result).ok());
    auto r = run_kevo("export " + std::to_string(child->id) + " --format cuda --db " + db + " --out " +
                      tmp.file("pkg") + " --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["name"], "r1_p" + std::to_string(child->id));
    const auto& m = j["metadata"];
    EXPECT_EQ(m["run"], "r1");
    EXPECT_EQ(m["program_id"], child->id);
    EXPECT_EQ(m["params"]["BITS"], 16);
    ASSERT_EQ(m["lineage"].size(), 2u);
    EXPECT_EQ(m["lineage"][0]["id"], child->id);
    EXPECT_DOUBLE_EQ(m["lineage"][0]["fitness"].get<double>(), 2.0);
    EXPECT_EQ(m["lineage"][1]["id"], seed->id);
    EXPECT_EQ(m["lineage"][1]["origin"], "seed");
    EXPECT_DOUBLE_EQ(m["metrics"]["mean_rel_err"].get<double>(), 0.02);
    EXPECT_DOUBLE_EQ(m["tolerance"].get<double>(), 0.05);
    // --run finds the same archive under --runs-dir; an unknown id is one clear line.
    r = run_kevo("export " + std::to_string(seed->id) + " --format torch --runs-dir " +
                 tmp.file("runs") + " --run r1 --out " + tmp.file("pkg2"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    r = run_kevo("export 999 --format cuda --db " + db + " --out " + tmp.file("pkg3"));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("999"), std::string::npos) << r.err;
    // `best` is the run's best program.
    r = run_kevo("export best --format cuda --db " + db + " --out " + tmp.file("pkg4") + " --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["metadata"]["program_id"], child->id);
  }
}

// A file that does not compile is not exported (a syntax error used to build a broken package).
TEST(ExportCli, RefusesWhatDoesNotCompile) {
  TempDir tmp;
  write_file(tmp.file("broken.cu"),
             std::string(kFixture) + "__device__ int oops() { return ; }}\n");
  auto r = run_kevo("export " + tmp.file("broken.cu") + " --format cuda --out " + tmp.file("pkg"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("does not compile for sm_90a (compile_error: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing was exported"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(fs::exists(tmp.file("pkg")));
  TempDir empty_run;
  const std::string db = empty_run.file("r/kevo.db");
  { auto ar = Archive::create(db, RunInfo{"r"}, ArchiveConfig{}); }
  auto none = run_kevo("export best --format cuda --db " + db + " --out " + tmp.file("pkg"));
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("no program evaluated ok yet"), std::string::npos) << none.err;
}

}  // namespace
}  // namespace kevo
