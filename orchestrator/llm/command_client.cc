#include "orchestrator/llm/command_client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>

#include <nlohmann/json.hpp>

#include "common/utf8.h"

extern char** environ;

namespace kevo {
namespace {

using Clock = std::chrono::steady_clock;

// What one run of the program gave.
struct RunOutcome {
  std::string out, err_tail;
  int wait_status = 0;
  bool timed_out = false, cancelled = false, too_large = false;
  std::string spawn_error;
};

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// fork + exec with the three pipes; the child gets its own process group so that everything it
// starts dies with it.
RunOutcome run_program(const std::vector<std::string>& argv, const std::string& dir,
                       const std::string& input, double timeout_s, size_t max_out,
                       const std::atomic<bool>* cancel) {
  RunOutcome r;
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) {
    r.spawn_error = std::string("pipe: ") + std::strerror(errno);
    return r;
  }
  // A program that exits without reading its stdin must not kill kevo with SIGPIPE.
  static std::once_flag once;
  std::call_once(once, [] { ::signal(SIGPIPE, SIG_IGN); });
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    r.spawn_error = std::string("fork: ") + std::strerror(errno);
    return r;
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::signal(SIGPIPE, SIG_DFL);
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    if (::chdir(dir.c_str()) != 0) _exit(126);
    ::execvp(args[0], args.data());
    const char msg[] = "cannot execute the command\n";
    (void)!::write(2, msg, sizeof msg - 1);
    _exit(127);
  }
  ::setpgid(pid, pid);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  int in_fd = in[1], out_fd = out[0], err_fd = err[0];
  ::fcntl(in_fd, F_SETFL, O_NONBLOCK);
  size_t written = 0;
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(timeout_s));
  char buf[65536];
  while (out_fd >= 0 || err_fd >= 0) {
    if (cancel && cancel->load()) {
      r.cancelled = true;
      break;
    }
    if (Clock::now() > deadline) {
      r.timed_out = true;
      break;
    }
    pollfd fds[3];
    int n = 0;
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    ::poll(fds, n, 100);
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      if (fds[i].fd == in_fd) {
        ssize_t w = ::write(in_fd, input.data() + written, input.size() - written);
        if (w > 0) written += size_t(w);
        if (w < 0 && errno != EAGAIN) written = input.size();  // it closed stdin: fine
        if (written == input.size()) close_fd(in_fd);
        continue;
      }
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got <= 0) {
        (fds[i].fd == out_fd ? out_fd : err_fd) = -1;
        ::close(fds[i].fd);
        continue;
      }
      if (fds[i].fd == out_fd) {
        r.out.append(buf, size_t(got));
        if (r.out.size() > max_out) r.too_large = true;
      } else {
        r.err_tail.append(buf, size_t(got));
        if (r.err_tail.size() > 4096) r.err_tail.erase(0, r.err_tail.size() - 4096);
      }
    }
    if (r.too_large) break;
    if (in_fd >= 0 && written == input.size()) close_fd(in_fd);
  }
  close_fd(in_fd);
  close_fd(out_fd);
  close_fd(err_fd);
  if (r.timed_out || r.cancelled || r.too_large) ::kill(-pid, SIGKILL);
  // The program closed its output: wait for it, but never past a short grace (it may linger).
  auto grace = Clock::now() + std::chrono::seconds(5);
  for (;;) {
    pid_t w = ::waitpid(pid, &r.wait_status, WNOHANG);
    if (w == pid) break;
    if (Clock::now() > grace) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &r.wait_status, 0);
      break;
    }
    ::usleep(10000);
  }
  ::kill(-pid, SIGKILL);  // anything it left behind in its group
  return r;
}

std::string describe_exit(int wait_status) {
  if (WIFEXITED(wait_status)) return "exited with code " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) return "was killed by signal " + std::to_string(WTERMSIG(wait_status));
  return "ended";
}

std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s.size() > 400 ? "..." + s.substr(s.size() - 400) : s;
}

class CommandClient : public LlmClient {
 public:
  CommandClient(LlmModelConfig model, LlmClientOptions options)
      : model_(std::move(model)), options_(options) {}

  Result<LlmReply> complete(const LlmRequest& request) override {
    auto t0 = Clock::now();
    Result<LlmReply> result = run(request);
    double latency = std::chrono::duration<double>(Clock::now() - t0).count();
    if (result.ok()) result->latency_s = latency;
    record(request, result, latency);
    return result;
  }

 private:
  Result<LlmReply> run(const LlmRequest& request) {
    std::error_code ec;
    auto base = std::filesystem::temp_directory_path(ec);
    std::string templ = (ec ? std::string("/tmp") : base.string()) + "/kevo-command-XXXXXX";
    std::vector<char> dir(templ.begin(), templ.end());
    dir.push_back('\0');
    if (!::mkdtemp(dir.data())) {
      return Status::Unavailable("cannot make a folder for the command: " +
                                 std::string(std::strerror(errno)));
    }
    std::string folder = dir.data();
    RunOutcome r = run_program(model_.command, folder, command_stdin(model_, request),
                               options_.timeout_s, options_.max_response_bytes, options_.cancel);
    std::filesystem::remove_all(folder, ec);
    const std::string who = "command '" + model_.command[0] + "'";
    if (!r.spawn_error.empty()) return Status::Unavailable(who + ": " + r.spawn_error);
    if (r.cancelled) return Status::Cancelled(who + " was stopped: the run is ending");
    if (r.timed_out) {
      return Status::Timeout(who + " gave no reply within " + std::to_string(int(options_.timeout_s)) +
                             " s (llm.timeout_s); it was killed");
    }
    if (r.too_large) {
      return Status::InvalidArgument(who + " printed more than " +
                                     std::to_string(options_.max_response_bytes >> 20) +
                                     " MB; it was killed");
    }
    bool exited_ok = WIFEXITED(r.wait_status) && WEXITSTATUS(r.wait_status) == 0;
    if (!exited_ok) {
      std::string tail = one_line(valid_utf8(r.err_tail));
      return Status::InvalidArgument(who + " " + describe_exit(r.wait_status) +
                                     (tail.empty() ? " (no stderr)" : ": " + tail));
    }
    if (r.out.find_first_not_of(" \t\r\n") == std::string::npos) {
      return Status::InvalidArgument(who + " exited 0 but printed nothing on stdout");
    }
    LlmReply reply;
    reply.text = valid_utf8(r.out);
    reply.model = model_.model;
    reply.finish_reason = "exit 0";
    reply.attempts = 1;
    return reply;
  }

  void record(const LlmRequest& request, const Result<LlmReply>& outcome, double latency) const {
    if (!options_.recorder) return;
    LlmCallRecord c = call_record(request, outcome);
    c.provider = "command";
    c.model = model_.model;
    c.latency_s = latency;
    c.attempts = 1;
    options_.recorder->record(c);
  }

  LlmModelConfig model_;
  LlmClientOptions options_;
};

}  // namespace

std::string command_stdin(const LlmModelConfig& model, const LlmRequest& request) {
  if (model.command_input == "json") {
    nlohmann::json messages = nlohmann::json::array();
    for (const auto& m : request.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
    return nlohmann::json{{"system", request.system}, {"messages", messages}}.dump(
               -1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  std::string text = request.system;
  if (request.messages.size() == 1) return text + "\n\n" + request.messages[0].content + "\n";
  for (const auto& m : request.messages) {
    text += m.role == "assistant" ? "\n\n## assistant (your previous reply)\n\n" : "\n\n## user\n\n";
    text += m.content;
  }
  return text + "\n";
}

std::unique_ptr<LlmClient> make_command_client(const LlmModelConfig& model,
                                               const LlmClientOptions& options) {
  return std::make_unique<CommandClient>(model, options);
}

}  // namespace kevo
