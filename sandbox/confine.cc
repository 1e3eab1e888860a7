#include "sandbox/confine.h"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "sandbox/confine_steps.h"
#include "sandbox/landlock_probe.h"

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

int count_threads() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::atoi(line.c_str() + 8);
  }
  return 1;
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

Result<ConfineReport> confine_this_process(const ConfineSpec& spec) {
  ConfineReport report;
  report.threads = count_threads();
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
#ifndef KEVO_ASAN
  if (spec.memory_mb > 0) {
    auto bytes = static_cast<rlim_t>(spec.memory_mb) << 20;
    KEVO_RETURN_IF_ERROR(set_limit(RLIMIT_AS, "RLIMIT_AS", bytes, bytes));
    report.memory_limited = true;
  }
#endif
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return Status::Internal(std::string("prctl(PR_SET_NO_NEW_PRIVS): ") + std::strerror(errno));
  }
  if (spec.landlock && report.landlock_abi > 0) {
    KEVO_RETURN_IF_ERROR(apply_landlock(spec.read_only_dirs, report.landlock_abi));
    report.landlock_applied = true;
  }
  if (spec.seccomp) {
    KEVO_RETURN_IF_ERROR(apply_seccomp_filter());
    report.seccomp_applied = true;
  }
  return report;
}

}  // namespace kevo::sandbox
