// A partition's producer state as the shard drives it, with a fake clock (the `now_ms` passed to
// housekeeping): producer.id.expiration.ms drops idle producers but never one with an open
// transaction, and an expired producer may come back at any sequence; ABORT markers applied
// through the partition reach the segment's txn index and survive a clean restart.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "src/broker/partitions.h"
#include "src/protocol/record_batch.h"

namespace sluice::broker {
namespace {

constexpr int64_t kExpiration = 86400000;  // Kafka's producer.id.expiration.ms default
constexpr int64_t kStart = 1'700'000'000'000;

records::byte_span sv(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class PartitionProducers : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> n{0};
    _dir = std::filesystem::temp_directory_path() /
           ("sluice-partition-producers-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::remove_all(_dir);
    auto t = std::make_shared<topic_entry>();
    t->name = "t";
    t->partitions = 1;
    t->id[0] = 1;
    _topic = t;
    open();
  }
  void TearDown() override {
    _shard.reset();
    std::filesystem::remove_all(_dir);
  }
  void open() {
    // Inline executors: syncs, background work and completions run on the calling thread.
    _shard = std::make_unique<shard_partitions>(_fs, _dir.string(), shard_executors{},
                                                /*retention_check_interval_ms=*/1, kExpiration);
    _p = _shard->get(_topic, 0).value();
  }
  // Checks and appends one batch of `pid` at sequence `seq` at time `now`, as Produce does.
  storage::producer_state::verdict produce(int64_t pid, int32_t seq, int64_t now,
                                           bool txn = false) {
    records::batch_builder b;
    b.producer(pid, 0, seq).transactional(txn).add(now, sv("k"), sv("v"));
    auto bytes = b.build().value();
    auto h = records::parse_batch_header(bytes).value();
    auto d = _p->producers.check(h);
    if (d.what != storage::producer_state::verdict::append) return d.what;
    auto a = _p->log().append(bytes, now).value();
    _p->snapshot_if_rolled();
    h.base_offset = a.base_offset;
    _p->producers.apply(h, now);
    return d.what;
  }
  void abort(int64_t pid, int64_t now) {
    auto bytes =
        records::build_marker_batch(0, pid, 0, -1, {records::control_type::abort, 0}, now).value();
    auto a = _p->log().append(bytes, now).value();
    auto h = records::parse_batch_header(bytes).value();
    h.base_offset = a.base_offset;
    ASSERT_FALSE(_p->apply_marker(h, records::control_type::abort, now));
  }

  storage::posix_file_system _fs;
  std::filesystem::path _dir;
  std::shared_ptr<const topic_entry> _topic;
  std::unique_ptr<shard_partitions> _shard;
  partition* _p = nullptr;
};

TEST_F(PartitionProducers, idle_producers_expire_after_producer_id_expiration_ms) {
  using verdict = storage::producer_state::verdict;
  ASSERT_EQ(produce(7, 0, kStart), verdict::append);
  ASSERT_EQ(produce(8, 0, kStart, /*txn=*/true), verdict::append);  // stays open
  ASSERT_EQ(produce(9, 0, kStart + 1000), verdict::append);
  // One millisecond short: nothing goes.
  _shard->housekeeping(kStart + kExpiration - 1);
  EXPECT_EQ(_p->producers.size(), 3u);
  EXPECT_EQ(produce(7, 5, kStart + kExpiration - 1), verdict::out_of_order);  // still known
  // Producer 7 has been idle for exactly the expiration: forgotten. 8 has an open transaction
  // (its LSO must hold), 9 appended later.
  _shard->housekeeping(kStart + kExpiration);
  EXPECT_EQ(_p->producers.find(7), nullptr);
  EXPECT_NE(_p->producers.find(8), nullptr);
  EXPECT_NE(_p->producers.find(9), nullptr);
  EXPECT_EQ(_p->producers.first_unstable_offset(), 1);
  // An expired producer is unknown: it may continue at any sequence (KIP-360).
  EXPECT_EQ(produce(7, 5, kStart + kExpiration + 1), verdict::append);
  _shard->housekeeping(kStart + kExpiration + 1000);
  EXPECT_EQ(_p->producers.find(9), nullptr);
  EXPECT_NE(_p->producers.find(7), nullptr);  // its clock restarted with the append
  // Expired producers stay gone across a clean restart (the snapshot no longer holds them).
  _shard->close_all();
  open();
  EXPECT_EQ(_p->producers.find(9), nullptr);
  EXPECT_NE(_p->producers.find(7), nullptr);
  EXPECT_NE(_p->producers.find(8), nullptr);
}

TEST_F(PartitionProducers, aborts_reach_the_txn_index_and_survive_a_clean_restart) {
  ASSERT_EQ(produce(5, 0, kStart, /*txn=*/true), storage::producer_state::verdict::append);
  abort(5, kStart + 1);
  ASSERT_EQ(produce(6, 0, kStart + 2), storage::producer_state::verdict::append);
  const std::vector<storage::aborted_txn> want{{5, 0, 1, 2}};
  EXPECT_EQ(_p->log().collect_aborted(0, 3).value(), want);
  _shard->close_all();
  open();
  EXPECT_EQ(_p->log().collect_aborted(0, 3).value(), want);
  EXPECT_EQ(_p->producers.first_unstable_offset(), -1);
}

}  // namespace
}  // namespace sluice::broker
