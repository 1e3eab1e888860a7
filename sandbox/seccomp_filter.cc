// The seccomp filter of confined compile workers. A deny list rather than an allow list: NVRTC's
// exact system calls are not documented and change between releases, while what a compiler must
// never do (start processes, talk to the network, touch other processes, change the system,
// write files) is a short, stable list. Landlock (where present) already confines the
// filesystem; the write rules here keep files safe where it is not.
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "sandbox/confine_steps.h"

namespace kevo::sandbox {
namespace {

// Denied outright. Names unknown to this architecture are skipped.
constexpr const char* kDenied[] = {
    // new processes and other processes
    "fork", "vfork", "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev",
    "kcmp", "pidfd_open", "pidfd_getfd", "pidfd_send_signal", "process_madvise", "tkill",
    "unshare", "setns", "move_pages", "migrate_pages",
    // network (every socket family: a compiler needs none)
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    // the system
    "mount", "umount2", "pivot_root", "chroot", "swapon", "swapoff", "acct", "quotactl",
    "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
    "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "syslog", "personality", "iopl", "ioperm",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname",
    "vhangup", "open_by_handle_at", "name_to_handle_at", "lookup_dcookie", "uselib",
    "fanotify_init", "memfd_secret",
    // writing through the filesystem
    "creat", "mkdir", "mkdirat", "unlink", "unlinkat", "rmdir", "rename", "renameat", "renameat2",
    "link", "linkat", "symlink", "symlinkat", "mknod", "mknodat", "chmod", "fchmod", "fchmodat",
    "chown", "fchown", "lchown", "fchownat", "truncate", "utime", "utimes", "utimensat",
    "futimesat", "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr",
    "fremovexattr",
};

struct CtxDeleter {
  void operator()(void* p) const { seccomp_release(static_cast<scmp_filter_ctx>(p)); }
};

Status add(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned count,
           const scmp_arg_cmp* args = nullptr) {
  int rc = seccomp_rule_add_array(ctx, action, nr, count, args);
  if (rc != 0) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    std::string n = name ? name : std::to_string(nr);
    free(name);
    return Status::Internal("seccomp rule for " + n + ": " + std::strerror(-rc));
  }
  return Status::Ok();
}

}  // namespace

Status apply_seccomp_filter() {
  std::unique_ptr<void, CtxDeleter> holder(seccomp_init(SCMP_ACT_ALLOW));
  auto ctx = static_cast<scmp_filter_ctx>(holder.get());
  if (!ctx) return Status::Internal("seccomp_init failed");
  const uint32_t deny = SCMP_ACT_ERRNO(EPERM);
  // Threads are fine (NVRTC may start some); a new process is not.
  if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0) {
    return Status::Internal("seccomp: cannot synchronise the filter to all threads");
  }
  for (const char* name : kDenied) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;
    KEVO_RETURN_IF_ERROR(add(ctx, deny, nr, 0));
  }
  // clone without CLONE_THREAD makes a process; clone3 hides its flags in memory the filter
  // cannot read, so it reports "not implemented" and glibc falls back to clone.
  scmp_arg_cmp no_thread = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0);
  KEVO_RETURN_IF_ERROR(add(ctx, deny, SCMP_SYS(clone), 1, &no_thread));
  KEVO_RETURN_IF_ERROR(add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0));
  // Signals only to this process (abort() and raise() still work).
  const auto self = static_cast<scmp_datum_t>(getpid());
  scmp_arg_cmp other = SCMP_A0(SCMP_CMP_NE, self);
  for (int nr : {SCMP_SYS(kill), SCMP_SYS(tgkill), SCMP_SYS(rt_sigqueueinfo),
                 SCMP_SYS(rt_tgsigqueueinfo)}) {
    KEVO_RETURN_IF_ERROR(add(ctx, deny, nr, 1, &other));
  }
  // Opening for writing, creating or truncating. openat2 hides its flags like clone3.
  for (int bit : {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC}) {
    auto b = static_cast<scmp_datum_t>(bit);
    scmp_arg_cmp open_flags = SCMP_A1(SCMP_CMP_MASKED_EQ, b, b);
    scmp_arg_cmp openat_flags = SCMP_A2(SCMP_CMP_MASKED_EQ, b, b);
    KEVO_RETURN_IF_ERROR(add(ctx, deny, SCMP_SYS(open), 1, &open_flags));
    KEVO_RETURN_IF_ERROR(add(ctx, deny, SCMP_SYS(openat), 1, &openat_flags));
  }
  KEVO_RETURN_IF_ERROR(add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(openat2), 0));
  int rc = seccomp_load(ctx);
  if (rc != 0) return Status::Internal(std::string("seccomp_load: ") + std::strerror(-rc));
  return Status::Ok();
}

}  // namespace kevo::sandbox
