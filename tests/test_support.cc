#include "tests/test_support.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "evaluator/cuda_driver.h"

namespace kevo::testing {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "kevo-test-XXXXXX").string();
  char* made = mkdtemp(tmpl.data());
  if (!made) throw std::runtime_error("mkdtemp failed");
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string gpu_unavailable_reason() {
  auto d = cuda_driver();
  return d.ok() ? std::string() : d.status().message();
}

// Environment overrides let the bundled tests run on the GPU machine, where the checkout lives
// elsewhere (scripts/gpu_suite.sh sets both).
std::string source_dir() {
  const char* env = std::getenv("KEVO_SOURCE_DIR");
  return env && *env ? env : KEVO_SOURCE_DIR;
}
std::string kevo_binary() {
  const char* env = std::getenv("KEVO_BINARY");
  return env && *env ? env : std::string(KEVO_BINARY_DIR) + "/kevo";
}

void write_file(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CommandResult run_kevo(const std::string& args) {
  TempDir tmp;
  std::string cmd = kevo_binary() + " " + args + " >" + tmp.file("out") + " 2>" + tmp.file("err");
  int rc = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = read_file(tmp.file("out"));
  r.err = read_file(tmp.file("err"));
  return r;
}

}  // namespace kevo::testing
