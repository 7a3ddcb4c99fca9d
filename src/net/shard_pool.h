#pragma once
// One io_context per core ("shard"), each run by exactly one thread.
//
// Ownership rule (docs/architecture.md): every partition, group and connection belongs to one
// shard and is touched only from that shard's thread. Work for another shard is posted to its
// io_context; nothing on the data path takes a lock.
//
// Thread safety: start()/stop()/join() from the owning (main) thread; context(i) may be used
// from any thread to post work.

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace sluice::net {

class shard_pool {
 public:
  // n == 0 means one shard per hardware thread.
  explicit shard_pool(unsigned n);
  ~shard_pool();
  shard_pool(const shard_pool&) = delete;
  shard_pool& operator=(const shard_pool&) = delete;

  unsigned size() const { return static_cast<unsigned>(_contexts.size()); }
  boost::asio::io_context& context(unsigned shard) { return *_contexts[shard]; }

  void start();
  // Stops every io_context; pending handlers are dropped. join() waits for the threads.
  void stop();
  void join();

 private:
  using guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> _contexts;
  std::vector<guard> _guards;
  std::vector<std::thread> _threads;
};

// Runs fn() on `shard` (through owner.post(shard, task): the broker, the group manager) and
// waits for its result on this thread, which must not be a shard's (the HTTP thread, a metrics
// scrape); nullopt when the shard did not answer within `timeout` (stopping).
template <class T, class Owner, class Fn>
std::optional<T> wait_on_shard(Owner& owner, unsigned shard, std::chrono::milliseconds timeout,
                               Fn fn) {
  auto promise = std::make_shared<std::promise<T>>();
  auto future = promise->get_future();
  owner.post(shard, [promise, fn = std::move(fn)]() mutable { promise->set_value(fn()); });
  if (future.wait_for(timeout) != std::future_status::ready) return std::nullopt;
  return future.get();
}

}  // namespace sluice::net
