// The confinement itself (sandbox/confine.h), applied in a forked child that then tries what a
// compromised compiler would: read files, write files, open sockets, start processes, signal or
// trace its parent, compile a source that includes outside files. Each attempt must fail with
// EPERM or EACCES, while what a compile worker needs (the CUDA headers, threads, NVRTC) still works.
#include <fcntl.h>
#include <nvrtc.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include "sandbox/confine.h"
#include "sandbox/sandbox.h"
#include "tests/sandbox_test_support.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

using sandbox::ConfineSpec;

const char* kInclude = "/usr/local/cuda/include";

struct ChildResult {
  int exit_code = -1;  // -1 when killed
  int signal = 0;
  std::string text;    // what the child wrote
};

// Forks; the child runs `before` (unconfined: warm-up), confines itself with `spec`, runs `after`
// and sends back its text. The child never returns into gtest.
ChildResult run_confined(const ConfineSpec& spec, const std::function<std::string()>& after,
                         const std::function<void()>& before = {}) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (before) before();
    auto report = sandbox::confine_this_process(spec);
    std::string text = report.ok() ? after() : "confine failed: " + report.status().message();
    (void)!write(fds[1], text.data(), text.size());
    _exit(report.ok() ? 0 : 99);
  }
  close(fds[1]);
  ChildResult r;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) r.text.append(buf, n);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

std::string errno_name(int e) {
  switch (e) {
    case 0: return "OK";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOSYS: return "ENOSYS";
    default: return "errno " + std::to_string(e);
  }
}

// "OK" when the call returned >= 0, else the errno's name.
std::string attempt(long rc) { return rc >= 0 ? "OK" : errno_name(errno); }

ConfineSpec default_spec() {
  ConfineSpec spec;
  spec.read_only_dirs = {kInclude};
  spec.cpu_hard_s = 60;
  spec.memory_mb = 2048;
  return spec;
}

bool has_landlock() { return landlock_abi_version() > 0; }

TEST(SandboxConfine, CudaHeadersStayReadableAndThreadsWork) {
  auto r = run_confined(default_spec(), [] {
    std::string out = attempt(open("/usr/local/cuda/include/cuda.h", O_RDONLY));
    bool ran = false;
    std::thread t([&] { ran = true; });
    t.join();
    return out + (ran ? " thread" : " no-thread");
  });
  EXPECT_EQ(r.exit_code, 0) << r.text;
  EXPECT_EQ(r.text, "OK thread");
}

TEST(SandboxConfine, OutsideFilesCannotBeOpened) {
  if (!has_landlock()) GTEST_SKIP() << "Landlock is not available in this kernel";
  testing::TempDir tmp;
  testing::write_file(tmp.file("secret.txt"), "secret");
  std::string secret = tmp.file("secret.txt");
  auto r = run_confined(default_spec(), [&] {
    return attempt(open("/etc/passwd", O_RDONLY)) + " " + attempt(open("/etc/hostname", O_RDONLY)) +
           " " + attempt(open(secret.c_str(), O_RDONLY)) + " " +
           attempt(open("/bin/sh", O_RDONLY));
  });
  EXPECT_EQ(r.text, "EACCES EACCES EACCES EACCES");
}

TEST(SandboxConfine, NothingCanBeWrittenOrCreated) {
  testing::TempDir tmp;
  testing::write_file(tmp.file("existing.txt"), "keep");
  std::string fresh = tmp.file("fresh.txt"), existing = tmp.file("existing.txt");
  std::string dir = tmp.file("newdir");
  auto r = run_confined(default_spec(), [&] {
    return attempt(open(fresh.c_str(), O_CREAT | O_WRONLY, 0600)) + " " +
           attempt(open(existing.c_str(), O_WRONLY | O_TRUNC)) + " " +
           attempt(mkdir(dir.c_str(), 0700)) + " " + attempt(unlink(existing.c_str()));
  });
  for (const char* word : {"OK"}) EXPECT_EQ(r.text.find(word), std::string::npos) << r.text;
  EXPECT_EQ(access(fresh.c_str(), F_OK), -1);
  EXPECT_EQ(access(dir.c_str(), F_OK), -1);
  EXPECT_EQ(testing::read_file(existing), "keep");
}

TEST(SandboxConfine, NoSocketsOfAnyFamily) {
  auto r = run_confined(default_spec(), [] {
    int pair[2];
    return attempt(socket(AF_INET, SOCK_STREAM, 0)) + " " + attempt(socket(AF_INET6, SOCK_DGRAM, 0)) +
           " " + attempt(socket(AF_UNIX, SOCK_STREAM, 0)) + " " +
           attempt(socket(AF_NETLINK, SOCK_RAW, 0)) + " " +
           attempt(socketpair(AF_UNIX, SOCK_STREAM, 0, pair));
  });
  EXPECT_EQ(r.text, "EPERM EPERM EPERM EPERM EPERM");
}

TEST(SandboxConfine, NoNewProcesses) {
  auto r = run_confined(default_spec(), [] {
    std::string out = attempt(syscall(SYS_fork));
    out += " " + attempt(syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
    char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
    out += " " + attempt(execve("/bin/true", argv, environ));
    // glibc's fork() goes through clone(SIGCHLD): the call user code would make.
    pid_t p = fork();
    if (p == 0) _exit(0);
    out += " " + attempt(p);
    return out;
  });
  EXPECT_EQ(r.text, "EPERM EPERM EPERM EPERM");
}

TEST(SandboxConfine, ParentCannotBeTracedOrSignalled) {
  pid_t parent = getpid();
  auto r = run_confined(default_spec(), [parent] {
    return attempt(ptrace(PTRACE_ATTACH, parent, nullptr, nullptr)) + " " +
           attempt(kill(parent, 0)) + " " + attempt(kill(-1, 0)) + " " + attempt(kill(getpid(), 0));
  });
  EXPECT_EQ(r.text, "EPERM EPERM EPERM OK");
}

TEST(SandboxConfine, MemoryLimitStopsLargeAllocations) {
  if (testing::sandbox_under_asan()) GTEST_SKIP() << "AddressSanitizer needs unlimited address space";
  ConfineSpec spec = default_spec();
  spec.memory_mb = 512;
  auto r = run_confined(spec, [] {
    void* p = malloc(size_t{1} << 30);
    return std::string(p ? "allocated" : "refused");
  });
  EXPECT_EQ(r.text, "refused");
}

TEST(SandboxConfine, CpuLimitEndsABusyProcess) {
  ConfineSpec spec = default_spec();
  auto r = run_confined(spec, [] {
    (void)sandbox::set_cpu_soft_limit(1);
    volatile unsigned long x = 0;
    for (;;) x = x + 1;
    return std::string("finished");
  });
  EXPECT_EQ(r.signal, SIGXCPU) << r.text;
}

// NVRTC inside the confinement, given sources the include allow-list would refuse: Landlock is
// the second wall. The compile must fail and its log must hold no byte of the outside files.
TEST(SandboxConfine, NvrtcCannotReadOutsideFiles) {
  if (!has_landlock()) GTEST_SKIP() << "Landlock is not available in this kernel";
  testing::TempDir tmp;
  const std::string marker = "kevo_secret_marker_5f0c2e";
  testing::write_file(tmp.file("secret.h"), marker + "\n");
  symlink("/etc/hostname", tmp.file("link.h").c_str());
  std::string hostname = testing::read_file("/etc/hostname");
  std::string secret = tmp.file("secret.h"), link = tmp.file("link.h");
  auto compile = [](const std::string& src) {
    nvrtcProgram prog;
    nvrtcCreateProgram(&prog, src.c_str(), "candidate.cu", 0, nullptr, nullptr);
    std::string inc = std::string("-I") + kInclude;
    const char* opts[] = {"-arch=sm_90a", inc.c_str()};
    nvrtcResult rc = nvrtcCompileProgram(prog, 2, opts);
    size_t n = 0;
    nvrtcGetProgramLogSize(prog, &n);
    std::string log(n, '\0');
    nvrtcGetProgramLog(prog, log.data());
    nvrtcDestroyProgram(&prog);
    return std::string(rc == NVRTC_SUCCESS ? "ok" : "failed") + "\n" + log;
  };
  std::string good = "#include <cuda_bf16.h>\nextern \"C\" __global__ void k(float* p) { *p = 1; }\n";
  // As the compile worker does it: walls first, NVRTC's first compile inside them.
  ConfineSpec spec = default_spec();
  spec.read_exec_files = sandbox::nvrtc_lazy_libraries();
  ASSERT_FALSE(spec.read_exec_files.empty());
  auto r = run_confined(
      spec,
      [&] {
        std::string first = compile(good);
        std::string out = (first.rfind("ok", 0) == 0 ? std::string("ok") : first) + "|";
        for (const std::string& path : {std::string("/etc/hostname"), secret, link,
                                        std::string("../../../../../../etc/hostname")}) {
          out += compile("#include \"" + path + "\"\n__global__ void k() {}\n") + "|";
        }
        return out;
      });
  ASSERT_EQ(r.exit_code, 0) << r.text;
  EXPECT_EQ(r.text.substr(0, 3), "ok|") << r.text;  // NVRTC works inside the walls
  EXPECT_EQ(r.text.find("\nok"), std::string::npos) << r.text;
  EXPECT_EQ(r.text.find(marker), std::string::npos) << r.text;
  testing::expect_no_leak(r.text, hostname);
}

}  // namespace
}  // namespace kevo
