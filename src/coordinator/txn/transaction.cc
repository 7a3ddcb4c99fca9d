#include "src/coordinator/txn/transaction.h"

#include <algorithm>
#include <array>

namespace sluice::coordinator {
namespace {

using kafka::error;

constexpr std::array<std::string_view, 8> kNames = {
    "Empty",          "Ongoing",       "PrepareCommit",     "PrepareAbort",
    "CompleteCommit", "CompleteAbort", "PrepareEpochFence", "Dead"};

}  // namespace

std::string_view txn_state_name(txn_state s) { return kNames[static_cast<size_t>(s)]; }

std::optional<txn_state> parse_txn_state(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<txn_state>(i);
  }
  return std::nullopt;
}

error transaction::check_producer(int64_t pid, int16_t e) const {
  if (state == txn_state::dead || pid != producer_id) return error::invalid_producer_id_mapping;
  if (e != epoch) return error::producer_fenced;
  return error::none;
}

transaction::init_outcome transaction::init_producer(int64_t expected_pid, int16_t expected_epoch,
                                                     int32_t timeout, int64_t now_ms) {
  if (pending) return {init_action::reply, error::concurrent_transactions};
  const bool expected = expected_pid >= 0;
  // Kafka's isValidProducerId: the current id, or the previous one when its epoch was exhausted
  // (a retry of the call that rotated the id).
  if (expected && epoch >= 0 && expected_pid != producer_id &&
      !(expected_pid == last_producer_id && expected_epoch >= kMaxProducerEpoch)) {
    return {init_action::reply, error::producer_fenced};
  }
  switch (state) {
    case txn_state::prepare_commit:
    case txn_state::prepare_abort:
    case txn_state::prepare_epoch_fence:
      return {init_action::reply, error::concurrent_transactions};
    case txn_state::dead:
      return {init_action::reply, error::invalid_producer_id_mapping};
    case txn_state::ongoing:
      // Abort the old epoch's transaction first; the bumped epoch is never handed out (the
      // retry bumps again).
      fence_and_abort(now_ms);
      timeout_ms = timeout;
      return {init_action::fence_abort, error::none};
    case txn_state::empty:
    case txn_state::complete_commit:
    case txn_state::complete_abort:
      break;
  }
  if (expected && expected_pid == last_producer_id && expected_epoch == last_epoch &&
      producer_id != expected_pid) {
    return {init_action::reply, error::none};  // retry after an id rotation
  }
  if (expected && expected_epoch != epoch) {
    if (expected_pid == producer_id && expected_epoch == last_epoch) {
      return {init_action::reply, error::none};  // retry of a bump the client never heard of
    }
    return {init_action::reply, error::producer_fenced};
  }
  if (epoch >= kMaxProducerEpoch) return {init_action::allocate, error::none};
  last_producer_id = producer_id;
  last_epoch = epoch;
  epoch = static_cast<int16_t>(epoch + 1);
  timeout_ms = timeout;
  finish_in(txn_state::empty, now_ms);
  return {init_action::write, error::none};
}

void transaction::assign_new_producer(int64_t pid, int64_t now_ms) {
  last_producer_id = producer_id;
  last_epoch = epoch;
  producer_id = pid;
  epoch = 0;
  finish_in(txn_state::empty, now_ms);
}

transaction::add_outcome transaction::add(int64_t pid, int16_t e,
                                          const std::vector<topic_partition>& tps,
                                          const std::string* group, int64_t now_ms) {
  if (pending) return {error::concurrent_transactions, false};
  if (error err = check_producer(pid, e); err != error::none) return {err, false};
  if (in_prepare() || state == txn_state::prepare_epoch_fence) {
    return {error::concurrent_transactions, false};
  }
  if (state == txn_state::ongoing) {
    const bool all = std::all_of(tps.begin(), tps.end(),
                                 [&](const topic_partition& tp) { return partitions.count(tp); }) &&
                     (group == nullptr || groups.count(*group) > 0);
    if (all) return {error::none, false};
  } else {
    // Empty or Complete*: a new transaction begins.
    partitions.clear();
    groups.clear();
    start_ms = now_ms;
    state = txn_state::ongoing;
  }
  partitions.insert(tps.begin(), tps.end());
  if (group != nullptr) groups.insert(*group);
  update_ms = now_ms;
  pending = true;
  return {error::none, true};
}

transaction::add_outcome transaction::add_partitions(int64_t pid, int16_t e,
                                                     const std::vector<topic_partition>& tps,
                                                     int64_t now_ms) {
  return add(pid, e, tps, nullptr, now_ms);
}

transaction::add_outcome transaction::add_group(int64_t pid, int16_t e, const std::string& group,
                                                int64_t now_ms) {
  return add(pid, e, {}, &group, now_ms);
}

error transaction::verify_partition(int64_t pid, int16_t e, const topic_partition& tp) const {
  if (error err = check_producer(pid, e); err != error::none) return err;
  if (state != txn_state::ongoing || partitions.count(tp) == 0) return error::invalid_txn_state;
  return error::none;
}

error transaction::verify_group(int64_t pid, int16_t e, const std::string& group) const {
  if (error err = check_producer(pid, e); err != error::none) return err;
  if (state != txn_state::ongoing || groups.count(group) == 0) return error::invalid_txn_state;
  return error::none;
}

transaction::end_outcome transaction::end(int64_t pid, int16_t e, bool commit, int64_t now_ms) {
  if (pending) return {error::concurrent_transactions, false};
  if (error err = check_producer(pid, e); err != error::none) return {err, false};
  switch (state) {
    case txn_state::ongoing:
      state = commit ? txn_state::prepare_commit : txn_state::prepare_abort;
      update_ms = now_ms;
      pending = true;
      return {error::none, true};
    case txn_state::complete_commit:
      return {commit ? error::none : error::invalid_txn_state, false};
    case txn_state::complete_abort:
      return {commit ? error::invalid_txn_state : error::none, false};
    case txn_state::prepare_commit:
      return {commit ? error::concurrent_transactions : error::invalid_txn_state, false};
    case txn_state::prepare_abort:
      return {commit ? error::invalid_txn_state : error::concurrent_transactions, false};
    case txn_state::prepare_epoch_fence:
      return {error::concurrent_transactions, false};
    case txn_state::empty:
    case txn_state::dead:
      break;
  }
  return {error::invalid_txn_state, false};
}

void transaction::complete(int64_t now_ms) {
  finish_in(
      state == txn_state::prepare_commit ? txn_state::complete_commit : txn_state::complete_abort,
      now_ms);
}

void transaction::finish_in(txn_state s, int64_t now_ms) {
  state = s;
  partitions.clear();
  groups.clear();
  start_ms = -1;
  update_ms = now_ms;
  pending = true;
}

bool transaction::expired(int64_t now_ms) const {
  return !pending && state == txn_state::ongoing && start_ms >= 0 &&
         now_ms - start_ms > int64_t(timeout_ms);
}

void transaction::fence_and_abort(int64_t now_ms) {
  // PrepareEpochFence is the in-memory step of Kafka's fencing; the record goes straight to
  // PrepareAbort with the bumped epoch, which is what the markers carry.
  state = txn_state::prepare_epoch_fence;
  if (epoch < kMaxProducerEpoch) epoch = static_cast<int16_t>(epoch + 1);
  state = txn_state::prepare_abort;
  update_ms = now_ms;
  pending = true;
}

}  // namespace sluice::coordinator
