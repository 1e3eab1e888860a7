// The device API reference (evaluator/device_api.h) against the headers it describes, read here
// by a second, independent scan: every public function and struct of evaluator/device/kevo/ is
// in the reference with a contract, nothing in the reference is missing from the headers, the
// embedded headers are the ones in the checkout, and every kevo helper a seed calls is public.
#include "evaluator/device_api.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "evaluator/device_headers.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

namespace fs = std::filesystem;
using testing::read_file;
using testing::source_dir;

struct Declared {
  std::set<std::string> public_names;  // functions and structs at namespace level
  std::set<std::string> all_names;     // detail included
};

// Names declared at namespace level (no indentation) in one header, with `namespace detail`
// regions told apart by counting braces.
void scan_header(const std::string& text, Declared& out) {
  static const std::regex function(R"(^(?:template\s*<.*>\s*)?(?:__host__\s+)?__device__[\w\s:<>,*&]*?\b(\w+)\s*\()");
  static const std::regex structure(R"(^(?:template\s*<.*>\s*)?struct\s+(\w+))");
  int depth = 0, detail_depth = -1;
  std::string pending_template;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::string code = line.substr(0, line.find("//"));
    if (code.rfind("namespace detail", 0) == 0) detail_depth = depth;
    std::smatch m;
    std::string probe = pending_template + code;
    pending_template = (code.rfind("template", 0) == 0 && code.find('{') == std::string::npos &&
                        code.find(';') == std::string::npos && code.find('(') == std::string::npos)
                           ? code + " "
                           : "";
    if (depth == 1 && (std::regex_search(probe, m, function) || std::regex_search(probe, m, structure))) {
      out.all_names.insert(m[1]);
      if (detail_depth < 0) out.public_names.insert(m[1]);
    }
    for (char c : code) {
      if (c == '{') ++depth;
      if (c == '}' && --depth == detail_depth) detail_depth = -1;
    }
  }
}

Declared scan_all_headers() {
  Declared d;
  for (const auto& e : fs::directory_iterator(source_dir() + "/evaluator/device/kevo")) {
    scan_header(read_file(e.path().string()), d);
  }
  return d;
}

// The name a reference signature declares: the identifier before "(" or after "struct".
std::string declared_name(const std::string& sig) {
  static const std::regex fn(R"((\w+)\s*\()");
  static const std::regex st(R"(struct\s+(\w+))");
  static const std::regex var(R"((\w+)\s*(?:=|\[|$))");
  std::smatch m;
  if (std::regex_search(sig, m, st)) return m[1];
  if (sig.rfind("#define", 0) == 0) {
    std::regex_search(sig, m, std::regex(R"(#define\s+(\w+))"));
    return m[1];
  }
  if (std::regex_search(sig, m, fn)) return m[1];
  if (std::regex_search(sig, m, var)) return m[1];
  return "";
}

TEST(DeviceApi, EmbeddedHeadersAreTheCheckoutsHeaders) {
  int n = 0;
  for (const auto& f : embedded_device_headers()) {
    std::string path = source_dir() + "/evaluator/device/" + std::string(f.path);
    ASSERT_TRUE(fs::exists(path)) << path;
    EXPECT_EQ(read_file(path), std::string(f.contents)) << f.path << " changed since the build";
    ++n;
  }
  EXPECT_GE(n, 2);
}

TEST(DeviceApi, EveryPublicDeclarationIsInTheReferenceWithAContract) {
  Declared d = scan_all_headers();
  ASSERT_GE(d.public_names.size(), 20u) << "the scan found too little: is it broken?";
  std::map<std::string, const DeviceApiEntry*> by_name;
  for (const auto& e : device_api_entries()) {
    if (e.owner.empty()) by_name[declared_name(e.signature)] = &e;
  }
  const std::string& ref = device_api_reference();
  for (const std::string& name : d.public_names) {
    auto it = by_name.find(name);
    ASSERT_NE(it, by_name.end()) << name << " is declared in a header but missing from the reference";
    EXPECT_FALSE(it->second->contract.empty())
        << it->second->header << ":" << it->second->line << " " << name
        << " has no contract: write a // comment directly above it";
    EXPECT_NE(ref.find(it->second->signature), std::string::npos) << name;
  }
}

TEST(DeviceApi, EveryReferenceEntryExistsInItsHeader) {
  std::map<std::string, std::string> text;
  for (const auto& f : embedded_device_headers()) text[std::string(f.path)] = std::string(f.contents);
  ASSERT_FALSE(device_api_entries().empty());
  for (const auto& e : device_api_entries()) {
    std::string name = declared_name(e.signature);
    ASSERT_FALSE(name.empty()) << e.signature;
    EXPECT_NE(text[e.header].find(name), std::string::npos) << e.header << ": " << e.signature;
    EXPECT_EQ(e.signature.find('{'), std::string::npos) << "a body leaked into " << e.signature;
  }
}

TEST(DeviceApi, DetailIsLeftOut) {
  auto entries = parse_device_api("kevo/x.cuh",
                                  "namespace kevo {\n"
                                  "namespace detail {\n"
                                  "// hidden\n"
                                  "__device__ int secret() { return 1; }\n"
                                  "}  // namespace detail\n"
                                  "// Doubles x.\n"
                                  "__device__ __forceinline__ int twice(int x) {\n"
                                  "  return 2 * x;\n"
                                  "}\n"
                                  "// A pair.\n"
                                  "struct Pair {\n"
                                  "  int a;  // the first\n"
                                  "  // Their sum.\n"
                                  "  __device__ int sum() const { return a; }\n"
                                  "};\n"
                                  "}  // namespace kevo\n");
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].signature, "int twice(int x)");
  EXPECT_EQ(entries[0].contract, "Doubles x.");
  EXPECT_EQ(entries[1].signature, "struct Pair");
  EXPECT_EQ(entries[2].signature, "int a");
  EXPECT_EQ(entries[2].contract, "the first");
  EXPECT_EQ(entries[2].owner, "Pair");
  EXPECT_EQ(entries[3].signature, "int sum() const");
  EXPECT_EQ(entries[3].contract, "Their sum.");
}

TEST(DeviceApi, SeedsCallOnlyPublicHelpers) {
  Declared d = scan_all_headers();
  static const std::regex ident(R"(\b([A-Za-z_]\w*)\b)");
  for (const auto& e : fs::directory_iterator(source_dir() + "/seeds")) {
    if (e.path().extension() != ".cu") continue;
    std::string text = read_file(e.path().string());
    for (auto it = std::sregex_iterator(text.begin(), text.end(), ident); it != std::sregex_iterator(); ++it) {
      std::string name = (*it)[1];
      if (d.all_names.count(name)) {
        EXPECT_TRUE(d.public_names.count(name))
            << e.path().filename() << " calls " << name << ", which is private (namespace detail)";
      }
    }
  }
}

}  // namespace
}  // namespace kevo
