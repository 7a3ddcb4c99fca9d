#pragma once
// The transaction coordinator: every transactional id's state (transaction.h), durable in the
// metadata store, and the work of ending transactions (markers, transactional offsets).
//
// Contract:
// - Each transactional id is owned by one shard, owner_of(id) (hash over the shards, as groups),
//   and touched only there. Handlers reach it with call()/call_all() as they do groups.
// - Every change is written (synced, group commit through a durable_writer) under
//   meta::txn_key before the request that caused it is answered. A failed write restores the
//   previous state and answers COORDINATOR_NOT_AVAILABLE.
// - Ending a transaction: PrepareCommit/PrepareAbort durable -> a marker to every partition of
//   it (through marker_writer, the same path WriteTxnMarkers uses) and the pending offsets of its
//   groups applied or dropped (group_manager) -> CompleteCommit/CompleteAbort durable -> EndTxn
//   answered. A failed marker or offset write is retried every second. While this runs the
//   transactional id answers CONCURRENT_TRANSACTIONS.
// - Timers: each shard checks its transactions every second; an Ongoing one older than its
//   timeout is aborted with its epoch bumped (the producer is fenced); an Empty or Complete* id
//   unused for transactional.id.expiration.ms is forgotten.
// - Restart: load() reads every record; start() completes those in PrepareCommit/PrepareAbort
//   (markers are written again; a second marker of the same epoch is harmless).
//
// Thread safety: set_*() and load() before the shards start; start() once they run; stop()
// after they stopped. call()/call_all() from any shard thread. shard_txns: its shard only.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <sluice/config.h>

#include "src/base/errc.h"
#include "src/coordinator/group/durable_writer.h"
#include "src/coordinator/group/group_manager.h"
#include "src/coordinator/sharded_calls.h"
#include "src/coordinator/txn/transaction.h"
#include "src/meta/store.h"
#include "src/net/shard_pool.h"

namespace sluice::coordinator {

struct txn_markers {
  int64_t producer_id = -1;
  int16_t epoch = -1;
  bool commit = false;
  std::vector<topic_partition> partitions;
};
// Writes one marker per partition; done(error per partition, in order) may run on any thread.
using marker_writer =
    std::function<void(unsigned home, txn_markers, std::function<void(std::vector<kafka::error>)>)>;
// A fresh producer id (src/broker/producer_ids.h); done may run on any thread.
using id_allocator = std::function<void(std::function<void(result<int64_t>)>)>;

struct init_pid_result {
  kafka::error error = kafka::error::none;
  int64_t producer_id = -1;
  int16_t epoch = -1;
};

class txn_manager;

// The transactional ids one shard owns.
class shard_txns {
 public:
  shard_txns(txn_manager& owner, unsigned shard) : _owner(owner), _shard(shard) {}

  void init_producer(const std::string& id, int32_t timeout_ms, int64_t pid, int16_t epoch,
                     std::function<void(init_pid_result)> done);
  void add_partitions(const std::string& id, int64_t pid, int16_t epoch,
                      std::vector<topic_partition> tps, std::function<void(kafka::error)> done);
  kafka::error verify_partition(const std::string& id, int64_t pid, int16_t epoch,
                                const topic_partition& tp) const;
  kafka::error verify_group(const std::string& id, int64_t pid, int16_t epoch,
                            const std::string& group) const;
  void add_offsets(const std::string& id, int64_t pid, int16_t epoch, const std::string& group,
                   std::function<void(kafka::error)> done);
  void end(const std::string& id, int64_t pid, int16_t epoch, bool commit,
           std::function<void(kafka::error)> done);

  const transaction* find(const std::string& id) const;
  std::vector<transaction> all() const;

  void tick(int64_t wall_ms);
  void adopt(transaction t) { _txns[t.id] = std::move(t); }
  // Completes every transaction loaded in PrepareCommit/PrepareAbort.
  void recover();

 private:
  // Writes t's record; on success done(none) with t still pending (the caller settles), on
  // failure t becomes `before` again and done(COORDINATOR_NOT_AVAILABLE).
  void persist(const std::string& id, transaction before, std::function<void(kafka::error)> done);
  // t is in PrepareX (durable): markers, group offsets, CompleteX durable, then done.
  void finish(const std::string& id, std::function<void()> done);
  void write_markers(const std::string& id, std::function<void()> next);
  void complete_groups(const std::string& id, std::function<void()> next);
  void retry_later(std::function<void()> fn);

  txn_manager& _owner;
  unsigned _shard;
  std::unordered_map<std::string, transaction> _txns;
};

class txn_manager : public sharded_calls<txn_manager> {
 public:
  txn_manager(const config& cfg, net::shard_pool& shards, meta::store& store,
              group_manager& groups);
  ~txn_manager();

  void set_marker_writer(marker_writer w) { _markers = std::move(w); }
  void set_id_allocator(id_allocator a) { _ids = std::move(a); }
  std::error_code load();
  void start();
  void stop();

  unsigned owner_of(std::string_view id) const;
  unsigned shard_count() const { return static_cast<unsigned>(_per_shard.size()); }
  shard_txns& on_shard(unsigned s) { return *_per_shard[s]; }
  const config& cfg() const { return _cfg; }
  durable_writer& writer() { return _writer; }
  group_manager& groups() { return _groups; }
  const marker_writer& markers() const { return _markers; }
  const id_allocator& ids() const { return _ids; }
  void post(unsigned shard, std::function<void()> fn);
  // Runs fn on `shard` after `ms` milliseconds.
  void post_after(unsigned shard, int64_t ms, std::function<void()> fn);

 private:
  void arm(unsigned shard);

  const config& _cfg;
  net::shard_pool& _shards;
  meta::store& _store;
  group_manager& _groups;
  durable_writer _writer;
  marker_writer _markers;
  id_allocator _ids;
  std::vector<std::unique_ptr<shard_txns>> _per_shard;
  struct timers;
  std::unique_ptr<timers> _timers;
};

// The record stored for t (meta::TxnRecord), and back; false for a value that does not parse.
std::string encode_txn(const transaction& t);
bool decode_txn(std::string_view id, std::string_view value, transaction& t);

}  // namespace sluice::coordinator
