// Landlock: filesystem read-only below a few folders, no TCP, no signals out of the domain. The
// kernel ABI grew over time (v2 refer, v3 truncate, v4 TCP, v5 device ioctl, v6 scoping), so the
// handled rights are chosen from the running kernel's ABI; constants missing from older kernel
// headers are spelled out here (values from include/uapi/linux/landlock.h, Linux 6.12).
#include "sandbox/confine_steps.h"

#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "sandbox/sandbox.h"

namespace kevo::sandbox {
namespace {

// The full ruleset attribute as of ABI 6; older kernels take a prefix of it.
struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};

struct PathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__((packed));

constexpr uint64_t kFsV1 = (1ULL << 13) - 1;  // EXECUTE .. MAKE_SYM
constexpr uint64_t kFsRefer = 1ULL << 13;     // v2
constexpr uint64_t kFsTruncate = 1ULL << 14;  // v3
constexpr uint64_t kFsIoctlDev = 1ULL << 15;  // v5
constexpr uint64_t kNetBindTcp = 1ULL << 0;   // v4
constexpr uint64_t kNetConnectTcp = 1ULL << 1;
constexpr uint64_t kScopeAbstractUnix = 1ULL << 0;  // v6
constexpr uint64_t kScopeSignal = 1ULL << 1;
constexpr uint64_t kExecute = 1ULL << 0;
constexpr uint64_t kReadFile = 1ULL << 2;
constexpr uint64_t kReadDir = 1ULL << 3;
constexpr int kRulePathBeneath = 1;

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

Status apply_landlock(const std::vector<std::string>& read_only_dirs,
                      const std::vector<std::string>& read_exec_files, int abi) {
  if (abi <= 0) return Status::Unavailable("Landlock is not available in this kernel");
  RulesetAttr attr{};
  attr.handled_access_fs = kFsV1;
  if (abi >= 2) attr.handled_access_fs |= kFsRefer;
  if (abi >= 3) attr.handled_access_fs |= kFsTruncate;
  if (abi >= 5) attr.handled_access_fs |= kFsIoctlDev;
  size_t size = sizeof(uint64_t);
  if (abi >= 4) {
    attr.handled_access_net = kNetBindTcp | kNetConnectTcp;
    size = 2 * sizeof(uint64_t);
  }
  if (abi >= 6) {
    attr.scoped = kScopeAbstractUnix | kScopeSignal;
    size = sizeof(RulesetAttr);
  }
  int ruleset = static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, size, 0));
  if (ruleset < 0) return Status::Internal(errno_text("landlock_create_ruleset"));

  auto add_rule = [&](const std::string& path, uint64_t access, int flags) {
    int fd = open(path.c_str(), O_PATH | O_CLOEXEC | flags);
    if (fd < 0) return Status::NotFound(errno_text(("open " + path).c_str()));
    PathBeneathAttr rule{access, fd};
    long rc = syscall(SYS_landlock_add_rule, ruleset, kRulePathBeneath, &rule, 0);
    close(fd);
    if (rc != 0) return Status::Internal(errno_text(("landlock_add_rule " + path).c_str()));
    return Status::Ok();
  };
  Status st;
  for (const auto& dir : read_only_dirs) {
    if (st.ok()) st = add_rule(dir, kReadFile | kReadDir, O_DIRECTORY);
  }
  for (const auto& file : read_exec_files) {
    // A folder named here (the fallback of nvrtc_lazy_libraries) gets its listing too.
    struct stat sb {};
    bool dir = stat(file.c_str(), &sb) == 0 && S_ISDIR(sb.st_mode);
    if (st.ok()) st = add_rule(file, kReadFile | kExecute | (dir ? kReadDir : 0), 0);
  }
  if (st.ok() && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    st = Status::Internal(errno_text("prctl(PR_SET_NO_NEW_PRIVS)"));
  }
  if (st.ok() && syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) {
    st = Status::Internal(errno_text("landlock_restrict_self"));
  }
  close(ruleset);
  return st;
}

}  // namespace kevo::sandbox
