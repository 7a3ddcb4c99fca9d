#include "src/storage/group_commit.h"

#include <algorithm>
#include <chrono>

#include "src/base/errc.h"
#include "src/base/metrics.h"

namespace sluice::storage {

sync_worker::sync_worker(size_t threads, std::chrono::nanoseconds min_interval, pacing_clock clk)
    : _min_interval(min_interval), _clock(std::move(clk)) {
  if (!_clock.now) _clock.now = [] { return clock::now(); };
  if (!_clock.sleep_until) {
    _clock.sleep_until = [](clock::time_point t) { std::this_thread::sleep_until(t); };
  }
  if (threads == 0) threads = 1;
  for (size_t i = 0; i < threads; ++i) _threads.emplace_back([this] { run(); });
}

sync_worker::~sync_worker() {
  {
    std::lock_guard lock(_mu);
    _stop = true;
  }
  _cv.notify_all();
  for (auto& t : _threads) t.join();
}

void sync_worker::submit(task t) {
  {
    std::lock_guard lock(_mu);
    _queue.push_back(std::move(t));
  }
  _cv.notify_one();
}

void sync_worker::run() {
  for (;;) {
    task t;
    {
      std::unique_lock lock(_mu);
      _cv.wait(lock, [this] { return _stop || !_queue.empty(); });
      if (_queue.empty()) return;  // stopping and drained
      t = std::move(_queue.front());
      _queue.pop_front();
    }
    if (_min_interval.count() > 0) pace();
    t();
  }
}

void sync_worker::pace() {
  clock::time_point start;
  {
    std::lock_guard lock(_pace_mu);
    start = std::max(_clock.now(), _next_start);
    _next_start = start + _min_interval;  // reserve the slot, so threads take turns in order
  }
  if (start > _clock.now()) _clock.sleep_until(start);
}

void group_commit::wait(int64_t offset, completion done) {
  if (_error) {
    done(_error);
    return;
  }
  if (offset < _durable_end) {
    done({});
    return;
  }
  if (!_snapshot && !_in_flight) {  // detached
    done(errc::io_error);
    return;
  }
  _waiters.emplace(offset, std::move(done));
  if (!_in_flight) start_sync();
}

void group_commit::request_sync() {
  if (_error || !_snapshot) return;
  if (_in_flight) {
    _again = true;
    return;
  }
  start_sync();
}

namespace {

metrics::histogram& fsync_seconds() {
  static metrics::histogram& h = metrics::registry::global().histogram_metric(
      "sluice_storage_fsync_duration_seconds",
      "Time of each group-commit fdatasync of a partition log.", metrics::latency_buckets());
  return h;
}

std::atomic<int> g_rolled_syncs{0};

}  // namespace

int group_commit::rolled_syncs_in_flight() {
  return g_rolled_syncs.load(std::memory_order_relaxed);
}

void group_commit::start_sync() {
  target t = _snapshot();
  _in_flight = true;
  _again = false;
  _fsyncs += 1 + t.before.size();
  auto self = shared_from_this();
  auto sync = [self, t = std::move(t)]() mutable {
    std::error_code ec;
    int64_t end = t.end_offset;
    {
      std::lock_guard lock(self->_sync_mu);
      ec = self->_sync_failure;  // the owner's own sync of these files failed first
      const bool rolled = !t.before.empty();
      if (rolled) g_rolled_syncs.fetch_add(1, std::memory_order_relaxed);
      for (auto& f : t.before) {
        if (!ec) ec = f->fdatasync();
        f.reset();
      }
      if (rolled) g_rolled_syncs.fetch_sub(1, std::memory_order_relaxed);
      if (!ec && t.after_before) ec = t.after_before();
      t.after_before = nullptr;  // what it holds may go here, off the owner thread
      // Everything written to the file before fdatasync is called is covered by it.
      if (t.written_end) end = std::max(end, t.written_end->load(std::memory_order_acquire));
      if (!ec) {
        const auto started = std::chrono::steady_clock::now();
        ec = t.f->fdatasync();
        fsync_seconds().observe(std::chrono::steady_clock::now() - started);
      }
      if (ec) self->record_sync_failure(ec);
    }
    t.f.reset();  // the descriptor may close here, off the owner thread; it is ours alone now
    auto deliver = [self, end, ec] { self->on_synced(end, ec); };
    if (self->_post_back) {
      self->_post_back(std::move(deliver));
    } else {
      deliver();
    }
  };
  if (_blocking) {
    _blocking(std::move(sync));
  } else {
    sync();
  }
}

std::vector<group_commit::completion> group_commit::take_done(int64_t end) {
  std::vector<completion> done;
  auto last = _error ? _waiters.end() : _waiters.lower_bound(end);
  for (auto it = _waiters.begin(); it != last; ++it) done.push_back(std::move(it->second));
  _waiters.erase(_waiters.begin(), last);
  return done;
}

void group_commit::finish(std::vector<completion> done, std::error_code ec) {
  for (auto& d : done) d(ec);
}

void group_commit::on_synced(int64_t end, std::error_code ec) {
  _in_flight = false;
  if (_error) return;  // failed meanwhile (fail() already completed everyone)
  if (ec) {
    fail(ec);
    return;
  }
  if (end >= _durable_end && !advance(end)) return;  // equal: a sync of rolled files only
  auto done = take_done(_durable_end);
  // Decide on the next sync before running completions: they may call wait() again.
  if (_snapshot && (!_waiters.empty() || _again)) {
    start_sync();
  } else if (!_snapshot) {
    auto rest = take_done(INT64_MAX);
    for (auto& d : rest) d(errc::io_error);
  }
  finish(std::move(done), {});
}

void group_commit::mark_durable(int64_t end) {
  if (_error || end <= _durable_end) return;
  if (!advance(end)) return;
  finish(take_done(end), {});
}

bool group_commit::advance(int64_t end) {
  _durable_end = end;
  if (_on_durable) _on_durable(end);
  return !_error;  // the owner may have failed us (fail() completed everyone)
}

void group_commit::fail(std::error_code ec) {
  if (_error) return;
  _error = ec ? ec : make_error_code(errc::io_error);
  finish(take_done(INT64_MAX), _error);
}

void group_commit::detach() {
  _snapshot = nullptr;
  _on_durable = nullptr;
  if (_in_flight) return;  // on_synced completes what it covers and fails the rest
  auto rest = take_done(INT64_MAX);
  for (auto& d : rest) d(errc::io_error);
}

}  // namespace sluice::storage
