#include "common/paths.h"

#include <filesystem>
#include <vector>

#ifndef KEVO_SOURCE_DIR
#define KEVO_SOURCE_DIR ""
#endif

namespace kevo {
namespace fs = std::filesystem;

std::string self_executable() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : p.string();
}

static bool looks_like_root(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p / "seeds", ec) && fs::is_directory(p / "configs", ec);
}

static std::vector<fs::path> candidates() {
  std::vector<fs::path> out;
  if (const char* home = std::getenv("KEVO_HOME"); home && *home) out.emplace_back(home);
  fs::path exe = self_executable();
  fs::path dir = exe.parent_path();
  for (int i = 0; i < 4 && !dir.empty(); ++i) {
    out.push_back(dir);
    out.push_back(dir / "share" / "kevo");
    dir = dir.parent_path();
  }
  if (std::string(KEVO_SOURCE_DIR).size()) out.emplace_back(KEVO_SOURCE_DIR);
  return out;
}

Result<std::string> data_root() {
  auto list = candidates();
  for (const auto& c : list) {
    if (looks_like_root(c)) return fs::weakly_canonical(c).string();
  }
  std::string tried;
  for (const auto& c : list) tried += (tried.empty() ? "" : ", ") + c.string();
  return Status::NotFound("kevo's data folders (seeds/, configs/) were not found; set KEVO_HOME "
                          "to the kevo checkout or bundle (looked in: " + tried + ")");
}

Result<std::string> data_path(const std::string& relative) {
  KEVO_ASSIGN_OR_RETURN(std::string root, data_root());
  return (fs::path(root) / relative).string();
}

}  // namespace kevo
