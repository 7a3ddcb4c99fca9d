#pragma once
// The broker: the net::dispatcher that turns Kafka request frames into handler calls.
//
// Contract (docs/architecture.md, "How a request flows"):
// - Frames shorter than a request header, or whose header or body do not decode, close the
//   connection (logged once with the client address). The process carries on.
// - ApiVersions above our maximum is answered in v0 format with UNSUPPORTED_VERSION.
// - Other APIs or versions we do not serve get UNSUPPORTED_VERSION where the response can carry
//   it, and close the connection otherwise (unsupported_version.h).
//
// Thread safety: dispatch() runs on the connection's shard; the broker's own state is immutable
// after construction (per-shard state lives with the shards).

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <string>

#include <sluice/config.h>

#include "src/base/metrics.h"
#include "src/broker/fetch_session.h"
#include "src/broker/partitions.h"
#include "src/broker/topic_manager.h"
#include "src/coordinator/group/group_manager.h"
#include "src/coordinator/txn/txn_manager.h"
#include "src/net/connection.h"
#include "src/net/shard_pool.h"
#include "src/protocol/wire.h"

namespace sluice::broker {

// One partition's log, as the admin API and the metrics show it.
struct partition_stats {
  std::string topic;
  int32_t partition = 0;
  int64_t log_start_offset = 0;
  int64_t high_watermark = 0;  // the log end offset (one replica: HW = LEO)
  uint64_t size_bytes = 0;
  uint64_t segments = 0;
};
class producer_ids;

class broker final : public net::dispatcher {
 public:
  broker(const config& cfg, net::shard_pool& shards, topic_manager& topics, std::string cluster_id);
  void dispatch(net::connection_info& info, net::frame request, net::reply_fn done) override;

  const config& cfg() const { return _cfg; }
  topic_manager& topics() { return _topics; }
  const std::string& cluster_id() const { return _cluster_id; }
  // The address clients are told to connect to (Metadata, FindCoordinator, ...). Set once after
  // the listener is bound, before shards start.
  void set_advertised(std::string host, int32_t port) {
    _advertised_host = std::move(host);
    _advertised_port = port;
  }
  // The group coordinator (owned by main; set once before the shards start).
  void set_groups(coordinator::group_manager* groups) { _groups = groups; }
  coordinator::group_manager& groups() { return *_groups; }
  // The transaction coordinator (owned by main; set once before the shards start).
  void set_txns(coordinator::txn_manager* txns) { _txns = txns; }
  coordinator::txn_manager& txns() { return *_txns; }
  bool has_txns() const { return _txns != nullptr; }
  // Where InitProducerId takes producer ids from; set once before shards start (null: none).
  void set_producer_ids(producer_ids* ids) { _producer_ids = ids; }
  producer_ids* producer_id_source() const { return _producer_ids; }
  const std::string& advertised_host() const { return _advertised_host; }
  int32_t advertised_port() const { return _advertised_port; }
  // Runs fn on `shard` (used to bring completions back to a connection's shard).
  void post(unsigned shard, std::function<void()> fn);
  // Runs fn at once when called on `shard`'s own thread, else posts it there. For hops whose
  // caller tolerates fn running inside the call: a produce whose partition lives on its
  // connection's shard then crosses no thread (each cross-shard post is a wake-up, and in a VM an
  // inter-processor interrupt).
  void run_on(unsigned shard, std::function<void()> fn);
  unsigned shard_count() const { return _shards.size(); }
  // Runs `work(result<partition*>)` on the partition's owner shard, then `deliver(its result)`
  // on shard `home`: how handlers cross to a partition and back. Both hops are posts.
  // fan_out.h gathers many of these into one answer.
  template <class Work, class Deliver>
  void with_partition(unsigned home, std::shared_ptr<const topic_entry> topic, int32_t index,
                      Work work, Deliver deliver) {
    via_owner(
        &broker::post, home, std::move(topic), index,
        [work = std::move(work)](result<partition*> p, auto finish) mutable {
          finish(work(std::move(p)));
        },
        std::move(deliver));
  }
  // The same for work that completes later (Produce waiting for group commit): `work(part,
  // finish)` runs on the owner shard and calls finish(out) exactly once, on the owner shard;
  // `deliver(out)` then runs on `home`. Both hops run inline when already on that shard (a
  // one-message produce paid ~75 us of thread wake-ups otherwise), so `deliver` may run before
  // this returns.
  template <class Out, class Work, class Deliver>
  void with_partition_async(unsigned home, std::shared_ptr<const topic_entry> topic, int32_t index,
                            Work work, Deliver deliver) {
    via_owner(
        &broker::run_on, home, std::move(topic), index,
        [work = std::move(work)](result<partition*> p, auto finish) mutable {
          work(std::move(p), std::function<void(Out)>(std::move(finish)));
        },
        std::move(deliver));
  }
  boost::asio::io_context& shard_context(unsigned shard) { return _shards.context(shard); }
  // The partitions owned by `shard`; use only on that shard's thread.
  shard_partitions& partitions(unsigned shard) { return *_partitions[shard]; }
  // The fetch sessions of connections on `shard`; use only on that shard's thread.
  fetch_session_cache& fetch_sessions(unsigned shard) { return *_fetch_sessions[shard]; }
  // Starts each shard's periodic log housekeeping (flush.ms, retention, compaction). Call once
  // the shards run.
  void start_housekeeping();
  // Clean shutdown of every log (and pending background work); call after the shards have
  // stopped.
  void close_partitions();

  // Partition facts gathered from the owner shards (src/broker/stats.cc). Blocking: call only
  // from a thread that is not a shard's (the HTTP thread, a metrics scrape). A shard that does
  // not answer within `timeout` (stopping) is left out.
  // Every partition whose log is open (opened by traffic since start).
  std::vector<partition_stats> open_partition_stats(std::chrono::milliseconds timeout);
  // Every partition of `topic`, opening logs that are not open yet.
  std::vector<partition_stats> topic_partition_stats(std::shared_ptr<const topic_entry> topic,
                                                     std::chrono::milliseconds timeout);
  // Adds the partition gauges (sluice_partition_*) to the global metrics registry, collected at
  // scrape time with open_partition_stats. Removed when the broker goes.
  void register_metrics();

 private:
  // The one way to a partition and back: `hop` (post or run_on) takes work(get(), finish) to the
  // owner shard and finish(out) to deliver(out) on `home`.
  template <class Work, class Deliver>
  void via_owner(void (broker::*hop)(unsigned, std::function<void()>), unsigned home,
                 std::shared_ptr<const topic_entry> topic, int32_t index, Work work,
                 Deliver deliver) {
    const unsigned owner = owner_shard(topic->name, index, shard_count());
    (this->*hop)(owner, [this, hop, home, owner, topic = std::move(topic), index,
                         work = std::move(work), deliver = std::move(deliver)]() mutable {
      work(partitions(owner).get(topic, index),
           [this, hop, home, deliver = std::move(deliver)](auto out) mutable {
             (this->*hop)(home, [deliver = std::move(deliver), out = std::move(out)]() mutable {
               deliver(std::move(out));
             });
           });
    });
  }

  static constexpr size_t kSyncThreads = 4;
  const config& _cfg;
  net::shard_pool& _shards;
  topic_manager& _topics;
  std::string _cluster_id;
  storage::posix_file_system _fs;
  // Blocking work: compaction passes and removing deleted partitions (joined on shutdown).
  boost::asio::thread_pool _background{1};
  // Declared before the partitions so it outlives their logs; its queued syncs finish on exit.
  // Several threads: each log has at most one fdatasync in flight (group commit), but different
  // partitions' syncs proceed in parallel (ext4 batches concurrent ones into one journal
  // commit). With one thread, 8 partitions at acks=all queued behind each other: the sync rate
  // capped at one disk round trip at a time (docs/performance.md).
  // Paced by sluice.fsync.min.interval.us (storage/group_commit.h).
  storage::sync_worker _sync;
  std::vector<std::unique_ptr<shard_partitions>> _partitions;         // one per shard
  std::vector<std::unique_ptr<fetch_session_cache>> _fetch_sessions;  // one per shard
  std::vector<std::unique_ptr<boost::asio::steady_timer>> _housekeeping;
  std::string _advertised_host;
  int32_t _advertised_port = 0;
  coordinator::group_manager* _groups = nullptr;
  coordinator::txn_manager* _txns = nullptr;
  std::unique_ptr<metrics::collector_handle> _collector;
  producer_ids* _producer_ids = nullptr;
};

// The v0-format UNSUPPORTED_VERSION answer to an ApiVersions request we cannot parse.
wire::bytes api_versions_fallback(int32_t correlation_id);

}  // namespace sluice::broker
