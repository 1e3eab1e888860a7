// Shared helpers for the test suites: temporary folders, the built `kevo` binary, and the GPU
// gate. GPU tests call KEVO_REQUIRE_GPU() first: on a machine without one they skip with the
// reason visible in the test output.
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace kevo::testing {

// A fresh folder under $TMPDIR, removed (with its contents) when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Empty when a GPU is usable, else why not ("no NVIDIA driver: ...").
std::string gpu_unavailable_reason();

std::string source_dir();       // the kevo checkout
std::string kevo_binary();      // <build>/kevo
void write_file(const std::string& path, const std::string& text);
std::string read_file(const std::string& path);

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs `kevo <args>` (args are shell words, already quoted as needed).
CommandResult run_kevo(const std::string& args);

}  // namespace kevo::testing

#define KEVO_REQUIRE_GPU()                                                       \
  do {                                                                           \
    std::string kevo_why_ = ::kevo::testing::gpu_unavailable_reason();          \
    if (!kevo_why_.empty()) GTEST_SKIP() << "needs a GPU: " << kevo_why_;        \
  } while (0)
