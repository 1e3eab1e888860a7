// The steps of confine_this_process (sandbox/confine.h), one file each. Private to sandbox/.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace kevo::sandbox {

// Landlock at `abi` (> 0): read-only below `read_only_dirs`, nothing else of the filesystem; no
// TCP bind/connect (ABI 4+); no signals or abstract unix sockets out of the domain (ABI 6+).
// Sets PR_SET_NO_NEW_PRIVS. Applies to the calling thread and the threads it creates later.
// `read_exec_files` (single files) may also be read and mapped executable.
Status apply_landlock(const std::vector<std::string>& read_only_dirs,
                      const std::vector<std::string>& read_exec_files, int abi);

// The seccomp deny list (EPERM): new processes, sockets, ptrace and cross-process memory, signals
// to other processes, namespaces, mounts, modules, keyrings, bpf, perf, io_uring, and every call
// that writes through the filesystem. Synchronised to all threads of the process.
Status apply_seccomp_filter();

}  // namespace kevo::sandbox
