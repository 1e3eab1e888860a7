#include "sandbox/worker_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "sandbox/environment.h"

namespace kevo::sandbox {

std::vector<int> stray_descriptors(bool under_cuda_tool) {
  std::vector<int> stray;
  if (under_cuda_tool) return stray;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      int fd = std::atoi(e->d_name);
      struct stat st {};
      if (fd > 2 && fd != dirfd(d) && fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
        stray.push_back(fd);
      }
    }
    closedir(d);
  }
  return stray;
}

WorkerChannel WorkerChannel::open() {
  for (int fd : stray_descriptors(under_cuda_tool(current_environment()))) close(fd);
  std::fflush(stdout);
  WorkerChannel ch;
  ch.out_fd_ = fcntl(1, F_DUPFD_CLOEXEC, 3);
  dup2(2, 1);
  return ch;
}

std::optional<std::string> WorkerChannel::read_line(size_t max_bytes, std::string* error) {
  for (;;) {
    auto nl = buf_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return line;
    }
    if (buf_.size() > max_bytes) {
      if (error) *error = "request over " + std::to_string(max_bytes) + " bytes";
      return std::nullopt;
    }
    char chunk[65536];
    ssize_t n = ::read(0, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    buf_.append(chunk, n);
  }
}

bool WorkerChannel::write(const nlohmann::json& message) {
  // Invalid UTF-8 in a log must not throw here: replace it.
  std::string line = message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(out_fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += n;
  }
  return true;
}

void start_parent_watchdog() {
  pid_t parent = getppid();
  std::thread([parent] {
    for (;;) {
      if (getppid() != parent) quick_exit_worker(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }).detach();
}

void quick_exit_worker(int code) {
  std::fflush(stderr);
  _exit(code);
}

}  // namespace kevo::sandbox
