// The transaction state machine (src/coordinator/txn/transaction.h): every transition and error
// code of Kafka's TransactionCoordinator checks, timeouts with a fake clock (times are passed in).

#include "src/coordinator/txn/transaction.h"

#include <gtest/gtest.h>

namespace sluice::coordinator {
namespace {

using kafka::error;
using act = transaction::init_action;

constexpr int64_t kPid = 1000;

// A transactional id with producer kPid at epoch 0, settled (as after its first InitProducerId).
transaction fresh(int32_t timeout_ms = 60000) {
  transaction t;
  t.id = "tx";
  t.assign_new_producer(kPid, 0);
  t.timeout_ms = timeout_ms;
  t.settle();
  return t;
}

transaction ongoing(int64_t now = 100) {
  transaction t = fresh();
  auto out = t.add_partitions(kPid, 0, {{"a", 0}}, now);
  EXPECT_EQ(out.error, error::none);
  EXPECT_TRUE(out.changed);
  t.settle();
  return t;
}

TEST(TxnState, NamesRoundTrip) {
  for (int i = 0; i <= 7; ++i) {
    auto s = static_cast<txn_state>(i);
    EXPECT_EQ(parse_txn_state(txn_state_name(s)), s);
  }
  EXPECT_EQ(txn_state_name(txn_state::prepare_commit), "PrepareCommit");
  EXPECT_FALSE(parse_txn_state("ongoing").has_value());  // exact, as Kafka
}

TEST(TxnState, NewProducerIsEmptyAtEpochZero) {
  transaction t = fresh();
  EXPECT_EQ(t.state, txn_state::empty);
  EXPECT_EQ(t.producer_id, kPid);
  EXPECT_EQ(t.epoch, 0);
  EXPECT_FALSE(t.pending);
}

TEST(TxnState, InitBumpsEpochAndRemembersThePrevious) {
  transaction t = fresh();
  auto out = t.init_producer(-1, -1, 30000, 5);
  EXPECT_EQ(out.action, act::write);
  EXPECT_EQ(t.epoch, 1);
  EXPECT_EQ(t.last_epoch, 0);
  EXPECT_EQ(t.last_producer_id, kPid);
  EXPECT_EQ(t.timeout_ms, 30000);
  EXPECT_TRUE(t.pending);
  // While the write is in flight: CONCURRENT_TRANSACTIONS.
  EXPECT_EQ(t.init_producer(-1, -1, 30000, 6).error, error::concurrent_transactions);
  EXPECT_EQ(t.add_partitions(kPid, 1, {{"a", 0}}, 6).error, error::concurrent_transactions);
  EXPECT_EQ(t.end(kPid, 1, true, 6).error, error::concurrent_transactions);
}

TEST(TxnState, InitWithExpectedIdAndEpoch) {
  transaction t = fresh();
  // KIP-360: the current id and epoch: bumped.
  EXPECT_EQ(t.init_producer(kPid, 0, 1000, 1).action, act::write);
  t.settle();
  EXPECT_EQ(t.epoch, 1);
  // A retry with the epoch before that bump: the current one comes back, no write.
  auto retry = t.init_producer(kPid, 0, 1000, 2);
  EXPECT_EQ(retry.action, act::reply);
  EXPECT_EQ(retry.error, error::none);
  EXPECT_EQ(t.epoch, 1);
  // Another producer id, or an epoch that was never ours: fenced.
  EXPECT_EQ(t.init_producer(kPid + 1, 1, 1000, 3).error, error::producer_fenced);
  EXPECT_EQ(t.init_producer(kPid, 7, 1000, 3).error, error::producer_fenced);
}

TEST(TxnState, ExhaustedEpochTakesANewProducerId) {
  transaction t = fresh();
  t.epoch = kMaxProducerEpoch;
  EXPECT_EQ(t.init_producer(-1, -1, 1000, 1).action, act::allocate);
  t.assign_new_producer(kPid + 5, 1);
  t.settle();
  EXPECT_EQ(t.producer_id, kPid + 5);
  EXPECT_EQ(t.epoch, 0);
  EXPECT_EQ(t.last_producer_id, kPid);
  // The old id at its exhausted epoch is a retry of that rotation: answered, not fenced.
  auto retry = t.init_producer(kPid, kMaxProducerEpoch, 1000, 2);
  EXPECT_EQ(retry.action, act::reply);
  EXPECT_EQ(retry.error, error::none);
}

TEST(TxnState, InitDuringOngoingFencesAndAborts) {
  transaction t = ongoing();
  auto out = t.init_producer(-1, -1, 1000, 200);
  EXPECT_EQ(out.action, act::fence_abort);
  EXPECT_EQ(t.state, txn_state::prepare_abort);
  EXPECT_EQ(t.epoch, 1);  // the markers carry the bumped epoch
  EXPECT_TRUE(t.pending);
  t.settle();
  // The old instance is fenced from now on.
  EXPECT_EQ(t.end(kPid, 0, true, 201).error, error::producer_fenced);
  // Until the abort completes, a new InitProducerId waits.
  EXPECT_EQ(t.init_producer(-1, -1, 1000, 201).error, error::concurrent_transactions);
  t.complete(202);
  t.settle();
  EXPECT_EQ(t.state, txn_state::complete_abort);
  EXPECT_EQ(t.init_producer(-1, -1, 1000, 203).action, act::write);
  EXPECT_EQ(t.epoch, 2);
}

TEST(TxnState, InitDuringPrepareIsConcurrent) {
  for (bool commit : {true, false}) {
    transaction t = ongoing();
    ASSERT_TRUE(t.end(kPid, 0, commit, 150).prepare);
    t.settle();
    EXPECT_EQ(t.init_producer(-1, -1, 1000, 151).error, error::concurrent_transactions);
  }
}

TEST(TxnState, DeadIsUnknown) {
  transaction t = fresh();
  t.state = txn_state::dead;
  EXPECT_EQ(t.init_producer(-1, -1, 1000, 1).error, error::invalid_producer_id_mapping);
  EXPECT_EQ(t.add_partitions(kPid, 0, {{"a", 0}}, 1).error, error::invalid_producer_id_mapping);
  EXPECT_EQ(t.end(kPid, 0, true, 1).error, error::invalid_producer_id_mapping);
}

TEST(TxnState, AddPartitionsStartsATransaction) {
  transaction t = fresh();
  auto out = t.add_partitions(kPid, 0, {{"a", 0}, {"b", 1}}, 77);
  EXPECT_EQ(out.error, error::none);
  EXPECT_TRUE(out.changed);
  EXPECT_EQ(t.state, txn_state::ongoing);
  EXPECT_EQ(t.start_ms, 77);
  EXPECT_EQ(t.partitions.size(), 2u);
  t.settle();
  // Already in: nothing to write.
  out = t.add_partitions(kPid, 0, {{"a", 0}}, 80);
  EXPECT_EQ(out.error, error::none);
  EXPECT_FALSE(out.changed);
  EXPECT_FALSE(t.pending);
  // A new one joins; the start time stays.
  out = t.add_partitions(kPid, 0, {{"c", 2}}, 90);
  EXPECT_TRUE(out.changed);
  EXPECT_EQ(t.start_ms, 77);
  EXPECT_EQ(t.partitions.size(), 3u);
}

TEST(TxnState, AddChecksTheProducer) {
  transaction t = fresh();
  EXPECT_EQ(t.add_partitions(kPid + 1, 0, {{"a", 0}}, 1).error, error::invalid_producer_id_mapping);
  EXPECT_EQ(t.add_partitions(kPid, 1, {{"a", 0}}, 1).error, error::producer_fenced);
  EXPECT_EQ(t.add_group(kPid, 3, "g", 1).error, error::producer_fenced);
  EXPECT_EQ(t.state, txn_state::empty);
}

TEST(TxnState, AddDuringPrepareIsConcurrent) {
  transaction t = ongoing();
  ASSERT_TRUE(t.end(kPid, 0, true, 150).prepare);
  t.settle();
  EXPECT_EQ(t.add_partitions(kPid, 0, {{"z", 0}}, 151).error, error::concurrent_transactions);
  EXPECT_EQ(t.add_group(kPid, 0, "g", 151).error, error::concurrent_transactions);
}

TEST(TxnState, AddGroupAndVerify) {
  transaction t = fresh();
  EXPECT_EQ(t.verify_group(kPid, 0, "g"), error::invalid_txn_state);
  auto out = t.add_group(kPid, 0, "g", 10);
  EXPECT_TRUE(out.changed);
  EXPECT_EQ(t.state, txn_state::ongoing);
  t.settle();
  EXPECT_FALSE(t.add_group(kPid, 0, "g", 11).changed);
  EXPECT_EQ(t.verify_group(kPid, 0, "g"), error::none);
  EXPECT_EQ(t.verify_group(kPid, 0, "other"), error::invalid_txn_state);
  EXPECT_EQ(t.verify_group(kPid, 1, "g"), error::producer_fenced);
  EXPECT_EQ(t.verify_group(kPid + 1, 0, "g"), error::invalid_producer_id_mapping);
}

TEST(TxnState, VerifyPartition) {
  transaction t = ongoing();
  EXPECT_EQ(t.verify_partition(kPid, 0, {"a", 0}), error::none);
  EXPECT_EQ(t.verify_partition(kPid, 0, {"a", 1}), error::invalid_txn_state);
  EXPECT_EQ(t.verify_partition(kPid, 2, {"a", 0}), error::producer_fenced);
}

TEST(TxnState, CommitAndAbortRoundTrips) {
  for (bool commit : {true, false}) {
    transaction t = ongoing();
    auto out = t.end(kPid, 0, commit, 150);
    EXPECT_EQ(out.error, error::none);
    EXPECT_TRUE(out.prepare);
    EXPECT_EQ(t.state, commit ? txn_state::prepare_commit : txn_state::prepare_abort);
    EXPECT_TRUE(t.pending);
    // The marker round runs with pending set: CONCURRENT_TRANSACTIONS for everyone.
    EXPECT_EQ(t.end(kPid, 0, commit, 151).error, error::concurrent_transactions);
    t.complete(160);
    t.settle();
    EXPECT_EQ(t.state, commit ? txn_state::complete_commit : txn_state::complete_abort);
    EXPECT_TRUE(t.partitions.empty());
    EXPECT_TRUE(t.groups.empty());
    EXPECT_EQ(t.start_ms, -1);
    // A retry of the same end succeeds; the opposite one is INVALID_TXN_STATE.
    EXPECT_EQ(t.end(kPid, 0, commit, 170).error, error::none);
    EXPECT_FALSE(t.end(kPid, 0, commit, 170).prepare);
    EXPECT_EQ(t.end(kPid, 0, !commit, 170).error, error::invalid_txn_state);
    // The next transaction starts from Complete*.
    auto add = t.add_partitions(kPid, 0, {{"b", 0}}, 180);
    EXPECT_TRUE(add.changed);
    EXPECT_EQ(t.state, txn_state::ongoing);
    EXPECT_EQ(t.start_ms, 180);
    EXPECT_EQ(t.partitions.size(), 1u);
  }
}

TEST(TxnState, EndWhilePreparing) {
  transaction c = ongoing();
  ASSERT_TRUE(c.end(kPid, 0, true, 1).prepare);
  c.settle();  // PrepareCommit written; markers not done (pending cleared only to test states)
  EXPECT_EQ(c.end(kPid, 0, true, 2).error, error::concurrent_transactions);
  EXPECT_EQ(c.end(kPid, 0, false, 2).error, error::invalid_txn_state);
  transaction a = ongoing();
  ASSERT_TRUE(a.end(kPid, 0, false, 1).prepare);
  a.settle();
  EXPECT_EQ(a.end(kPid, 0, false, 2).error, error::concurrent_transactions);
  EXPECT_EQ(a.end(kPid, 0, true, 2).error, error::invalid_txn_state);
}

TEST(TxnState, EndWithoutTransactionOrWrongProducer) {
  transaction t = fresh();
  EXPECT_EQ(t.end(kPid, 0, true, 1).error, error::invalid_txn_state);
  EXPECT_EQ(t.end(kPid, 0, false, 1).error, error::invalid_txn_state);
  transaction o = ongoing();
  EXPECT_EQ(o.end(kPid + 1, 0, true, 1).error, error::invalid_producer_id_mapping);
  EXPECT_EQ(o.end(kPid, 1, true, 1).error, error::producer_fenced);
  EXPECT_EQ(o.state, txn_state::ongoing);
}

TEST(TxnState, TimeoutWithFakeClock) {
  transaction t = fresh(1000);
  EXPECT_FALSE(t.expired(1'000'000));  // Empty never expires
  ASSERT_TRUE(t.add_partitions(kPid, 0, {{"a", 0}}, 5000).changed);
  EXPECT_FALSE(t.expired(7000));  // pending write
  t.settle();
  EXPECT_FALSE(t.expired(5000));
  EXPECT_FALSE(t.expired(6000));  // exactly the timeout: not yet
  EXPECT_TRUE(t.expired(6001));
  t.fence_and_abort(6001);
  EXPECT_EQ(t.state, txn_state::prepare_abort);
  EXPECT_EQ(t.epoch, 1);
  EXPECT_FALSE(t.expired(100000));
  t.settle();
  // The zombie is fenced everywhere.
  EXPECT_EQ(t.add_partitions(kPid, 0, {{"a", 0}}, 6002).error, error::producer_fenced);
  EXPECT_EQ(t.end(kPid, 0, true, 6002).error, error::producer_fenced);
  t.complete(6003);
  t.settle();
  EXPECT_EQ(t.state, txn_state::complete_abort);
}

TEST(TxnState, FenceAtTheLastEpochKeepsIt) {
  transaction t = ongoing();
  t.epoch = kMaxProducerEpoch;
  t.fence_and_abort(1);
  EXPECT_EQ(t.epoch, kMaxProducerEpoch);
  EXPECT_EQ(t.state, txn_state::prepare_abort);
}

}  // namespace
}  // namespace sluice::coordinator
