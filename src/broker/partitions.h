#pragma once
// Partitions and the shards that own them.
//
// Contract:
// - A partition belongs to exactly one shard, owner_shard(topic, partition), and its log is
//   touched only on that shard's thread (docs/architecture.md). Handlers post per-partition work
//   to the owner and gather the results back on the connection's shard (broker::with_partition,
//   fan_out.h).
// - A partition's log lives in <log.dir>/topics/<topic>-<partition>/ and is opened on first
//   use by its owner shard (so a restart opens nothing until asked). Opening writes or checks
//   the directory's partition.metadata (the topic id, as Kafka keeps it); a directory naming
//   another topic id is refused (KAFKA_STORAGE_ERROR), never served.
// - Deleting a topic drops each partition on its owner shard: the log is closed and its
//   directory renamed to <topic>-<partition>.<random>-delete at once (so a topic re-created with
//   the same name starts empty), then removed on the background pool (leftovers of a stop or
//   crash are removed when the broker starts). Requests still holding a
//   deleted topic's entry (a long poll, a produce in flight) are refused with errc::not_found
//   rather than reopening its log: entries carry an incarnation, and each shard remembers the
//   highest one it dropped per partition. A cached partition of an older incarnation than the
//   one asked for (deleted and re-created) is dropped before the new one is opened.
//
// Thread safety: a shard_partitions object is used only from its shard's thread, except
// close_all(), which the main thread calls after the shards have stopped.

#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "src/base/errc.h"
#include "src/broker/broker_metrics.h"
#include "src/broker/topic_manager.h"
#include "src/protocol/kafka_error.h"
#include "src/storage/file_io.h"
#include "src/storage/group_commit.h"
#include "src/storage/log.h"
#include "src/storage/producer_state.h"

namespace sluice::broker {

unsigned owner_shard(std::string_view topic, int32_t partition, unsigned shard_count);

// The Kafka error for a failed shard_partitions::get: a topic deleted while the request was in
// flight is UNKNOWN_TOPIC_OR_PARTITION (as if the request had come a moment later), anything
// else KAFKA_STORAGE_ERROR.
inline kafka::error lookup_error(const std::error_code& ec) {
  return ec == errc::not_found ? kafka::error::unknown_topic_or_partition
                               : kafka::error::kafka_storage_error;
}

class partition {
 public:
  partition(std::shared_ptr<const topic_entry> topic, int32_t index,
            std::unique_ptr<storage::log> log, storage::producer_state producers,
            storage::file_system& fs)
      : _topic(std::move(topic)),
        _index(index),
        _log(std::move(log)),
        _metrics(topic_metrics_for(_topic->name)),
        _fs(&fs),
        producers(std::move(producers)),
        snapshot_base(_log->active_base_offset()) {}

  const topic_entry& topic() const { return *_topic; }
  // Adopts `topic` when its configs are newer than the ones this partition holds (AlterConfigs
  // publishes a new entry; handlers pass the current snapshot's entry on every lookup). Only
  // what is read per request follows (max.message.bytes, timestamps, cleanup.policy), and the
  // log adopts the new segment, flush and retention policy (storage::log::set_policy).
  void refresh(const std::shared_ptr<const topic_entry>& topic);
  int32_t index() const { return _index; }
  storage::log& log() { return *_log; }
  topic_metrics& metrics() const { return _metrics; }

  // Fetch long polls: `wake` runs once, after the next append, unless `owner` has expired by
  // then (the fetch completed some other way). Expired watchers are pruned as new ones come, so
  // the list stays as long as the number of fetches actually waiting.
  void watch(std::weak_ptr<void> owner, std::function<void()> wake);
  void notify_appended();
  // After an append: when the log rolled, snapshots the producer state at the new segment's base
  // offset. Call before applying the appended batch to `producers`.
  void snapshot_if_rolled();
  // Applies a transaction marker `h` (as appended) to `producers` and, for an ABORT, adds the
  // aborted transaction to the log's txn index (src/storage/txn_index.h). An error means the
  // index could not be written; the log is failed then (storage::log::append_aborted).
  std::error_code apply_marker(const records::batch_header& h, records::control_type type,
                               int64_t now_ms);
  // The producer state snapshot at the log end (clean shutdown, after the log's close()).
  std::error_code write_final_snapshot(int64_t log_end_offset);

 private:
  std::shared_ptr<const topic_entry> _topic;
  int32_t _index;
  std::unique_ptr<storage::log> _log;
  topic_metrics& _metrics;
  storage::file_system* _fs;
  std::vector<std::pair<std::weak_ptr<void>, std::function<void()>>> _watchers;

 public:
  // Idempotent producers' sequences and epochs (src/storage/producer_state.h). Produce checks a
  // batch against it before appending and applies it after; a snapshot is written when the log
  // rolls (at the new segment's base offset) and on close, so recovery replays little.
  storage::producer_state producers;
  int64_t snapshot_base = 0;  // the active segment base offset the last snapshot was taken at
  // Compaction bookkeeping (owner shard only): the cleaner checkpoint and whether a pass runs.
  int64_t cleaned_up_to = 0;
  bool compacting = false;
};

// The log options a topic's settings ask for (policy only; executors are added by the shard).
storage::log_options log_options_for(const meta::topic_settings& s);

// Where a shard's logs send blocking work: fdatasync (group commit), compaction and directory
// removal run on background threads; their completions are posted back to the shard.
struct shard_executors {
  storage::executor sync;        // a storage::sync_worker
  storage::executor background;  // compaction passes (long, throttled), removing deleted dirs
  storage::executor post_back;   // onto this shard's io_context
};

class shard_partitions {
 public:
  shard_partitions(storage::file_system& fs, std::string data_dir, shard_executors exec,
                   int64_t retention_check_interval_ms, int64_t producer_id_expiration_ms)
      : _fs(fs),
        _dir(std::move(data_dir) + "/topics"),
        _exec(std::move(exec)),
        _retention_interval_ms(retention_check_interval_ms),
        _producer_expiration_ms(producer_id_expiration_ms) {}

  // The partition, opening its log on first use; errc::not_found when `topic` has been deleted
  // (a stale entry). Must run on the owner shard.
  result<partition*> get(const std::shared_ptr<const topic_entry>& topic, int32_t index);
  // Forgets a deleted topic's partition: closes its log (when open and of this incarnation) and
  // moves its directory away for removal. A partition of a newer incarnation (the topic was
  // re-created meanwhile) is left alone. Must run on the owner shard.
  void drop(const topic_entry& topic, int32_t index);
  // Calls fn for every open partition. Must run on the owner shard.
  template <class Fn>
  void for_each_open(Fn&& fn) {
    for (auto& [name, p] : _open) fn(*p);
  }
  // Flushes and closes every open log and writes its producer state snapshot (clean shutdown).
  void close_all();
  // Periodic work for every open log, on the owner shard: flush.ms, retention and producer
  // expiry (producer.id.expiration.ms; both every log.retention.check.interval.ms) and, for
  // compacted topics whose dirty ratio reached min.cleanable.dirty.ratio, a compaction pass
  // (cleaned in the background, swapped in here).
  void housekeeping(int64_t now_ms);

 private:
  // Renames <topic>-<partition> to a unique *-delete name and queues its removal.
  void discard_dir(const std::string& name);
  void maybe_compact(partition& p, int64_t now_ms);

  storage::file_system& _fs;
  std::string _dir;
  shard_executors _exec;
  int64_t _retention_interval_ms;
  int64_t _producer_expiration_ms;
  int64_t _last_retention_ms = 0;
  std::unordered_map<std::string, std::unique_ptr<partition>> _open;  // "<topic>-<partition>"
  std::unordered_map<std::string, uint64_t> _dropped;  // highest incarnation dropped, by name
};

}  // namespace sluice::broker
