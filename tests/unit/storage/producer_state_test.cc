#include "src/storage/producer_state.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "src/storage/log.h"
#include "tests/unit/storage/storage_test_util.h"

namespace sluice::storage {
namespace {

using testing::sv;
using testing::temp_dir;
using verdict = producer_state::verdict;

// A header as a client sends it: `count` records from sequence `seq`.
records::batch_header header(int64_t pid, int16_t epoch, int32_t seq, int32_t count,
                             int64_t base_offset = 0) {
  records::batch_header h;
  h.producer_id = pid;
  h.producer_epoch = epoch;
  h.base_sequence = seq;
  h.last_offset_delta = count - 1;
  h.records_count = count;
  h.base_offset = base_offset;
  h.max_timestamp = 1000 + base_offset;
  return h;
}

// check(), and apply() at `offset` when the verdict is append.
verdict produce(producer_state& s, records::batch_header h, int64_t& offset, int64_t now = 5) {
  auto d = s.check(h);
  if (d.what == verdict::append) {
    h.base_offset = offset;
    s.apply(h, now);
    offset += h.last_offset_delta + 1;
  }
  return d.what;
}

TEST(producer_state, in_order_batches_append_and_gaps_are_out_of_order) {
  producer_state s;
  int64_t off = 0;
  EXPECT_EQ(produce(s, header(7, 0, 0, 3), off), verdict::append);
  EXPECT_EQ(produce(s, header(7, 0, 3, 2), off), verdict::append);
  EXPECT_EQ(s.find(7)->last_seq(), 4);
  EXPECT_EQ(produce(s, header(7, 0, 6, 1), off), verdict::out_of_order);  // 5 missing
  EXPECT_EQ(produce(s, header(7, 0, 4, 2), off), verdict::out_of_order);  // overlaps, not equal
  EXPECT_EQ(produce(s, header(7, 0, 5, 1), off), verdict::append);
  EXPECT_EQ(off, 6);
}

TEST(producer_state, duplicates_of_the_last_five_answer_with_their_offsets) {
  producer_state s;
  int64_t off = 100;
  for (int i = 0; i < 6; ++i) ASSERT_EQ(produce(s, header(1, 0, i * 2, 2), off), verdict::append);
  // Batches 1..5 (sequences 2..11) are retained, batch 0 (0..1) is not.
  for (int i = 1; i < 6; ++i) {
    auto d = s.check(header(1, 0, i * 2, 2));
    ASSERT_EQ(d.what, verdict::duplicate) << i;
    EXPECT_EQ(d.original.first_offset, 100 + i * 2);
    EXPECT_EQ(d.original.last_offset, 101 + i * 2);
  }
  EXPECT_EQ(s.check(header(1, 0, 0, 2)).what, verdict::out_of_order);
  EXPECT_EQ(s.find(1)->batches.size(), kRetainedBatches);
}

TEST(producer_state, older_epochs_are_refused_and_new_epochs_start_at_zero) {
  producer_state s;
  int64_t off = 0;
  ASSERT_EQ(produce(s, header(3, 2, 0, 4), off), verdict::append);
  EXPECT_EQ(s.check(header(3, 1, 4, 1)).what, verdict::invalid_epoch);
  EXPECT_EQ(s.check(header(3, 3, 4, 1)).what, verdict::out_of_order);
  EXPECT_EQ(produce(s, header(3, 3, 0, 1), off), verdict::append);  // KIP-360 bump
  EXPECT_EQ(s.find(3)->epoch, 3);
  EXPECT_EQ(s.find(3)->batches.size(), 1u);
  // The old epoch's batches are no longer duplicates: the old epoch is fenced.
  EXPECT_EQ(s.check(header(3, 2, 0, 4)).what, verdict::invalid_epoch);
}

TEST(producer_state, unknown_producers_start_at_any_sequence_and_no_pid_is_not_tracked) {
  producer_state s;
  int64_t off = 0;
  EXPECT_EQ(produce(s, header(9, 0, 42, 1), off), verdict::append);
  EXPECT_EQ(produce(s, header(-1, -1, -1, 5), off), verdict::append);
  EXPECT_EQ(s.size(), 1u);
}

TEST(producer_state, sequences_wrap_after_int32_max) {
  producer_state s;
  int64_t off = 0;
  ASSERT_EQ(produce(s, header(5, 0, INT32_MAX - 1, 4), off), verdict::append);
  EXPECT_EQ(last_sequence(header(5, 0, INT32_MAX - 1, 4)), 1);
  EXPECT_EQ(s.find(5)->last_seq(), 1);
  EXPECT_EQ(produce(s, header(5, 0, 2, 1), off), verdict::append);
  ASSERT_EQ(produce(s, header(6, 0, INT32_MAX, 1), off), verdict::append);
  EXPECT_EQ(produce(s, header(6, 0, 0, 1), off), verdict::append);
}

TEST(producer_state, expiry_forgets_idle_producers_only) {
  producer_state s;
  int64_t off = 0;
  produce(s, header(1, 0, 0, 1), off, /*now=*/1000);
  produce(s, header(2, 0, 0, 1), off, /*now=*/5000);
  EXPECT_EQ(s.remove_expired(/*now=*/4500, /*expiration=*/4000), 0u);
  EXPECT_EQ(s.remove_expired(/*now=*/8000, /*expiration=*/4000), 1u);
  EXPECT_EQ(s.find(1), nullptr);
  ASSERT_NE(s.find(2), nullptr);
  // An expired producer may start again anywhere (Kafka: state lost means any sequence).
  EXPECT_EQ(produce(s, header(1, 0, 17, 1), off), verdict::append);
}

TEST(producer_state, snapshot_round_trips_and_rejects_damage) {
  producer_state s;
  int64_t off = 0;
  for (int i = 0; i < 7; ++i)
    ASSERT_EQ(produce(s, header(10 + i % 3, 1, i / 3, 1), off), verdict::append);
  auto h = header(99, 0, 0, 2);
  h.attributes = records::attr::kTransactional;
  produce(s, h, off);
  auto bytes = s.encode();
  auto back = producer_state::decode(bytes);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back.value().producers(), s.producers());
  EXPECT_EQ(back.value().find(99)->txn_first_offset, 7);
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto damaged = bytes;
    damaged[i] ^= 0x40;
    EXPECT_FALSE(producer_state::decode(damaged)) << "flipped byte " << i;
  }
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(producer_state::decode(std::span(bytes).first(n))) << "truncated to " << n;
  }
}

// Appends a batch of producer `pid` to `lg` and applies it, as the broker does.
void log_append(log& lg, producer_state& s, int64_t pid, int16_t epoch, int32_t seq, int count) {
  records::batch_builder b;
  b.producer(pid, epoch, seq);
  for (int i = 0; i < count; ++i) b.add(1700000000000 + i, sv("k"), sv("v"));
  auto bytes = b.build().value();
  ASSERT_EQ(s.check(records::parse_batch_header(bytes).value()).what, verdict::append);
  auto r = lg.append(bytes);
  ASSERT_TRUE(r);
  s.apply(records::parse_batch_header(bytes).value(), 1);
}

TEST(producer_state, load_replays_the_log_without_a_snapshot) {
  temp_dir dir;
  posix_file_system fs;
  producer_state s;
  {
    auto lg = log::open(fs, dir.path(), {}).value();
    log_append(*lg, s, 1, 0, 0, 3);
    log_append(*lg, s, 2, 4, 0, 1);
    log_append(*lg, s, 1, 0, 3, 2);
    ASSERT_FALSE(lg->close());
  }
  auto lg = log::open(fs, dir.path(), {}).value();
  size_t replayed = 0;
  auto loaded = producer_state::load(fs, *lg, &replayed);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(replayed, 3u);
  ASSERT_NE(loaded.value().find(1), nullptr);
  EXPECT_EQ(loaded.value().find(1)->last_seq(), 4);
  EXPECT_EQ(loaded.value().find(1)->batches, s.find(1)->batches);
  EXPECT_EQ(loaded.value().find(2)->epoch, 4);
  // A retry of the last batch after the restart is still a duplicate.
  EXPECT_EQ(loaded.value().check(header(1, 0, 3, 2)).what, verdict::duplicate);
}

TEST(producer_state, load_starts_from_the_snapshot_and_replays_only_the_rest) {
  temp_dir dir;
  posix_file_system fs;
  producer_state s;
  {
    auto lg = log::open(fs, dir.path(), {}).value();
    for (int i = 0; i < 4; ++i) log_append(*lg, s, 1, 0, i, 1);
    ASSERT_FALSE(s.write_snapshot(fs, dir.path(), lg->log_end_offset(), true));
    log_append(*lg, s, 1, 0, 4, 1);
    log_append(*lg, s, 8, 0, 0, 1);
    ASSERT_FALSE(lg->close());
  }
  auto lg = log::open(fs, dir.path(), {}).value();
  size_t replayed = 0;
  auto loaded = producer_state::load(fs, *lg, &replayed);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(replayed, 2u);
  EXPECT_EQ(loaded.value().find(1)->batches, s.find(1)->batches);
  EXPECT_EQ(loaded.value().find(8)->last_seq(), 0);
}

TEST(producer_state, snapshots_past_the_log_end_or_damaged_are_dropped) {
  temp_dir dir;
  posix_file_system fs;
  producer_state s;
  auto lg = log::open(fs, dir.path(), {}).value();
  log_append(*lg, s, 1, 0, 0, 1);
  log_append(*lg, s, 1, 0, 1, 1);
  producer_state bogus;
  int64_t off = 0;
  produce(bogus, header(77, 0, 0, 1), off);
  ASSERT_FALSE(bogus.write_snapshot(fs, dir.path(), 50, false));  // beyond the log end (2)
  ASSERT_FALSE(s.write_snapshot(fs, dir.path(), 1, false));
  {  // damage the snapshot at 1
    std::fstream f(dir.file(producer_state::snapshot_name(1)),
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(12);
    f.put('\x7f');
  }
  size_t replayed = 0;
  auto loaded = producer_state::load(fs, *lg, &replayed);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(replayed, 2u);  // from the log start
  EXPECT_EQ(loaded.value().find(77), nullptr);
  EXPECT_EQ(loaded.value().find(1)->last_seq(), 1);
  EXPECT_FALSE(std::filesystem::exists(dir.file(producer_state::snapshot_name(50))));
  EXPECT_FALSE(std::filesystem::exists(dir.file(producer_state::snapshot_name(1))));
}

TEST(producer_state, write_snapshot_keeps_the_two_newest) {
  temp_dir dir;
  posix_file_system fs;
  producer_state s;
  for (int64_t o : {3, 9, 5, 12}) ASSERT_FALSE(s.write_snapshot(fs, dir.path(), o, false));
  EXPECT_FALSE(std::filesystem::exists(dir.file(producer_state::snapshot_name(3))));
  EXPECT_FALSE(std::filesystem::exists(dir.file(producer_state::snapshot_name(5))));
  EXPECT_TRUE(std::filesystem::exists(dir.file(producer_state::snapshot_name(9))));
  EXPECT_TRUE(std::filesystem::exists(dir.file(producer_state::snapshot_name(12))));
}

TEST(producer_state, transactions_set_the_lso_and_aborts_are_listed) {
  producer_state s;
  auto txn = [](int64_t pid, int32_t seq, int64_t offset) {
    auto h = header(pid, 0, seq, 1, offset);
    h.attributes = records::attr::kTransactional;
    return h;
  };
  auto marker = [](int64_t pid, int16_t epoch, int64_t offset) {
    records::batch_header h;
    h.producer_id = pid;
    h.producer_epoch = epoch;
    h.base_offset = offset;
    h.attributes = records::attr::kControl | records::attr::kTransactional;
    return h;
  };
  EXPECT_EQ(s.first_unstable_offset(), -1);
  s.apply(txn(1, 0, 10), 1);
  s.apply(txn(2, 0, 11), 1);
  s.apply(txn(1, 1, 12), 1);
  EXPECT_EQ(s.first_unstable_offset(), 10);
  // A commit yields no aborted entry.
  EXPECT_FALSE(s.apply_marker(marker(1, 0, 13), records::control_type::commit, 1));
  EXPECT_EQ(s.first_unstable_offset(), 11);
  s.apply(txn(3, 0, 15), 1);
  EXPECT_EQ(s.check_marker(marker(2, 0, 16)).what, verdict::append);
  // An abort yields its entry; the LSO after it is producer 3's open transaction.
  EXPECT_EQ(s.apply_marker(marker(2, 0, 16), records::control_type::abort, 1),
            (aborted_txn{2, 11, 16, 15}));
  EXPECT_EQ(s.first_unstable_offset(), 15);
  // With nothing left open the LSO is just past the marker.
  EXPECT_EQ(s.apply_marker(marker(3, 0, 17), records::control_type::abort, 1),
            (aborted_txn{3, 15, 17, 18}));
  EXPECT_EQ(s.first_unstable_offset(), -1);
  // An abort with no open transaction (a retried marker) yields nothing.
  EXPECT_FALSE(s.apply_marker(marker(3, 0, 18), records::control_type::abort, 1));
  // A marker from an older epoch is fenced.
  s.apply(header(2, 3, 0, 1, 20), 1);
  EXPECT_EQ(s.check_marker(marker(2, 2, 21)).what, verdict::invalid_epoch);
  auto back = producer_state::decode(s.encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(back.value().producers(), s.producers());
}

TEST(producer_state, load_replays_markers) {
  temp_dir dir;
  posix_file_system fs;
  {
    auto lg = log::open(fs, dir.path(), {}).value();
    records::batch_builder b;
    b.producer(4, 0, 0).transactional(true).add(1, sv("k"), sv("v"));
    auto data = b.build().value();
    ASSERT_TRUE(lg->append(data));
    auto m = records::build_marker_batch(0, 4, 0, -1, {records::control_type::abort, 0}, 2);
    ASSERT_TRUE(lg->append(m.value()));
    records::batch_builder c;
    c.producer(5, 0, 0).transactional(true).add(1, sv("k"), sv("v"));
    auto open = c.build().value();
    ASSERT_TRUE(lg->append(open));
    ASSERT_FALSE(lg->close());
  }
  auto lg = log::open(fs, dir.path(), {}).value();
  auto loaded = producer_state::load(fs, *lg);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(lg->collect_aborted(0, 100).value(), (std::vector<aborted_txn>{{4, 0, 1, 2}}));
  EXPECT_EQ(loaded.value().first_unstable_offset(), 2);
}

}  // namespace
}  // namespace sluice::storage
