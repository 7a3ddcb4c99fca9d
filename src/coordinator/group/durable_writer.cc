#include "src/coordinator/group/durable_writer.h"

namespace sluice::coordinator {

durable_writer::durable_writer(meta::store& store) : _store(store), _thread([this] { run(); }) {}

durable_writer::~durable_writer() { stop(); }

void durable_writer::submit(meta::write_batch batch, done_fn done) {
  {
    std::lock_guard lock(_mu);
    _queue.emplace_back(std::move(batch), std::move(done));
    ++_batches;
  }
  _cv.notify_one();
}

void durable_writer::stop() {
  {
    std::lock_guard lock(_mu);
    if (_stopping && !_thread.joinable()) return;
    _stopping = true;
  }
  _cv.notify_one();
  if (_thread.joinable()) _thread.join();
}

uint64_t durable_writer::batches() const {
  std::lock_guard lock(_mu);
  return _batches;
}

uint64_t durable_writer::writes() const {
  std::lock_guard lock(_mu);
  return _writes;
}

void durable_writer::run() {
  for (;;) {
    std::vector<std::pair<meta::write_batch, done_fn>> work;
    {
      std::unique_lock lock(_mu);
      _cv.wait(lock, [this] { return _stopping || !_queue.empty(); });
      if (_queue.empty()) return;  // stopping and drained
      work.swap(_queue);
      ++_writes;
    }
    // Everything queued while the previous fsync ran goes out in one synced write.
    meta::write_batch merged;
    for (auto& w : work) merged.append(std::move(w.first));
    std::error_code ec = merged.empty() ? std::error_code() : _store.write(merged, true);
    for (auto& w : work) {
      if (w.second) w.second(ec);
    }
  }
}

}  // namespace sluice::coordinator
