#pragma once
// A partition log: a directory of segments (src/storage/segment.h) named by base offset, the
// last of which (the active segment) takes appends.
//
// Contract:
// - append() validates one whole v2 batch (header, size, CRC: a bad batch would otherwise make
//   recovery drop it and everything after; a records::checked_batch was validated already),
//   assigns it offsets [log_end_offset(), +count) by
//   rewriting its baseOffset in place, and writes it to the active segment. The active segment
//   rolls first when the batch would take it past segment_bytes. An append that fails leaves the
//   log as it was: readable, and later appends may succeed (e.g. after ENOSPC clears).
// - Appended data is durable only after a sync of the active segment: flush() (blocking), or
//   wait_durable()/append_durable() (group commit, src/storage/group_commit.h: the fdatasync runs
//   on log_options::sync_executor and completes on the owner thread via post_back), or the flush
//   policy (flush.messages counted at append, flush.ms checked by tick()). Rolling syncs the old
//   segment's txn index but not its data or other indexes, and does no other I/O that waits for
//   the disk on the owner thread: the roll asks group commit for a sync, which fdatasyncs the
//   rolled segments (.log, .timeindex, .index), then frees their reserved blocks, syncs the
//   directory (the new segment's name) and writes `recovery-point` (the base offset of the
//   first segment that may not be durable; temp file, fdatasync, rename, directory sync; best
//   effort: a stale one only makes recovery longer) before the active segment, all on the sync
//   thread. The point only moves up; once the log is closed or destroyed the sync tasks stop
//   writing it (its directory may be renamed for deletion or reused). An unclean open() recovers
//   every segment from the recovery point on (scan, validate CRCs, truncate the tail, rebuild the
//   index); one that now ends before the next segment's base offset lost data, so everything after
//   it is removed (Kafka's rule). Without the file (a log from before it existed) only the active
//   segment is recovered; open() writes it (a new log: 0).
// - The active segment reserves disk blocks ahead of its end (opts.reserve_bytes, segment.h);
//   roll (through the sync) and close() free what is left past the end. Sizes and bytes are
//   unaffected.
// - A failed fdatasync fails the log: every durable waiter gets the error, and appends, waits
//   and flushes fail with errc::io_error until the log is reopened (fsyncgate: retrying a failed
//   fsync can report lost data as durable).
// - close() syncs, writes the index and a clean-shutdown marker (docs/formats/segment.md); an
//   open() that finds a marker consistent with the active segment skips its recovery scan
//   (opened_clean()). open() removes the marker before returning, so no append can precede it.
// - read(offset, max_bytes) returns a byte range of one segment holding whole batches, the first
//   one containing `offset`; at least one batch even when it exceeds max_bytes (KIP-74). An
//   offset equal to log_end_offset() gives an empty range; outside [log_start_offset(),
//   log_end_offset()] is errc::not_found (Kafka's OFFSET_OUT_OF_RANGE).
// - A read_result's segment pointer stays valid until the next append/roll/close/
//   replace_segments/apply_retention.
// - open() first finishes or rolls back a compaction swap a crash interrupted
//   (src/storage/compaction.h, docs/formats/segment.md).
// - Time: nothing reads a clock; callers pass `now_ms` (wall-clock ms). With
//   opts.log_append_time, append() stamps the batch as LogAppendTime (attribute bit, maxTimestamp
//   = now_ms, CRC recomputed; record timestamps stay, readers ignore them, as in Kafka). The
//   active segment also rolls once now_ms - (time of its first append) > segment_ms; after a
//   restart that time is the first batch's maxTimestamp (Kafka's rule), or the next append's.
// - offset_for_time() answers ListOffsets: -2 earliest (log start), -4 earliest local (the
//   same: no tiered storage), -1 latest (log end), -3 the record with the largest timestamp
//   (KIP-734), T >= 0 the first record at or after the log start with timestamp >= T.
//   Offset -1 when there is no such record.
// - The log start offset is the first segment's base offset, moved up by delete_records()
//   (which may point inside a segment). It is persisted in `log-start-offset` (written to a temp
//   file, fdatasync'ed, renamed, directory synced) after flushing the log, so it never points
//   past durable data. apply_retention() deletes whole non-active segments from the oldest while
//   they are below the log start offset, older than retention_ms (by their max timestamp) or
//   not needed to keep retention_bytes; -1 disables either limit.
// - Aborted transactions (src/storage/txn_index.h): append_aborted() adds an ABORT marker's
//   entry to the index of the segment holding the marker (the active one); a failure fails the
//   log like a failed fsync, since a read_committed reader would otherwise see aborted records.
//   Rolling and close() fdatasync the index (a roll before its segment's data); retention and
//   compaction remove or merge it with its segment. collect_aborted() answers read_committed
//   fetches. The active segment's entries are rebuilt on every open that replays it
//   (producer_state::load: begin_txn_rebuild(), then append_aborted() per replayed marker).
//
// Thread safety: none. A log is owned by one shard and touched only from its thread
// (docs/architecture.md), except by its group-commit syncs on the sync thread: they fdatasync
// its files and, after a roll, truncate the closed segment, write recovery-point and sync the
// directory, all under group_commit::sync_mutex(). flush(), close(), the destructor and the
// owner's own recovery-point writes take that mutex too, so they may wait for a sync in flight;
// appends, reads and durable waits never do. flush() and close() block, group commit does not.
// Completions run on the owner thread (through post_back), possibly inline when the answer is
// already known.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "src/base/errc.h"
#include "src/protocol/record_batch.h"
#include "src/protocol/wire.h"
#include "src/storage/file_io.h"
#include "src/storage/group_commit.h"
#include "src/storage/segment.h"

namespace sluice::storage {

// What the owner thread hands to background work (compaction): a snapshot of one segment.
struct segment_info {
  int64_t base_offset = 0;
  int64_t next_offset = 0;
  uint64_t size_bytes = 0;
  bool operator==(const segment_info&) const = default;
};

struct log_options {
  uint64_t segment_bytes = uint64_t{1} << 30;  // segment.bytes
  uint32_t index_interval_bytes = 4096;        // index.interval.bytes
  int64_t flush_messages = INT64_MAX;  // flush.messages: sync once this many records are unsynced
  int64_t flush_ms = INT64_MAX;        // flush.ms: tick() syncs when the last sync is this old
  executor sync_executor = {};     // runs fdatasync off the owner thread; empty: inline (blocking)
  executor post_back = {};         // delivers sync completions to the owner thread; empty: inline
  int64_t segment_ms = 604800000;  // segment.ms; < 0: never roll by time
  int64_t retention_ms = 604800000;  // retention.ms; < 0: no time limit
  int64_t retention_bytes = -1;      // retention.bytes; < 0: no size limit
  bool log_append_time = false;      // message.timestamp.type == LogAppendTime
  // Largest step of disk blocks the active segment reserves ahead of its end (segment.h);
  // 0: none. Reserved blocks count as used disk space (up to this much per active segment).
  // Not a topic config: a storage tuning (docs/performance.md, storage section).
  uint64_t reserve_bytes = uint64_t{8} << 20;
};

// The clean-shutdown marker's content (log.cc, docs/formats/segment.md).
struct clean_marker;
// The recovery-point file's state, shared by a log and its sync tasks (log.cc).
struct recovery_point_state;

// ListOffsets special timestamps.
inline constexpr int64_t kLatestTimestamp = -1;
inline constexpr int64_t kEarliestTimestamp = -2;
inline constexpr int64_t kMaxTimestamp = -3;
inline constexpr int64_t kEarliestLocalTimestamp = -4;

class log {
 public:
  // Opens (creating if needed) the log in `dir`, recovering the active segment.
  static result<std::unique_ptr<log>> open(file_system& fs, std::string dir, log_options opts);
  // Waiters not yet covered by an in-flight sync fail with errc::io_error.
  ~log();
  log(const log&) = delete;
  log& operator=(const log&) = delete;

  using completion = group_commit::completion;

  struct append_result {
    int64_t base_offset;
    int64_t last_offset;
    int64_t log_append_time = -1;  // for ProduceResponse; -1 for CreateTime topics
  };
  result<append_result> append(std::span<uint8_t> batch, int64_t now_ms);
  // The same for a batch the caller has already validated (Produce does, to answer with Kafka's
  // errors): the CRC is not computed a second time.
  result<append_result> append(const records::checked_batch& batch, int64_t now_ms);
  // For callers without a clock (tools, tests): never rolls by time; errc::invalid_config when
  // the log stamps LogAppendTime.
  result<append_result> append(std::span<uint8_t> batch) { return append(batch, -1); }
  // append(), then `on_durable` once the batch is durable (acks=all). Not called when the append
  // itself fails (the error is returned).
  result<append_result> append_durable(std::span<uint8_t> batch, int64_t now_ms,
                                       completion on_durable);
  result<append_result> append_durable(std::span<uint8_t> batch, completion on_durable) {
    return append_durable(batch, -1, std::move(on_durable));
  }
  // `done` once every offset <= `offset` is durable, or with the error that failed the log;
  // errc::not_found at once for an offset >= log_end_offset().
  void wait_durable(int64_t offset, completion done);
  // Drives flush.ms with the owner's clock (tests pass a fake one).
  void tick(int64_t now_ms);
  // Adopts new policy values (segment.bytes/ms, index interval, flush.*, retention.*,
  // LogAppendTime) from `opts`, as after AlterConfigs; the executors stay as opened. Takes effect
  // from the next append, tick or apply_retention.
  void set_policy(const log_options& opts);

  struct read_result {
    segment* seg = nullptr;  // null for an empty read
    byte_range range;
  };
  result<read_result> read(int64_t offset, size_t max_bytes);
  // read() followed by a copy of the bytes.
  result<wire::bytes> read_bytes(int64_t offset, size_t max_bytes);

  // Blocking fdatasync of the active segment (completes durable waiters it covers).
  std::error_code flush();
  // Starts a new active segment at log_end_offset() (no-op when the active one is empty).
  std::error_code roll();
  // flush(), write the active segment's index and the clean-shutdown marker; the last call
  // before dropping a log on shutdown.
  std::error_code close();

  // Every segment, by base offset; the last one is the active segment.
  std::vector<segment_info> segment_infos() const;
  // Replaces the closed segments `expected` (consecutive, unchanged since they were snapshot)
  // by `replacement`, whose files are already in place. errc::not_found when they no longer
  // match (rolled into, removed by retention): the caller drops its work.
  std::error_code replace_segments(std::span<const segment_info> expected,
                                   std::unique_ptr<segment> replacement);

  result<timestamp_offset> offset_for_time(int64_t timestamp);

  // DeleteRecords: moves the log start offset up to `offset` (a no-op when it is not above the
  // current one) and persists it. Returns the new log start offset. errc::not_found (Kafka's
  // OFFSET_OUT_OF_RANGE) when offset < 0 or > log_end_offset(); the broker resolves -1 (high
  // watermark) first.
  result<int64_t> delete_records(int64_t offset);
  // Deletes segments per the contract above (files removed, directory synced). Returns how many.
  result<size_t> apply_retention(int64_t now_ms);

  // Adds `e` to the index of the segment holding e.last_offset (see the contract).
  std::error_code append_aborted(const aborted_txn& e);
  // Aborted transactions overlapping [from, to): entries of the segment holding `from` and of
  // later segments until one proves the rest cannot overlap (txn_index::collect).
  result<std::vector<aborted_txn>> collect_aborted(int64_t from, int64_t to);
  // The base offset of the first segment whose index must be rebuilt from the log (missing or
  // damaged), or -1 when none.
  int64_t txn_rebuild_offset() const;
  // Drops index entries at or after `from` (and those of segments that need a rebuild), before a
  // replay from `from` appends them again.
  std::error_code begin_txn_rebuild(int64_t from);
  // fdatasyncs every index written since its last sync (after a rebuild).
  std::error_code sync_txn_indexes();

  int64_t log_start_offset() const { return _log_start_offset; }
  int64_t log_end_offset() const { return _segments.back()->next_offset(); }
  size_t segment_count() const { return _segments.size(); }
  // Base offset of the active segment (it changes when the log rolls).
  int64_t active_base_offset() const { return _segments.back()->base_offset(); }
  // Bytes of record data on disk: the sum of the segments' .log sizes (DescribeLogDirs).
  uint64_t size_bytes() const {
    uint64_t total = 0;
    for (const auto& s : _segments) total += s->size_bytes();
    return total;
  }
  const std::string& dir() const { return _dir; }
  // What open() found and dropped in the segments it recovered, summed (all zero but valid_bytes
  // when a clean shutdown let it skip the scan).
  const recovery_result& recovery() const { return _recovery; }
  bool opened_clean() const { return _opened_clean; }
  // errc::io_error once a sync failed (see the contract).
  std::error_code error() const { return _gc->error(); }
  // fdatasyncs of segment files (group commit and flush(), rolled segments' indexes included);
  // for metrics/benchmarks.
  uint64_t fsync_count() const { return _gc->fsync_count(); }
  int64_t durable_end_offset() const { return _gc->durable_end(); }
  // Base offset of the first segment that may not be durable (see the contract); compaction
  // leaves it and everything after it alone.
  // 0 while there is no recovery-point file (nothing is compacted then).
  int64_t recovery_point() const;

 private:
  log(file_system& fs, std::string dir, log_options opts);

  segment_options seg_opts() const {
    return {_opts.index_interval_bytes, std::min(_opts.reserve_bytes, _opts.segment_bytes),
            [] { return group_commit::rolled_syncs_in_flight() > 0; }};
  }
  // Opens the active segment without a scan if the clean-shutdown marker vouches for it.
  static std::unique_ptr<segment> open_clean(file_system& fs, const std::string& dir, int64_t base,
                                             segment_options opts, const clean_marker& m);
  std::error_code write_clean_marker();
  void request_sync();
  std::error_code load_start_offset();
  std::error_code write_start_offset(int64_t offset);
  // Moves the recovery point up to `offset` (never down), on the owner thread.
  std::error_code write_recovery_point(int64_t offset);
  // group_commit's durable_end moved: the rolled segments a sync task moved the recovery point
  // past leave _unflushed.
  void on_durable(int64_t durable_end);
  // open(): removes the files of segments bases[first..] (after a hole).
  std::error_code remove_segments_from(const std::vector<int64_t>& bases, size_t first);
  std::error_code remove_oldest_segment();

  file_system* _fs;
  std::string _dir;
  log_options _opts;
  std::vector<std::unique_ptr<segment>> _segments;  // by base offset; back() is active
  recovery_result _recovery;
  bool _opened_clean = false;
  std::shared_ptr<group_commit> _gc;
  // The active segment's written end offset for syncs in flight (group_commit::target); a new
  // one for each active segment, so a sync of an older file never credits a newer one's data.
  std::shared_ptr<std::atomic<int64_t>> _written_end;
  void reset_written_end() {
    _written_end = std::make_shared<std::atomic<int64_t>>(log_end_offset());
  }
  int64_t _unsynced_records = 0;
  int64_t _now_ms = -1;        // last tick(); -1 before the first
  int64_t _last_sync_ms = -1;  // tick time of the last sync start; -1 unknown
  int64_t _log_start_offset = 0;
  int64_t _active_since_ms = -1;  // first append to the active segment; -1 unknown
  // Closed segments not yet known durable (rolled, or recovered by open()), oldest first: their
  // files in sync order and end offsets (the next segment's base); the next group-commit sync
  // fdatasyncs them before the active segment.
  struct unflushed_segment {
    std::vector<std::shared_ptr<file>> files;  // segment::durable_files()
    int64_t end = 0;
    std::optional<uint64_t> trim_to;  // segment::take_trim() of the .log (files.front())
  };
  std::vector<unflushed_segment> _unflushed;
  std::shared_ptr<recovery_point_state> _point;
};

}  // namespace sluice::storage
