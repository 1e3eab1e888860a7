// A `kevo worker` whose GPU is the honest fake (tests/fake_backend.h), as a process of its own, for
// the process-level queue tests (cli_worker_test.cc) and the queue benchmark: real claims, leases
// and heartbeats through the archive, real SIGKILL, no GPU.
//
//   kevo_fake_worker --db URL [--model "Fake H100"] [--slots 1] [--lease-s 30] [--eval-ms 0]
//                    [--log FILE] [--max-tasks 0]
//
// Each evaluation appends "<pid> <candidate name>\n" to FILE when it starts (O_APPEND: lines of
// several processes do not mix), then takes eval-ms. A source containing "KILLWORKER" kills the
// process with SIGKILL as it starts (a poison candidate that takes its worker down). SIGTERM or
// SIGINT stops it cleanly.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "orchestrator/evolution/queue_worker.h"
#include "tests/fake_backend.h"

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) {
  g_stop.store(true);
}

class LoggingFakeBackend : public kevo::testing::FakeBackend {
 public:
  LoggingFakeBackend(std::string log, int eval_ms, int slots)
      : log_(std::move(log)), eval_ms_(eval_ms), slots_(slots) {}

  std::future<kevo::CompileOutcome> compile(kevo::Candidate c) override {
    if (c.source.find("KILLWORKER") != std::string::npos) {
      note(c.name);
      raise(SIGKILL);
    }
    return FakeBackend::compile(std::move(c));
  }
  kevo::EvalResult evaluate(int gpu, const kevo::Candidate& c, const kevo::CompileOutcome& o,
                            const std::string& suite) override {
    note(c.name);
    if (eval_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(eval_ms_));
    return FakeBackend::evaluate(gpu, c, o, suite);
  }
  kevo::EvalResult measure_counters(int, const kevo::Candidate&, const kevo::CompileOutcome&,
                                    const std::string&) override {
    kevo::EvalResult r;
    r.metrics = {{"dram_bytes", 1}};
    return r;
  }
  int gpu_count() const override { return slots_; }

 private:
  void note(const std::string& name) {
    if (log_.empty()) return;
    std::string line = std::to_string(getpid()) + " " + name + "\n";
    int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) return;
    (void)!write(fd, line.data(), line.size());
    close(fd);
  }

  std::string log_;
  int eval_ms_;
  int slots_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string db, model = "Fake H100", log;
  int slots = 1, eval_ms = 0;
  double lease_s = 30;
  int64_t max_tasks = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--db")
      db = v;
    else if (k == "--model")
      model = v;
    else if (k == "--slots")
      slots = std::atoi(v.c_str());
    else if (k == "--lease-s")
      lease_s = std::atof(v.c_str());
    else if (k == "--eval-ms")
      eval_ms = std::atoi(v.c_str());
    else if (k == "--log")
      log = v;
    else if (k == "--max-tasks")
      max_tasks = std::atoll(v.c_str());
    else {
      std::cerr << "kevo_fake_worker: unknown option " << k << "\n";
      return 2;
    }
  }
  if (db.empty()) {
    std::cerr << "kevo_fake_worker: --db is required\n";
    return 2;
  }
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  auto run = kevo::wait_for_run(db, g_stop);
  if (!run.ok()) {
    std::cerr << "kevo_fake_worker: " << run.status().to_string() << "\n";
    return 1;
  }
  LoggingFakeBackend backend(log, eval_ms, slots);
  kevo::QueueWorkerOptions o;
  o.lease_s = lease_s;
  o.idle_wait_s = 0.05;
  o.max_tasks = max_tasks;
  o.gpu_info = {{"name", model}, {"sm_count", 132}};
  kevo::QueueWorker worker(db, backend, std::vector<std::string>(slots, model), o);
  auto s = worker.run(g_stop);
  if (!s.ok()) {
    std::cerr << "kevo_fake_worker: " << s.status().to_string() << "\n";
    return 1;
  }
  std::cout << "finished " << s->finished << " lost " << s->lost << std::endl;
  return 0;
}
