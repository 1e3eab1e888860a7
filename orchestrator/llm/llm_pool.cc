// LlmPool: a fixed set of worker threads, each running one blocking complete() at a time. Threads
// rather than curl's multi interface keep every client a plain blocking call that a test or the
// replay client can stand in for; 16 threads mostly asleep on sockets cost nothing.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "orchestrator/llm/llm_client.h"

namespace kevo {

struct LlmPool::Impl {
  struct Job {
    LlmClient* client = nullptr;
    LlmRequest request;
    std::function<void(Result<LlmReply>)> done;
  };

  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<Job> queue;
  int running = 0;
  bool stopping = false;
  std::vector<std::thread> workers;


  void work() {
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (stopping) return;  // queued jobs are cancelled by the destructor
        job = std::move(queue.front());
        queue.pop_front();
        ++running;
      }
      Result<LlmReply> r = job.client->complete(job.request);
      {
        std::lock_guard<std::mutex> lock(mu);
        --running;
      }
      job.done(std::move(r));
    }
  }
};

LlmPool::LlmPool(int max_in_flight) : impl_(std::make_unique<Impl>()) {
  assert(max_in_flight >= 1);
  for (int i = 0; i < max_in_flight; ++i) impl_->workers.emplace_back([this] { impl_->work(); });
}

LlmPool::~LlmPool() {
  std::deque<Impl::Job> left;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
    left.swap(impl_->queue);
  }
  impl_->cv.notify_all();
  for (auto& t : impl_->workers) t.join();
  for (auto& job : left) job.done(Status::Cancelled("the LLM pool shut down before this request ran"));
}

void LlmPool::submit(LlmClient& client, LlmRequest request,
                     std::function<void(Result<LlmReply>)> done) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (!impl_->stopping) {
      impl_->queue.push_back({&client, std::move(request), std::move(done)});
      impl_->cv.notify_one();
      return;
    }
  }
  done(Status::Cancelled("the LLM pool is shutting down"));
}

std::future<Result<LlmReply>> LlmPool::submit(LlmClient& client, LlmRequest request) {
  auto promise = std::make_shared<std::promise<Result<LlmReply>>>();
  auto future = promise->get_future();
  submit(client, std::move(request), [promise](Result<LlmReply> r) { promise->set_value(std::move(r)); });
  return future;
}

int LlmPool::in_flight() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->running;
}

int LlmPool::queued() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return static_cast<int>(impl_->queue.size());
}

}  // namespace kevo
