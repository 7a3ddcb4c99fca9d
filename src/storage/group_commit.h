#pragma once
// Group commit: "append, then tell me when it is durable" without blocking the shard thread, with
// one fdatasync serving every waiter that arrived before it started.
//
// Contract:
// - A group_commit belongs to one log. wait(offset, done) completes `done` once every offset
//   <= `offset` is durable (ok), or with the error that made the log fail.
// - At most one sync per log is in flight. Starting one snapshots the log (active .log file and
//   log end offset, plus the closed segments a roll left unsynced) on the owner thread, runs
//   fdatasync on the `blocking` executor (the closed segments' files first, in order, then the
//   target's after_before step, then the active one: nothing newer is credited before older data
//   is durable; all under sync_mutex()), and posts the result
//   back through `post_back`. The sync covers what the owner had written to that file
//   when fdatasync was called: right before calling it, the sync thread reads target.written_end
//   (the owner stores the file's end offset there after each write, release/acquire), so batches
//   appended while the sync waited for a thread or its pacing slot are covered too. Completing
//   it finishes every waiter below max(snapshot end, written_end); if other waiters (or a
//   request_sync()) arrived meanwhile, exactly one more sync starts. So under load the sync rate
//   is bounded by the disk's fsync rate, not the request rate.
// - A failed fdatasync fails every waiter and the group_commit for good: Linux may drop the dirty
//   pages after a failed fsync (fsyncgate), so a retry could report data durable that is not.
//   Later waits fail at once with the same error; the log must be reopened (and recovered).
// - The sync holds a shared_ptr to the file, so a segment that rolls (or a log that closes) while
//   a sync is in flight never has its descriptor closed under the worker.
// - Empty executors mean "inline": the sync runs on the caller's thread / the completion runs
//   directly. Tests use hand-driven queues to decide exactly when syncs run and complete.
// - A completion may run inside wait() when the answer is already known (durable or failed).
//
// sync_worker pacing (min_interval > 0): the worker starts its tasks (one fdatasync each) at least
// min_interval apart, across all its threads and logs. Some disks do better with fewer, spaced
// syncs than with back-to-back ones (this project's benchmark VM holds some writes for 5-20 ms
// and releases them on a 100 ms clock when syncs come back to back: docs/performance.md,
// change 9); 0 (the default) starts each as soon as a thread is free.
//
// Thread safety: everything but the blocking task runs on the owner's thread (the log's shard);
// post_back must deliver there. sync_worker is thread-safe.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "src/storage/file_io.h"

namespace sluice::storage {

using task = std::function<void()>;
// Runs a task somewhere: a background pool (blocking work) or an owner's event loop (post_back).
using executor = std::function<void(task)>;

// A few background threads for blocking calls (fdatasync), shared by many logs.
class sync_worker {
 public:
  using clock = std::chrono::steady_clock;
  // Time source for pacing; tests replace it. Empty members: steady_clock and sleep_until.
  struct pacing_clock {
    std::function<clock::time_point()> now;
    std::function<void(clock::time_point)> sleep_until;
  };

  explicit sync_worker(size_t threads = 1, std::chrono::nanoseconds min_interval = {},
                       pacing_clock clk = {});
  // Runs what is queued, then joins.
  ~sync_worker();
  sync_worker(const sync_worker&) = delete;
  sync_worker& operator=(const sync_worker&) = delete;

  void submit(task t);
  // An executor that submits here; the sync_worker must outlive every user of it.
  executor as_executor() {
    return [this](task t) { submit(std::move(t)); };
  }

 private:
  void run();
  // Blocks until this task's start slot (min_interval after the previous one's).
  void pace();

  const std::chrono::nanoseconds _min_interval;
  pacing_clock _clock;
  std::mutex _pace_mu;
  clock::time_point _next_start{};  // under _pace_mu
  std::mutex _mu;
  std::condition_variable _cv;
  std::deque<task> _queue;
  bool _stop = false;
  std::vector<std::thread> _threads;
};

class group_commit : public std::enable_shared_from_this<group_commit> {
 public:
  using completion = std::function<void(std::error_code)>;
  // What a sync covers: the active .log and the log end offset when it started, after the closed
  // segments in `before` (rolled, not yet known durable; synced first, in order).
  struct target {
    std::vector<std::shared_ptr<file>> before;
    // Runs on the sync thread once every file in `before` is synced, before `f` is (the log
    // syncs its directory and writes its recovery point there: log.cc). An error fails the sync
    // like a failed fdatasync. Empty: nothing to run.
    std::function<std::error_code()> after_before;
    std::shared_ptr<file> f;
    int64_t end_offset = 0;
    // End offset of what has been written to `f` so far, advanced by the owner after each write
    // (never past what is in `f`); null: the sync covers end_offset only.
    std::shared_ptr<const std::atomic<int64_t>> written_end;
  };
  using snapshot_fn = std::function<target()>;
  // Told (owner thread) each time durable_end() advances, before the waiters it covers complete.
  using durable_fn = std::function<void(int64_t durable_end)>;

  group_commit(executor blocking, executor post_back, snapshot_fn snapshot)
      : _blocking(std::move(blocking)),
        _post_back(std::move(post_back)),
        _snapshot(std::move(snapshot)) {}

  void on_durable(durable_fn fn) { _on_durable = std::move(fn); }
  // `offset` must be below the log end offset (the log checks), so the next sync covers it.
  void wait(int64_t offset, completion done);
  // Starts a sync with nobody waiting (flush policy); coalesces with one in flight.
  void request_sync();
  // The owner made [0, end) durable itself (flush, open): completes waiters below `end`.
  void mark_durable(int64_t end);
  // The owner saw a sync fail: fail every waiter and everything after.
  void fail(std::error_code ec);
  // The owner is going away: no more syncs start (and no more on_durable calls); waiters not
  // covered by an in-flight sync fail with errc::io_error.
  void detach();

  // Syncs writing back rolled segments right now, across every log of the process. While one
  // runs, the disk queue holds up to a whole segment of writes, and a metadata read queued
  // behind it can take a second on the benchmark VM; segments skip their block reservation
  // meanwhile (log.cc), since fallocate may read block bitmaps on the shard thread.
  static int rolled_syncs_in_flight();

  // Held by a sync for its whole run on the blocking executor, and by the owner while it syncs
  // the same files itself (log::flush) or writes the recovery point. So the two never
  // fdatasync one file at the same time: Linux reports a writeback error once per open file, and
  // the side that did not see it must not credit anything. The side that sees one records it
  // (record_sync_failure) before letting go; the other checks sync_failure() first. Never held
  // while completions run. Not on the data path: appends and waits do not take it.
  std::mutex& sync_mutex() { return _sync_mu; }
  // Under sync_mutex().
  std::error_code sync_failure() const { return _sync_failure; }
  void record_sync_failure(std::error_code ec) {
    if (!_sync_failure) _sync_failure = ec;
  }

  int64_t durable_end() const { return _durable_end; }
  std::error_code error() const { return _error; }
  bool sync_in_flight() const { return _in_flight; }
  size_t waiters() const { return _waiters.size(); }
  // fdatasyncs issued by this group commit plus the ones the owner reported (count_fsync).
  uint64_t fsync_count() const { return _fsyncs; }
  void count_fsync() { ++_fsyncs; }

 private:
  void start_sync();
  void on_synced(int64_t end, std::error_code ec);
  // Takes the waiters that are done (below `end`, or all on error) out of the map.
  std::vector<completion> take_done(int64_t end);
  void finish(std::vector<completion> done, std::error_code ec);
  // Moves _durable_end to `end` and tells _on_durable; false if that failed the group commit.
  bool advance(int64_t end);

  executor _blocking;
  executor _post_back;
  snapshot_fn _snapshot;
  durable_fn _on_durable;
  std::multimap<int64_t, completion> _waiters;  // by offset: completed in offset order
  int64_t _durable_end = 0;
  bool _in_flight = false;
  bool _again = false;  // a request_sync() arrived during the in-flight sync
  std::error_code _error;
  uint64_t _fsyncs = 0;
  std::mutex _sync_mu;
  std::error_code _sync_failure;  // under _sync_mu
};

}  // namespace sluice::storage
