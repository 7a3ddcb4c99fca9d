#pragma once
// Log compaction (cleanup.policy=compact, compact,delete): the latest value per key survives,
// offsets are kept (gaps allowed), tombstones go after delete.retention.ms, the active segment
// is never touched, and small cleaned segments are merged.
//
// Contract:
// - Three steps. snapshot() (owner thread) records the log's segments. clean() (any thread)
//   reads them through its own file handles and writes `<base>.log.cleaned`,
//   `<base>.index.cleaned` and `<base>.txnindex.cleaned` (the sources' aborted-transaction
//   entries, which stay valid since control batches are kept) next to them, fdatasync'ed; it never
//   touches the log object. swap() (owner thread) puts the cleaned segments in place, one group at
//   a time, and updates the log. If swap() is not called (shutdown, error), discard() removes the
//   .cleaned files.
// - What survives: a keyed record whose offset is the latest for its key across the whole log
//   (the active segment's keys included, up to its size at snapshot time); a tombstone (null
//   value) only while its batch's max timestamp + delete_retention_ms > now_ms. Keyless records,
//   control and transactional batches, and batches that do not decode are kept as they are
//   (transactions are not compacted yet; keeping data is always safe).
// - Rebuilt batches keep base offset, producer id/epoch/base sequence, leader epoch, codec and
//   timestamp type; they hold only surviving records, with their original offset deltas. A
//   batch left empty is dropped, except the last batch of an idempotent producer, which stays
//   whole so the producer's last sequence remains in the log.
// - Only segments below the log's recovery point are cleaned (log.h): the first segment at or past
//   it takes the active segment's place in the snapshot, and later ones are left out (their keys
//   do not count yet: keeping data is safe).
// - Consecutive closed segments are merged into one cleaned segment while it stays within
//   segment_bytes (and 2^32 offsets); its base offset is the first source's.
// - Crash safety (rules in docs/formats/segment.md): at any point a crash leaves either the old
//   segments or the new ones; log::open() calls recover() to finish or roll back a swap.
// - Throttling: clean() charges every byte read and written to a `throttle`, which sleeps so
//   compaction I/O stays under bytes_per_sec and appends keep their latency.
//
// Thread safety: snapshot() and swap() on the log's owner thread; clean() on any one thread,
// concurrently with appends (it only reads bytes that existed at snapshot time). The
// file_system must be safe to share (posix_file_system is).

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "src/base/errc.h"
#include "src/storage/file_io.h"
#include "src/storage/log.h"

namespace sluice::storage::compaction {

struct options {
  int64_t delete_retention_ms = 86400000;      // delete.retention.ms
  uint64_t segment_bytes = uint64_t{1} << 30;  // segment.bytes: merge limit
  uint32_t index_interval_bytes = 4096;        // index.interval.bytes
  size_t max_batch_bytes = size_t{64} << 20;   // decompression cap per batch
};

// Limits a byte rate by sleeping. Time comes from `now_us` and passes in `sleep_us`, so tests
// pass fakes; bytes_per_sec == 0 means unlimited.
class throttle {
 public:
  using clock_fn = std::function<int64_t()>;
  using sleep_fn = std::function<void(int64_t)>;

  throttle(uint64_t bytes_per_sec, clock_fn now_us, sleep_fn sleep_us);
  // A throttle on the steady clock and std::this_thread::sleep_for.
  static throttle real(uint64_t bytes_per_sec);

  // Accounts `bytes` of I/O and sleeps until the average rate is back under the limit.
  void charge(uint64_t bytes);
  uint64_t total_bytes() const { return _bytes; }
  int64_t total_slept_us() const { return _slept_us; }

 private:
  uint64_t _rate;
  clock_fn _now;
  sleep_fn _sleep;
  int64_t _start_us = -1;
  uint64_t _bytes = 0;
  int64_t _slept_us = 0;
};

// The segments of one log at a point in time; the last one is the active segment.
struct snapshot_t {
  std::string dir;
  std::vector<segment_info> segments;
};
snapshot_t snapshot(const log& l);

struct stats {
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  uint64_t records_kept = 0;
  uint64_t records_dropped = 0;  // superseded values and expired tombstones
  uint64_t tombstones_dropped = 0;
  uint64_t batches_dropped = 0;
};

// One cleaned segment, replacing `sources` (consecutive closed segments).
struct cleaned_group {
  int64_t base_offset = 0;  // == sources.front().base_offset
  std::vector<segment_info> sources;
  uint64_t size_bytes = 0;
};

struct cleaned {
  std::string dir;
  std::vector<cleaned_group> groups;
  stats totals;
  int64_t cleaned_up_to = 0;  // next offset after the last closed segment: the new checkpoint
};

// Kafka's cleanable ratio: bytes of closed segments at or after the cleaner checkpoint
// `cleaned_up_to` (everything before it was cleaned already) over all closed-segment bytes;
// 0 when there is no closed segment. Compaction is worth running once this reaches
// min.cleanable.dirty.ratio. The checkpoint is kept by the caller (cleaned::cleaned_up_to).
double dirty_ratio(std::span<const segment_info> segments, int64_t cleaned_up_to);

// Phase 1. Cleans every closed segment of `snap` into .cleaned files. On error, whatever .cleaned
// files it wrote are removed. A snapshot with fewer than one closed segment gives no groups.
result<cleaned> clean(file_system& fs, const snapshot_t& snap, const options& opts, int64_t now_ms,
                      throttle& t);

// Phase 2. Swaps each group in: old segment files -> .deleted, `.log.cleaned` -> `.log.swap`
// (the commit point), `.swap` -> `.log`, `.index.cleaned` -> `.index`, then the log's
// in-memory list, then the .deleted files are removed. A group whose sources changed since the
// snapshot (errc::not_found) is skipped and its files discarded; other errors stop the swap and
// are returned (recover() settles the directory on the next open).
std::error_code swap(file_system& fs, log& l, const cleaned& c, segment_options seg_opts);

// Removes the .cleaned files of `c` (when swap() will not run).
void discard(file_system& fs, const cleaned& c);

// Settles a partition directory after a crash: with a `.log.swap` present the swap committed,
// so `.deleted` files are removed and `.swap`/`.index.cleaned` renamed into place; without one
// `.deleted` files are renamed back. Leftover `.cleaned` files are removed either way.
std::error_code recover(file_system& fs, const std::string& dir);

}  // namespace sluice::storage::compaction
