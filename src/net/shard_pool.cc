#include "src/net/shard_pool.h"

#include <spdlog/spdlog.h>

namespace sluice::net {

shard_pool::shard_pool(unsigned n) {
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) {
    // Concurrency hint 1: each context is run by a single thread, so Asio can skip locking.
    _contexts.push_back(std::make_unique<boost::asio::io_context>(1));
    _guards.emplace_back(_contexts.back()->get_executor());
  }
}

shard_pool::~shard_pool() {
  stop();
  join();
}

void shard_pool::start() {
  for (unsigned i = 0; i < _contexts.size(); ++i) {
    _threads.emplace_back([this, i] {
      try {
        _contexts[i]->run();
      } catch (const std::exception& e) {
        // Handlers do not throw by design; this is a bug, not a recoverable condition.
        spdlog::critical("shard {} stopped by an exception: {}", i, e.what());
        std::abort();
      }
    });
  }
}

void shard_pool::stop() {
  for (auto& g : _guards) g.reset();
  for (auto& c : _contexts) c->stop();
}

void shard_pool::join() {
  for (auto& t : _threads) {
    if (t.joinable()) t.join();
  }
  _threads.clear();
}

}  // namespace sluice::net
