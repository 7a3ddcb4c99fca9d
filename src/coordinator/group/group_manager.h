#pragma once
// The group coordinator: every group, its membership state and its committed offsets.
//
// Contract:
// - Each group is owned by exactly one shard, owner_of(group id) (a hash over the shards), and
//   is touched only on that shard's thread. Handlers reach it with call(): the operation runs on
//   the owner, and its answer (possibly later, e.g. JoinGroup waits for the rebalance) is
//   delivered back on the handler's shard.
// - A group entry holds the group protocol state (today a classic_group; a KIP-848 consumer
//   group is the second kind, see README.md) and the committed offsets, which every kind
//   shares.
// - Offset commits, group deletions and OffsetDelete are answered only after their RocksDB write
//   is synced (durable_writer: concurrent commits share one fsync). Group records (membership,
//   assignments; classic and KIP-848) are written after each change; SyncGroup answers wait for
//   them (Kafka waits for the group metadata append), other answers do not.
// - Timers: each shard ticks its groups (session, rebalance, join and sync timeouts) on its own
//   io_context; offsets retention runs there too.
//
// Thread safety: load() before the shards start; start() once they run; stop() after they
// stopped. call()/call_all() from any shard thread. shard_groups: its shard only.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <sluice/config.h>

#include "src/coordinator/group/classic_group.h"
#include "src/coordinator/group/consumer_group.h"
#include "src/coordinator/group/durable_writer.h"
#include "src/coordinator/sharded_calls.h"
#include "src/meta/store.h"
#include "src/net/shard_pool.h"

namespace boost::asio {
class io_context;
}

namespace sluice::coordinator {

struct committed_offset {
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::string metadata;
  int64_t commit_ms = 0;  // wall clock
};

struct offset_commit_request {
  std::string member_id;
  std::optional<std::string> instance_id;
  int32_t generation = -1;  // or member epoch (KIP-848)
  int16_t api_version = 0;  // v9+: GROUP_ID_NOT_FOUND for a missing group; KIP-848 needs v9+
  struct entry {
    std::string topic;
    int32_t partition = 0;
    committed_offset value;
  };
  std::vector<entry> offsets;
};
// One error per entry, in request order.
using commit_callback = std::function<void(std::vector<kafka::error>)>;

// The stored form of a committed (or pending transactional) offset: meta::OffsetRecord.
std::string encode_offset(const committed_offset& o);

struct offset_fetch_request {
  // nullopt: every committed offset of the group.
  std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>> topics;
  bool require_stable = false;
  // v9+: the KIP-848 member asking, checked against its group (nullopt/-1: not checked).
  std::optional<std::string> member_id;
  int32_t member_epoch = -1;
};
struct offset_fetch_result {
  kafka::error error = kafka::error::none;
  struct entry {
    std::string topic;
    int32_t partition = 0;
    committed_offset value;  // offset -1, metadata "" when nothing is committed
    // UNSTABLE_OFFSET_COMMIT: require_stable and a transaction holds an offset pending here.
    kafka::error error = kafka::error::none;
  };
  std::vector<entry> offsets;  // requested order, or topic/partition order for "all"
};

struct group_description {
  kafka::error error = kafka::error::none;
  std::string group_id;
  std::string state;  // Kafka's state name; "Dead" for an unknown group
  std::string protocol_type;
  std::string protocol_data;  // the selected protocol, when Stable
  struct member_info {
    std::string member_id;
    std::optional<std::string> instance_id;
    std::string client_id;
    std::string client_host;
    bytes metadata;
    bytes assignment;
  };
  std::vector<member_info> members;
};

struct group_listing {
  std::string group_id;
  std::string protocol_type;
  std::string state;
  std::string type;  // "classic" or "consumer"
};

struct leave_result {
  kafka::error error = kafka::error::none;  // whole request (COORDINATOR_NOT_AVAILABLE, ...)
  std::vector<kafka::error> members;        // per leaving member
};

struct group_entry {
  std::string id;
  // The protocol state: exactly one of them is set.
  std::unique_ptr<classic_group> classic;
  std::unique_ptr<consumer_group> consumer;  // KIP-848 ("consumer" group type)
  std::map<std::pair<std::string, int32_t>, committed_offset> offsets;
  // The consumer group record last submitted (encode_consumer_record), to write only changes.
  std::string consumer_record;
  // What the log last said about the group (state changes are logged once, at info).
  group_state logged_state = group_state::empty;
  int32_t logged_generation = 0;
};

class group_manager;

// The groups one shard owns.
class shard_groups {
 public:
  shard_groups(group_manager& owner, unsigned shard);

  void join(const std::string& group, join_request req, join_callback done);
  void sync(const std::string& group, sync_request req, sync_callback done);
  kafka::error heartbeat(const std::string& group, const std::string& member_id,
                         const std::optional<std::string>& instance_id, int32_t generation);
  leave_result leave(const std::string& group,
                     const std::vector<std::pair<std::string, std::optional<std::string>>>& who);
  void commit(const std::string& group, offset_commit_request req, commit_callback done);
  offset_fetch_result fetch(const std::string& group, const offset_fetch_request& req);
  // OffsetDelete: top-level error, and one error per (topic, partition) in order.
  void delete_offsets(const std::string& group,
                      std::vector<std::pair<std::string, int32_t>> partitions,
                      std::function<void(kafka::error, std::vector<kafka::error>)> done);
  group_description describe(const std::string& group);
  // KIP-848 (consumer_groups.cc): a ConsumerGroupHeartbeat; the group, if a consumer group.
  heartbeat_result consumer_heartbeat(const std::string& group, const heartbeat_request& req,
                                      const topic_view& topics);
  const consumer_group* find_consumer_group(const std::string& group) const;
  std::vector<group_listing> list() const;
  void delete_group(const std::string& group, std::function<void(kafka::error)> done);

  // Transactional offsets (txn_offsets.cc). TxnOffsetCommit holds offsets pending per producer
  // id (written synced under meta::pending_offset_key before `done`), invisible to OffsetFetch
  // until the transaction coordinator ends the transaction with complete_txn(): commit moves
  // them to the committed offsets, abort drops them; `done` once that is durable.
  void txn_commit(const std::string& group, int64_t producer_id, offset_commit_request req,
                  commit_callback done);
  void complete_txn(const std::string& group, int64_t producer_id, bool commit,
                    std::function<void(kafka::error)> done);
  void adopt_pending(const std::string& group, int64_t producer_id,
                     std::pair<std::string, int32_t> tp, committed_offset v);
  bool has_pending(const std::string& group, const std::pair<std::string, int32_t>& tp) const;

  // Timer work: expires sessions and delayed joins whose deadline passed; offsets retention.
  void tick(int64_t now_ms);
  void expire_offsets(int64_t wall_ms);
  // Startup: a group read from the store (its record, when it has one, and its offsets);
  // called before the shard runs.
  // `consumer`, when set, is a KIP-848 group's record (then `snapshot` is null).
  void adopt(const std::string& id, const group_snapshot* snapshot,
             std::map<std::pair<std::string, int32_t>, committed_offset> offsets, int64_t now_ms,
             const consumer_group_snapshot* consumer = nullptr, int64_t empty_since_ms = 0);
  // Lookup for a second group kind built on this shard's table; nullptr when absent.
  group_entry* find(const std::string& group);
  group_entry& get_or_create(const std::string& group);
  // Persists the entry's classic group record when it changed (after every operation), and logs
  // state changes.
  void persist_if_dirty(group_entry& e);
  // The same for a KIP-848 group: writes its record when the snapshot changed (not waited for).
  void persist_consumer(group_entry& e);

 private:
  // OffsetCommit and TxnOffsetCommit: stamps and checks each offset (metadata size, key), writes
  // them synced in one batch under key(topic, partition) in `family`, then on this shard hands
  // the written entries to `apply` and answers `done` (COORDINATOR_NOT_AVAILABLE for them when
  // the write failed).
  using offset_key_fn = std::function<result<std::string>(const std::string&, int32_t)>;
  void write_offsets(const std::string& group, offset_commit_request req, meta::cf family,
                     const offset_key_fn& key,
                     std::function<void(offset_commit_request::entry&)> apply,
                     commit_callback done);
  std::unique_ptr<classic_group> new_classic(const std::string& group);
  void tick_consumer_groups(int64_t now_ms);
  std::string new_member_id(std::string_view client_id);

  group_manager& _owner;
  unsigned _shard;
  std::unordered_map<std::string, group_entry> _groups;
  using offset_map = std::map<std::pair<std::string, int32_t>, committed_offset>;
  // Pending transactional offsets: group -> producer id -> offsets.
  std::unordered_map<std::string, std::map<int64_t, offset_map>> _pending_txn;
  std::mt19937_64 _rng;
};

class group_manager : public sharded_calls<group_manager> {
 public:
  group_manager(const config& cfg, net::shard_pool& shards, meta::store& store);
  ~group_manager();

  // Reads groups and offsets from the store into their owner shards.
  std::error_code load();
  // Arms every shard's group timer; call once the shards run.
  void start();
  // Writes what is queued; call after the shards stopped.
  void stop();

  unsigned owner_of(std::string_view group) const;
  unsigned shard_count() const { return _shards.size(); }
  shard_groups& on_shard(unsigned s) { return *_per_shard[s]; }
  const config& cfg() const { return _cfg; }
  group_limits limits() const;
  durable_writer& writer() { return _writer; }
  void post(unsigned shard, std::function<void()> fn);

 private:
  void arm(unsigned shard);

  const config& _cfg;
  net::shard_pool& _shards;
  meta::store& _store;
  durable_writer _writer;
  std::vector<std::unique_ptr<shard_groups>> _per_shard;
  struct timers;
  std::unique_ptr<timers> _timers;
};

// Wall clock and monotonic clock in ms (the manager's sources of time).
int64_t wall_now_ms();
int64_t steady_now_ms();

}  // namespace sluice::coordinator
