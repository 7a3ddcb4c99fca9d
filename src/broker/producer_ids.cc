#include "src/broker/producer_ids.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

namespace sluice::broker {

producer_ids::~producer_ids() { _thread.join(); }

std::error_code producer_ids::load() {
  auto reserved = _store.get_producer_id_reserved();
  if (!reserved) return reserved.error();
  std::lock_guard lock(_mu);
  _next = reserved.value();
  _block_end = reserved.value();
  return {};
}

void producer_ids::allocate(std::function<void(result<int64_t>)> done) {
  int64_t id = -1;
  bool start = false;
  {
    std::lock_guard lock(_mu);
    if (_next < _block_end) {
      id = _next++;
    } else {
      _waiting.push_back(std::move(done));
      start = !_reserving;
      _reserving = true;
    }
  }
  if (id >= 0) return done(id);
  if (start) boost::asio::post(_thread, [this] { reserve_next(); });
}

bool producer_ids::issued(int64_t id) const {
  std::lock_guard lock(_mu);
  return id >= 0 && id < _next;
}

void producer_ids::reserve_next() {
  int64_t end;
  {
    std::lock_guard lock(_mu);
    end = _block_end + kBlockSize;
  }
  const std::error_code ec = _store.set_producer_id_reserved(end);
  if (ec) spdlog::error("cannot reserve producer ids: {}", ec.message());
  std::vector<std::function<void(result<int64_t>)>> ready;
  std::vector<result<int64_t>> answers;
  {
    std::lock_guard lock(_mu);
    if (!ec) _block_end = end;
    ready.swap(_waiting);
    for (size_t i = 0; i < ready.size(); ++i) {
      if (ec) {
        answers.emplace_back(ec);
      } else if (_next < _block_end) {
        answers.emplace_back(_next++);
      } else {  // more waiters than a block: keep the rest for the next reservation
        _waiting.push_back(std::move(ready[i]));
        ready[i] = nullptr;
        answers.emplace_back(errc::not_found);
      }
    }
    _reserving = !_waiting.empty();
  }
  for (size_t i = 0; i < ready.size(); ++i) {
    if (ready[i]) ready[i](answers[i]);
  }
  std::lock_guard lock(_mu);
  if (_reserving) boost::asio::post(_thread, [this] { reserve_next(); });
}

}  // namespace sluice::broker
