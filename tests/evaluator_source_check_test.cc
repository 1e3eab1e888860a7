// Source checks run before NVRTC: every way of reaching a file outside the allow-list is refused
// with the line named, and nothing of the targeted file shows up in the message.
#include <gtest/gtest.h>

#include <filesystem>

#include "evaluator/source_check.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

namespace fs = std::filesystem;

SourceCheckOptions options() {
  SourceCheckOptions o;
  o.include_dirs = {"/usr/local/cuda/include", "/usr/local/cuda/include/cccl"};
  o.task_headers = {"kevo/sparse_decode.cuh", "kevo/attention.cuh"};
  return o;
}

std::string refusal(const std::string& source, const SourceCheckOptions& opt = options()) {
  Status st = check_source(source, opt);
  return st.ok() ? "" : st.message();
}

// Asserts that `source` is refused at `line`, with `what` in the message.
void expect_refused(const std::string& source, int line, const std::string& what) {
  std::string msg = refusal(source);
  std::string prefix = "line " + std::to_string(line) + ": ";
  EXPECT_EQ(msg.substr(0, prefix.size()), prefix) << "source:\n" << source << "\nmessage: " << msg;
  EXPECT_NE(msg.find(what), std::string::npos) << "source:\n" << source << "\nmessage: " << msg;
}

const std::string kHead = "#include \"kevo/sparse_decode.cuh\"\n";

TEST(SourceCheck, AcceptsOrdinaryKernels) {
  const char* src = R"SRC(#include "kevo/sparse_decode.cuh"
#include <kevo/attention.cuh>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda/std/cstdint>
#include <cub/cub.cuh>
#include <cooperative_groups.h>
#include <cooperative_groups/reduce.h>
#include <mma.h>
#include <cuda_pipeline.h>
#include <cuda/barrier>
#pragma once
#pragma unroll 4
#pragma nv_diag_suppress 177
#define TILE 128
#define MAX(a, b) \
  ((a) > (b) ? (a) : (b))
#if defined(TILE) && TILE > 64
#endif
// #include "/etc/hostname" in a comment is just text
/* #include </etc/hostname>
   neither is this */
const char* s = "#include </etc/hostname>";
const char* r = R"x(/* not a comment )" still raw )x";
#include <cuda_fp8.h>
constexpr long big = 1'000'000;
constexpr char q = '"';
extern "C" __global__ void attend(const kevo::Args a) { int domain = 0; (void)domain; }
)SRC";
  EXPECT_EQ(refusal(src), "");
}

TEST(SourceCheck, RefusesIncludesOutsideTheAllowList) {
  expect_refused(kHead + "#include \"/etc/hostname\"\n", 2, "absolute path");
  expect_refused(kHead + "#include </etc/hostname>\n", 2, "absolute path");
  expect_refused(kHead + "#include \"../../../../../../etc/hostname\"\n", 2, "no '..'");
  expect_refused(kHead + "#include <cub/../../../../../etc/hostname>\n", 2, "no '..'");
  expect_refused(kHead + "#include <cuda/./std/cstdint>\n", 2, "plain relative paths");
  expect_refused(kHead + "#include <cub\\cub.cuh>\n", 2, "plain relative paths");
  expect_refused(kHead + "#include \"secret.h\"\n", 2, "outside the allow-list");
  expect_refused(kHead + "#include <stdio.h>\n", 2, "outside the allow-list");
  expect_refused(kHead + "#include <cuda_runtime.h>\n", 2, "outside the allow-list");
  expect_refused(kHead + "#include \"cuda_bf16.h\"\n", 2, "write #include <cuda_bf16.h>");
  expect_refused(kHead + "#include \"kevo/nope.cuh\"\n", 2, "there is no task header");
  expect_refused(kHead + "#include <cub/does_not_exist.cuh>\n", 2, "not in this CUDA toolkit");
  expect_refused(kHead + "#include <cuda_bf16.h> extra\n", 2, "unexpected text");
  expect_refused(kHead + "#include <cuda_bf16.h\n", 2, "never closed");
  expect_refused(kHead + "#include\n", 2, "must name a header directly");
}

TEST(SourceCheck, RefusesMacrosAndProbesAsIncludeTargets) {
  expect_refused(kHead + "#define F \"/etc/hostname\"\n#include F\n", 3, "macros as include targets");
  expect_refused(kHead + "#define F(x) <x>\n#include F(cuda_bf16.h)\n", 3, "macros as include targets");
  expect_refused(kHead + "#if __has_include(\"/etc/hostname\")\n#endif\n", 2, "'__has_include' is not allowed");
  expect_refused(kHead + "#if __has_include_next(<x>)\n#endif\n", 2, "'__has_include_next'");
  expect_refused(kHead + "bool b = __has_embed(\"/etc/hostname\");\n", 2, "'__has_embed'");
  expect_refused(kHead + "#include_next <cuda_bf16.h>\n", 2, "#include_next is not allowed");
  expect_refused(kHead + "#import \"/etc/hostname\"\n", 2, "#import is not allowed");
  expect_refused(kHead + "#embed \"/etc/hostname\"\n", 2, "#embed is not allowed");
  expect_refused(kHead + "#ident \"x\"\n", 2, "not an allowed preprocessor directive");
}

TEST(SourceCheck, RefusesPragmaAndLineTricks) {
  expect_refused(kHead + "#pragma push_macro(\"F\")\n", 2, "#pragma push_macro is not allowed");
  expect_refused(kHead + "#pragma pop_macro(\"F\")\n", 2, "#pragma pop_macro");
  expect_refused(kHead + "#pragma GCC dependency \"/etc/hostname\"\n", 2, "#pragma GCC");
  expect_refused(kHead + "#pragma\n", 2, "empty #pragma");
  expect_refused(kHead + "_Pragma(\"push_macro(\\\"F\\\")\")\n", 2, "'_Pragma' is not allowed");
  expect_refused(kHead + "#line 1 \"other.cu\"\n", 2, "#line is not allowed");
  expect_refused(kHead + "# line 7\n", 2, "#line is not allowed");
}

TEST(SourceCheck, RefusesSplicesCommentsAndAlternativeSpellings) {
  // Splices and comments that make a directive span lines.
  expect_refused(kHead + "#inc\\\nlude \"/etc/hostname\"\n", 2, "continues onto another line");
  expect_refused(kHead + "#include \\\n\"/etc/hostname\"\n", 2, "continues onto another line");
  expect_refused(kHead + "#include /*\n*/ \"/etc/hostname\"\n", 2, "continues onto another line");
  expect_refused(kHead + "#pragma unroll \\\n 4\n", 2, "continues onto another line");
  // A comment before the '#' still leaves a directive (the comment is one space).
  expect_refused(kHead + "/* x */ #include \"/etc/hostname\"\n", 2, "absolute path");
  expect_refused(kHead + "/* x\n y */ #include \"/etc/hostname\"\n", 3, "absolute path");
  // A line comment ending in a splice swallows the next line in the compiler too: not a
  // directive, so accepted; a backslash with trailing spaces is ambiguous and refused.
  EXPECT_EQ(refusal(kHead + "// note \\\n#include \"/etc/hostname\"\n"), "");
  expect_refused(kHead + "// note \\ \n#include \"/etc/hostname\"\n", 2, "backslash followed by spaces");
  expect_refused(kHead + "int x = 1; \\\r\n", 2, "backslash followed by spaces or a carriage return");
  expect_refused(kHead + "?\?=include \"/etc/hostname\"\n", 2, "trigraph '?\?='");
  expect_refused(kHead + "const char* s = \"?\?/\";\n", 2, "trigraph");
  expect_refused(kHead + "%:include \"/etc/hostname\"\n", 2, "digraph of '#'");
  expect_refused(kHead + "%:%:\n", 2, "digraph of '#'");
  expect_refused(kHead + "\\u0023include \"/etc/hostname\"\n", 2, "backslash outside a string");
  expect_refused(kHead + "int x;\rint y;\n", 2, "carriage return not followed by a line feed");
  expect_refused(kHead + std::string("int x;\0\n", 8), 2, "NUL byte");
  expect_refused(kHead + "int caf\xc3\xa9 = 1;\n", 2, "non-ASCII");
  expect_refused(kHead + "/* never closed\n", 2, "never closed");
  // CRLF line endings are fine when nothing else is odd.
  EXPECT_EQ(refusal(kHead + "int x;\r\nint y;\r\n"), "");
}

TEST(SourceCheck, LexesRawStringsLikeTheCompiler) {
  // A naive scanner would see "x(" as a string and then '/*' opening a comment that hides the
  // include on the next line; the compiler sees a raw string ending at )x".
  expect_refused(kHead + "const char* s = R\"x(\" /* )x\";\n#include </etc/hostname>\n*/\n", 3, "absolute path");
  expect_refused(kHead + "const char* s = u8R\"(\" /* )\";\n#include </etc/hostname>\n*/\n", 3, "absolute path");
  // Digit separators are not character literals: read as one, "'2 + '" would leave '/*' open.
  expect_refused(kHead + "int n = 1'2 + '/*';\n#include </etc/hostname>\n// */\n", 3, "absolute path");
  expect_refused(kHead + "const char* s = R\"(a\\\nb)\";\n", 2, "inside a raw string literal");
  expect_refused(kHead + "const char* s = R\"(never closed\n", 2, "raw string literal that is never closed");
}

TEST(SourceCheck, RefusesHostCode) {
  expect_refused(kHead + "int main() { return 0; }\n", 2, "host code is not allowed");
  expect_refused(kHead + "int main (int argc, char** argv);\n", 2, "host code");
  EXPECT_EQ(refusal(kHead + "__device__ int main_index = 0;\n"), "");
}

TEST(SourceCheck, RefusesSymlinkedHeadersAndKeepsTheirBytesOut) {
  testing::TempDir tmp;
  const std::string secret = "KEVO-SECRET-5f0c2a9e-do-not-leak";
  testing::write_file(tmp.file("outside/secret.txt"), secret + "\n");
  fs::create_directories(tmp.file("include/cub"));
  fs::create_symlink(tmp.file("outside/secret.txt"), tmp.file("include/cub/evil.cuh"));
  fs::create_symlink(tmp.file("outside"), tmp.file("include/cuda"));
  testing::write_file(tmp.file("include/cub/fine.cuh"), "#pragma once\n");
  SourceCheckOptions opt = options();
  opt.include_dirs = {tmp.file("include")};

  std::string via_file = refusal(kHead + "#include <cub/evil.cuh>\n", opt);
  EXPECT_EQ(via_file.substr(0, 8), "line 2: ");
  EXPECT_NE(via_file.find("does not resolve to a regular file inside the CUDA include folder"), std::string::npos) << via_file;
  std::string via_dir = refusal(kHead + "#include <cuda/secret.txt>\n", opt);
  EXPECT_NE(via_dir.find("does not resolve"), std::string::npos) << via_dir;
  EXPECT_EQ(refusal(kHead + "#include <cub/fine.cuh>\n", opt), "");
  for (const auto& msg : {via_file, via_dir}) EXPECT_EQ(msg.find(secret), std::string::npos);

  // Absolute and climbing paths to the same file: refused before anything opens it.
  std::string climb = "../../../../../../../../../.." + fs::canonical(tmp.file("outside/secret.txt")).string();
  for (const std::string& target : {fs::canonical(tmp.file("outside/secret.txt")).string(), climb}) {
    std::string msg = refusal(kHead + "#include \"" + target + "\"\n", opt);
    EXPECT_EQ(msg.substr(0, 8), "line 2: ") << msg;
    EXPECT_EQ(msg.find(secret), std::string::npos);
  }
  std::string hostname = testing::read_file("/etc/hostname");
  while (!hostname.empty() && (hostname.back() == '\n' || hostname.back() == ' ')) hostname.pop_back();
  std::string msg = refusal(kHead + "#include </etc/hostname>\n");
  ASSERT_FALSE(msg.empty());
  if (hostname.size() >= 2) {
    EXPECT_EQ(msg.find(hostname), std::string::npos) << msg;
  }
}

TEST(SourceCheck, AllowListNames) {
  EXPECT_TRUE(is_allowed_cuda_header("cuda_bf16.h"));
  EXPECT_TRUE(is_allowed_cuda_header("cuda/std/cstdint"));
  EXPECT_TRUE(is_allowed_cuda_header("cub/block/block_reduce.cuh"));
  EXPECT_TRUE(is_allowed_cuda_header("cooperative_groups/reduce.h"));
  EXPECT_FALSE(is_allowed_cuda_header("cuda/"));
  EXPECT_FALSE(is_allowed_cuda_header("cuda_runtime.h"));
  EXPECT_FALSE(is_allowed_cuda_header("thrust/sort.h"));
  EXPECT_FALSE(is_allowed_cuda_header("stdio.h"));
}

}  // namespace
}  // namespace kevo
