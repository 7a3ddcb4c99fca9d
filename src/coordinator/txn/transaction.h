#pragma once
// One transactional id's transaction state: Kafka's TransactionMetadata and the checks of its
// TransactionCoordinator, as a pure state machine (no I/O; wall-clock time passed in).
//
// Contract:
// - States are Kafka's: Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit,
//   CompleteAbort, PrepareEpochFence, Dead. Every request first checks `pending`: while a durable
//   write or a marker round is in flight the answer is CONCURRENT_TRANSACTIONS.
// - A method that changes the state applies the change at once and sets `pending`; the caller
//   (txn_manager) writes the record, then calls settle() (written) or restores its copy (failed).
//   Nothing is answered before the write is durable.
// - Fencing: a request whose producer id differs is INVALID_PRODUCER_ID_MAPPING, whose epoch
//   differs PRODUCER_FENCED (handlers turn that into INVALID_PRODUCER_EPOCH for old versions).
//
// Thread safety: none; the owner shard's thread only.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/protocol/kafka_error.h"

namespace sluice::coordinator {

enum class txn_state : int {
  empty = 0,
  ongoing = 1,
  prepare_commit = 2,
  prepare_abort = 3,
  complete_commit = 4,
  complete_abort = 5,
  prepare_epoch_fence = 6,
  dead = 7,
};
// Kafka's names ("Empty", "Ongoing", ...), as DescribeTransactions/ListTransactions show them.
std::string_view txn_state_name(txn_state s);
std::optional<txn_state> parse_txn_state(std::string_view name);

using topic_partition = std::pair<std::string, int32_t>;

// Kafka's last usable epoch: a bump from here takes a new producer id.
inline constexpr int16_t kMaxProducerEpoch = INT16_MAX - 1;

struct transaction {
  std::string id;
  int64_t producer_id = -1;
  int16_t epoch = -1;
  // The id and epoch before the last InitProducerId bump: a client retrying that call presents
  // them and gets the current ones back.
  int64_t last_producer_id = -1;
  int16_t last_epoch = -1;
  int32_t timeout_ms = 0;
  txn_state state = txn_state::empty;
  std::set<topic_partition> partitions;
  std::set<std::string> groups;  // AddOffsetsToTxn
  int64_t start_ms = -1;         // wall clock when it became Ongoing; -1 when not
  int64_t update_ms = 0;         // wall clock of the last change
  bool pending = false;          // a write or a marker round is in flight

  bool in_prepare() const {
    return state == txn_state::prepare_commit || state == txn_state::prepare_abort;
  }

  // InitProducerId. `expected_*` are -1 before v3 or for a fresh producer.
  enum class init_action {
    reply,        // answer error (or the current id/epoch when none), nothing to write
    allocate,     // a new producer id is needed: call assign_new_producer(), then write
    write,        // the epoch was bumped: write, then answer the current id/epoch
    fence_abort,  // an Ongoing transaction of the old epoch: the epoch was bumped and the
                  // state is PrepareAbort; write, complete the abort, answer
                  // CONCURRENT_TRANSACTIONS (the client retries)
  };
  struct init_outcome {
    init_action action = init_action::reply;
    kafka::error error = kafka::error::none;
  };
  init_outcome init_producer(int64_t expected_pid, int16_t expected_epoch, int32_t timeout,
                             int64_t now_ms);
  // After init_action::allocate (or a new id at epoch 0).
  void assign_new_producer(int64_t pid, int64_t now_ms);

  // AddPartitionsToTxn / AddOffsetsToTxn: changed = false when everything was already in the
  // transaction (nothing to write).
  struct add_outcome {
    kafka::error error = kafka::error::none;
    bool changed = false;
  };
  add_outcome add_partitions(int64_t pid, int16_t epoch, const std::vector<topic_partition>& tps,
                             int64_t now_ms);
  add_outcome add_group(int64_t pid, int16_t epoch, const std::string& group, int64_t now_ms);
  // The v4+ verify_only form: none when the partition is in the ongoing transaction.
  kafka::error verify_partition(int64_t pid, int16_t epoch, const topic_partition& tp) const;
  // TxnOffsetCommit: the producer is current and the group was added (AddOffsetsToTxn) to its
  // ongoing transaction; INVALID_TXN_STATE otherwise.
  kafka::error verify_group(int64_t pid, int16_t epoch, const std::string& group) const;

  // EndTxn. prepare = true: the state is now PrepareCommit/PrepareAbort (write, write markers,
  // then complete()); false with error none: a retry of a completed end, answer none.
  struct end_outcome {
    kafka::error error = kafka::error::none;
    bool prepare = false;
  };
  end_outcome end(int64_t pid, int16_t epoch, bool commit, int64_t now_ms);
  // PrepareX -> CompleteX: partitions and groups are cleared. Sets pending (write it).
  void complete(int64_t now_ms);

  // The broker aborts an Ongoing transaction older than its timeout: bump the epoch (fencing the
  // producer: PRODUCER_FENCED on its next request, INVALID_PRODUCER_EPOCH on its next produce)
  // and go to PrepareAbort. False when it is not expired (or busy).
  bool expired(int64_t now_ms) const;
  void fence_and_abort(int64_t now_ms);

  // The durable write of the last change finished.
  void settle() { pending = false; }

 private:
  // Leaves no transaction open: state `s`, no partitions or groups, pending (write it).
  void finish_in(txn_state s, int64_t now_ms);
  kafka::error check_producer(int64_t pid, int16_t epoch) const;
  add_outcome add(int64_t pid, int16_t epoch, const std::vector<topic_partition>& tps,
                  const std::string* group, int64_t now_ms);
};

}  // namespace sluice::coordinator
