#include "sandbox/confine.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <nvrtc.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "sandbox/confine_steps.h"
#include "sandbox/sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define KEVO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KEVO_ASAN 1
#endif
#endif

namespace kevo::sandbox {
namespace {

Status set_limit(int resource, const char* name, rlim_t soft, rlim_t hard) {
  rlimit lim{soft, hard};
  if (setrlimit(resource, &lim) != 0) {
    return Status::Internal(std::string("setrlimit(") + name + "): " + std::strerror(errno));
  }
  return Status::Ok();
}

// A field of /proc/self/status ("Threads:", "VmSize:" in kB); -1 when absent. The file stays
// open from the first call of the process (made before confinement): Landlock refuses to open it afterwards,
// while reading an open procfs file from offset 0 regenerates its content.
long status_field(const char* name) {
  static int fd = -1;
  static pid_t owner = 0;
  if (owner != getpid()) {  // first call, or a forked child holding its parent's file
    if (fd >= 0) close(fd);
    fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    owner = getpid();
  }
  if (fd < 0) return -1;
  char buf[8192];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return -1;
  buf[n] = '\0';
  std::string text(buf);
  size_t at = text.find(std::string("\n") + name);
  if (at == std::string::npos) return -1;
  return std::atol(text.c_str() + at + 1 + std::strlen(name));
}

}  // namespace

double cpu_seconds_used() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

Status set_cpu_soft_limit(double seconds) {
  rlimit lim{};
  if (getrlimit(RLIMIT_CPU, &lim) != 0) return Status::Internal("getrlimit(RLIMIT_CPU) failed");
  auto want = static_cast<rlim_t>(std::ceil(cpu_seconds_used() + seconds));
  if (lim.rlim_max != RLIM_INFINITY && want > lim.rlim_max) want = lim.rlim_max;
  return set_limit(RLIMIT_CPU, "RLIMIT_CPU", want, lim.rlim_max);
}

std::vector<std::string> nvrtc_lazy_libraries() {
  void* sym = dlsym(RTLD_DEFAULT, "nvrtcVersion");
  Dl_info info{};
  if (!sym || !dladdr(sym, &info) || !info.dli_fname) return {};
  std::string lib = info.dli_fname;
  std::string dir = lib.substr(0, lib.rfind('/'));
  int major = 0, minor = 0;
  nvrtcVersion(&major, &minor);
  std::string builtins = dir + "/libnvrtc-builtins.so." + std::to_string(major) + "." + std::to_string(minor);
  // NVRTC dlopens the library by name: the loader finds it through its cache, like any library
  // (the cache lists library folders, nothing private).
  std::vector<std::string> out;
  if (access("/etc/ld.so.cache", R_OK) == 0) out.push_back("/etc/ld.so.cache");
  out.push_back(access(builtins.c_str(), R_OK) == 0 ? builtins : dir);
  return out;
}

long address_space_limit_mb() {
  rlimit lim{};
  if (getrlimit(RLIMIT_AS, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return -1;
  return static_cast<long>(lim.rlim_cur >> 20);
}

int thread_count() { return static_cast<int>(status_field("Threads:")); }

Result<bool> limit_address_space(long memory_mb) {
#ifdef KEVO_ASAN
  (void)memory_mb;
  return false;
#else
  // On top of what is mapped already: NVRTC and the C++ runtime reserve address space in
  // proportion to the machine (thread stacks, malloc arenas; 12 GiB on a 16-core H100 host),
  // little of it ever touched. The limit is on what a compile may add.
  long base_mb = std::max(0L, status_field("VmSize:") / 1024);
  auto bytes = static_cast<rlim_t>(base_mb + memory_mb) << 20;
  KEVO_RETURN_IF_ERROR(set_limit(RLIMIT_AS, "RLIMIT_AS", bytes, bytes));
  return true;
#endif
}

Result<ConfineReport> confine_this_process(const ConfineSpec& spec) {
  ConfineReport report;
  report.threads = static_cast<int>(status_field("Threads:"));
  report.landlock_abi = landlock_abi_version();

  // Limits first: they hold whatever happens after.
  KEVO_RETURN_IF_ERROR(set_limit(RLIMIT_CORE, "RLIMIT_CORE", 0, 0));
  KEVO_RETURN_IF_ERROR(set_limit(RLIMIT_FSIZE, "RLIMIT_FSIZE", 0, 0));
  auto nofile = static_cast<rlim_t>(spec.max_open_files);
  KEVO_RETURN_IF_ERROR(set_limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", nofile, nofile));
  if (spec.cpu_hard_s > 0) {
    auto cpu = static_cast<rlim_t>(std::ceil(cpu_seconds_used())) + spec.cpu_hard_s;
    KEVO_RETURN_IF_ERROR(set_limit(RLIMIT_CPU, "RLIMIT_CPU", cpu, cpu));
  }
  if (spec.memory_mb > 0) {
    KEVO_ASSIGN_OR_RETURN(report.memory_limited, limit_address_space(spec.memory_mb));
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return Status::Internal(std::string("prctl(PR_SET_NO_NEW_PRIVS): ") + std::strerror(errno));
  }
  if (spec.landlock && report.landlock_abi > 0) {
    KEVO_RETURN_IF_ERROR(apply_landlock(spec.read_only_dirs, spec.read_exec_files, report.landlock_abi));
    report.landlock_applied = true;
  }
  if (spec.seccomp) {
    KEVO_RETURN_IF_ERROR(apply_seccomp_filter());
    report.seccomp_applied = true;
  }
  return report;
}

}  // namespace kevo::sandbox
