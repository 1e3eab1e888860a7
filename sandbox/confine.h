// Confinement of the calling process (private to sandbox/; tests use it directly). Applied by a
// compile worker after it has loaded everything it needs (NVRTC and its builtins library) and
// before it reads any candidate text. Every step is one-way: nothing here can be undone by the
// process itself, so a compromised compiler stays inside.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace kevo::sandbox {

struct ConfineSpec {
  // Folders the process may still read (files and listings below them); nothing else of the
  // filesystem can be opened, and nothing at all can be written, created or removed.
  std::vector<std::string> read_only_dirs;
  // Single files the process may read and map as code: libraries it loads lazily after
  // confinement (NVRTC's builtins library, see nvrtc_lazy_libraries()).
  std::vector<std::string> read_exec_files;
  // RLIMIT_CPU hard limit: the most CPU seconds this process may ever use. The compile worker
  // lowers the soft limit per job (see set_cpu_soft_limit); 0 = leave unlimited.
  long cpu_hard_s = 0;
  // Address space the process may map beyond what it has mapped when confined, in MiB (see
  // limit_address_space); 0 = no limit here.
  long memory_mb = 0;
  // RLIMIT_NOFILE: NVRTC keeps a few headers open at once while it walks an include chain.
  long max_open_files = 64;
  // Whether to install the seccomp filter (tests turn it off to see Landlock alone).
  bool seccomp = true;
  bool landlock = true;
};

struct ConfineReport {
  int landlock_abi = 0;         // 0 when the kernel has no Landlock (seccomp and rlimits still apply)
  bool landlock_applied = false;
  bool seccomp_applied = false;
  bool memory_limited = false;  // false under AddressSanitizer or with memory_mb = 0
  int threads = 1;              // threads alive when confined (Landlock covers only the caller)
};

// rlimits (CPU, AS, NOFILE, CORE=0, FSIZE=0), PR_SET_NO_NEW_PRIVS, Landlock (filesystem read-only
// below read_only_dirs, no TCP bind/connect, no signals or abstract sockets outside the domain),
// then a seccomp filter: no new processes, no sockets, no ptrace, no mounts/namespaces/modules/
// keyrings/bpf, no writes through the filesystem; denied calls fail with EPERM. The process should
// be single-threaded: Landlock applies to the calling thread and threads it creates later.
// Errors leave the process partly confined; the caller must exit rather than go on.
Result<ConfineReport> confine_this_process(const ConfineSpec& spec);

// Lets the process use `seconds` more CPU time (soft RLIMIT_CPU = used + seconds, capped at the
// hard limit): past it the kernel sends SIGXCPU, which ends the process.
Status set_cpu_soft_limit(double seconds);

// What NVRTC's first compile loads: libnvrtc-builtins.so.X.Y beside the loaded libnvrtc (or that
// folder when the file cannot be named) and the dynamic loader's cache it is found through.
std::vector<std::string> nvrtc_lazy_libraries();
double cpu_seconds_used();  // user + system time of this process so far

// RLIMIT_AS = what is mapped now + `memory_mb`. Apply after the process has loaded and warmed up
// what it needs (that can reserve gigabytes of address space on a large host) and before it reads
// untrusted input. False (and no limit) under AddressSanitizer, whose shadow memory needs
// terabytes of address space.
Result<bool> limit_address_space(long memory_mb);
int thread_count();             // threads of this process now
long address_space_limit_mb();  // RLIMIT_AS in MiB, -1 when unlimited

}  // namespace kevo::sandbox
