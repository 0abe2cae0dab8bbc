// The pool of worker threads behind bind::interruptible (workers.hpp).
#include "workers.hpp"

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace isoinit::bind {

struct Worker {
  std::mutex mu;
  std::condition_variable cv;
  std::function<void()> job;

  // runs forever (detached): a worker is never destroyed, so no job can outlive its thread
  [[noreturn]] void loop() {
    for (;;) {
      std::function<void()> next;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return static_cast<bool>(job); });
        next = std::move(job);
        job = nullptr;
      }
      next();
    }
  }
};

namespace {

/// The idle workers of this process (guarded by the GIL).
struct WorkerPool {
  std::vector<Worker*> idle;
#if defined(__unix__) || defined(__APPLE__)
  pid_t pid = getpid();
#endif
};

WorkerPool& worker_pool() {
  static auto* pool = new WorkerPool;  // never freed: workers outlive the interpreter's teardown
#if defined(__unix__) || defined(__APPLE__)
  if (pool->pid != getpid()) pool = new WorkerPool;  // a forked child: the parent's threads are not here
#endif
  return *pool;
}

}  // namespace

Worker* acquire_worker() {
  WorkerPool& pool = worker_pool();
  if (!pool.idle.empty()) {
    Worker* w = pool.idle.back();
    pool.idle.pop_back();
    return w;
  }
  auto* w = new Worker;
  std::thread([w] { w->loop(); }).detach();
  return w;
}

void post(Worker* w, std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(w->mu);
    w->job = std::move(job);
  }
  w->cv.notify_one();
}

void release_worker(Worker* w) { worker_pool().idle.push_back(w); }

}  // namespace isoinit::bind
