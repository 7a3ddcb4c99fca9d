// The aborted-transactions index (.txnindex): the file itself (append, validation on open,
// collect with Kafka's completeness rule), and the log around it as the broker drives it:
// markers in later segments found from earlier fetch offsets, recovery after a torn tail or a
// power cut rebuilding entries from the log, a missing index forcing a replay past a snapshot,
// retention and compaction taking entries with their segment.

#include "src/storage/txn_index.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "src/storage/compaction.h"
#include "src/storage/log.h"
#include "src/storage/producer_state.h"
#include "tests/unit/storage/storage_test_util.h"

namespace sluice::storage {
namespace {

using testing::sv;
using testing::temp_dir;
using txns = std::vector<aborted_txn>;

TEST(txn_index, appends_collects_and_stops_once_complete) {
  temp_dir dir;
  posix_file_system fs;
  auto t = txn_index::create(fs, dir.path(), 100).value();
  ASSERT_FALSE(t.append({1, 100, 105, 103}));  // LSO 103: producer 2's transaction still open
  ASSERT_FALSE(t.append({2, 103, 110, 111}));
  ASSERT_FALSE(t.append({3, 112, 120, 121}));
  EXPECT_EQ(t.append({4, 100, 120, 121}), errc::invalid_data);  // not after the last marker
  EXPECT_EQ(t.size(), 3u);
  txns out;
  // [106, 111): producer 1's ended before; 2 overlaps; the entry of 2 has LSO 111 >= 111, so the
  // search is complete and 3 (which starts later anyway) is not even looked at.
  EXPECT_TRUE(t.collect(106, 111, out).value());
  EXPECT_EQ(out, (txns{{2, 103, 110, 111}}));
  out.clear();
  // [100, 200): everything overlaps and no entry proves completeness.
  EXPECT_FALSE(t.collect(100, 200, out).value());
  EXPECT_EQ(out.size(), 3u);
  out.clear();
  EXPECT_FALSE(t.collect(121, 200, out).value());  // all ended before 121
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(std::filesystem::file_size(dir.file(txn_index::name(100))), 3 * 34u);
}

TEST(txn_index, collect_finds_its_start_in_a_long_index) {
  temp_dir dir;
  posix_file_system fs;
  auto t = txn_index::create(fs, dir.path(), 0).value();
  // 1000 single-batch transactions, each aborted right away: entry i covers [10i, 10i + 1].
  for (int64_t i = 0; i < 1000; ++i) ASSERT_FALSE(t.append({i, 10 * i, 10 * i + 1, 10 * i + 2}));
  for (int64_t from : {0, 1, 2, 5, 4999, 5000, 5001, 5002, 9991, 9992}) {
    txns out;
    const bool complete = t.collect(from, from + 25, out).value();
    txns want;
    for (int64_t i = 0; i < 1000; ++i) {
      if (10 * i + 1 >= from && 10 * i < from + 25)
        want.push_back({i, 10 * i, 10 * i + 1, 10 * i + 2});
    }
    EXPECT_EQ(out, want) << from;
    EXPECT_EQ(complete, from + 25 <= 9992) << from;  // the last entry's LSO is 9992
  }
}

TEST(txn_index, open_keeps_the_valid_prefix_and_asks_for_a_rebuild) {
  temp_dir dir;
  posix_file_system fs;
  {
    auto t = txn_index::create(fs, dir.path(), 0).value();
    ASSERT_FALSE(t.append({1, 0, 5, 6}));
    ASSERT_FALSE(t.append({2, 6, 9, 10}));
  }
  {
    auto t = txn_index::open(fs, dir.path(), 0, /*next_offset=*/10).value();
    EXPECT_FALSE(t.needs_rebuild());
    EXPECT_EQ(t.entries().value(), (txns{{1, 0, 5, 6}, {2, 6, 9, 10}}));
  }
  // The segment lost its tail (next offset 8): the entry for marker 9 is gone and the rest of
  // the index is suspect.
  {
    auto t = txn_index::open(fs, dir.path(), 0, /*next_offset=*/8).value();
    EXPECT_TRUE(t.needs_rebuild());
    EXPECT_EQ(t.entries().value(), (txns{{1, 0, 5, 6}}));
    ASSERT_FALSE(t.truncate_from(0));
    EXPECT_FALSE(t.needs_rebuild());
    EXPECT_EQ(t.size(), 0u);
    ASSERT_FALSE(t.append({1, 0, 5, 6}));
  }
  // A torn entry at the end.
  std::filesystem::resize_file(dir.file(txn_index::name(0)), 34 + 20);
  {
    auto t = txn_index::open(fs, dir.path(), 0, 10).value();
    EXPECT_TRUE(t.needs_rebuild());
    EXPECT_EQ(t.size(), 1u);
    EXPECT_EQ(std::filesystem::file_size(dir.file(txn_index::name(0))), 34u);
  }
  // A bad version.
  {
    std::fstream f(dir.file(txn_index::name(0)), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1);
    f.put(7);
  }
  EXPECT_EQ(txn_index::open(fs, dir.path(), 0, 10).value().size(), 0u);
  // Missing: unknown, so rebuilt, even though an empty file would be valid.
  std::filesystem::remove(dir.file(txn_index::name(0)));
  EXPECT_TRUE(txn_index::open(fs, dir.path(), 0, 10).value().needs_rebuild());
  EXPECT_FALSE(txn_index::open(fs, dir.path(), 0, 10).value().needs_rebuild());  // created empty
}

// A log driven the way the broker drives a partition: transactional batches and markers go
// through producer_state, ABORT entries into the log's txn index.
struct txn_log {
  file_system* fs;
  std::string dir;
  log_options opts;
  std::unique_ptr<log> lg;
  producer_state ps;
  std::map<int64_t, int32_t> seq;

  txn_log(file_system& f, std::string d, log_options o = {}) : fs(&f), dir(std::move(d)), opts(o) {
    lg = log::open(f, dir, opts).value();
    ps = producer_state::load(f, *lg).value();
  }
  // One transactional record of `pid`; returns its offset.
  int64_t data(int64_t pid, int64_t ts = 1000) {
    records::batch_builder b;
    b.producer(pid, 0, seq[pid]++).transactional(true).add(ts, sv("k"), sv("v"));
    auto bytes = b.build().value();
    auto a = lg->append(bytes, ts).value();
    ps.apply(records::parse_batch_header(bytes).value(), ts);
    return a.base_offset;
  }
  int64_t marker(int64_t pid, records::control_type type, int64_t ts = 1000) {
    auto bytes = records::build_marker_batch(0, pid, 0, -1, {type, 0}, ts).value();
    auto a = lg->append(bytes, ts).value();
    if (auto e = ps.apply_marker(records::parse_batch_header(bytes).value(), type, ts)) {
      EXPECT_FALSE(lg->append_aborted(*e));
    }
    return a.base_offset;
  }
  int64_t abort(int64_t pid) { return marker(pid, records::control_type::abort); }
  int64_t commit(int64_t pid) { return marker(pid, records::control_type::commit); }
  // What a read_committed fetch of everything from `from` would list.
  txns fetch(int64_t from) {
    const int64_t lso = ps.first_unstable_offset();
    return lg->collect_aborted(from, lso >= 0 ? lso : lg->log_end_offset()).value();
  }
  void reopen() {
    ps = producer_state();
    lg.reset();
    lg = log::open(*fs, dir, opts).value();
    ps = producer_state::load(*fs, *lg).value();
  }
};

TEST(txn_index, a_transaction_spanning_segments_is_found_from_its_first_segment) {
  temp_dir dir;
  posix_file_system fs;
  txn_log t(fs, dir.path());
  t.data(1);     // 0: producer 1's transaction starts
  t.data(2);     // 1
  t.lg->roll();  // segment 2
  t.commit(2);   // 2
  t.data(1);     // 3
  t.lg->roll();  // segment 4
  t.data(3);     // 4
  t.abort(1);    // 5: producer 1 aborted; its entry lives in segment 4
  t.abort(3);    // 6
  EXPECT_EQ(t.lg->segment_count(), 3u);
  // The entry of producer 1 lives in segment 4 but covers offsets 0..5.
  EXPECT_EQ(t.fetch(0), (txns{{1, 0, 5, 4}, {3, 4, 6, 7}}));
  EXPECT_EQ(t.fetch(5), (txns{{1, 0, 5, 4}, {3, 4, 6, 7}}));
  EXPECT_EQ(t.fetch(6), (txns{{3, 4, 6, 7}}));
  EXPECT_EQ(t.fetch(7), txns{});
  // A fetch of [0, 2) alone: producer 1 overlaps it; the LSO recorded with its marker (4) is past
  // 2, which proves producer 3's later abort cannot overlap and stops the search there.
  EXPECT_EQ(t.lg->collect_aborted(0, 2).value(), (txns{{1, 0, 5, 4}}));
  // Each entry is in its marker's segment only.
  EXPECT_EQ(std::filesystem::file_size(dir.file(txn_index::name(0))), 0u);
  EXPECT_EQ(std::filesystem::file_size(dir.file(txn_index::name(2))), 0u);
  EXPECT_EQ(std::filesystem::file_size(dir.file(txn_index::name(4))), 2 * 34u);
  // A clean restart trusts the files (nothing is replayed) and answers the same.
  ASSERT_FALSE(t.lg->close());
  ASSERT_FALSE(t.ps.write_snapshot(fs, dir.path(), t.lg->log_end_offset(), true));
  size_t replayed = 99;
  t.lg.reset();
  t.lg = log::open(fs, dir.path(), {}).value();
  t.ps = producer_state::load(fs, *t.lg, &replayed).value();
  EXPECT_EQ(replayed, 0u);
  EXPECT_EQ(t.fetch(0), (txns{{1, 0, 5, 4}, {3, 4, 6, 7}}));
}

TEST(txn_index, recovery_after_a_torn_tail_rebuilds_the_active_segments_entries) {
  temp_dir dir;
  posix_file_system fs;
  txn_log t(fs, dir.path());
  t.data(1);   // 0
  t.abort(1);  // 1
  t.data(2);   // 2
  t.abort(2);  // 3: this marker will be torn off
  ASSERT_FALSE(t.lg->flush());
  const std::string log_path = dir.file(segment::log_name(0));
  t.lg.reset();  // a crash: no close(), no snapshot
  // Tear the last batch (the marker at 3) in half; its index entry is still on disk.
  const auto size = std::filesystem::file_size(log_path);
  std::filesystem::resize_file(log_path, size - 20);
  t.ps = producer_state();
  t.lg = log::open(fs, dir.path(), {}).value();
  EXPECT_GT(t.lg->recovery().truncated_bytes, 0u);
  t.ps = producer_state::load(fs, *t.lg).value();
  EXPECT_EQ(t.lg->log_end_offset(), 3);
  // Producer 2's transaction is open again (its abort was lost); producer 1's stays aborted.
  EXPECT_EQ(t.ps.first_unstable_offset(), 2);
  EXPECT_EQ(t.lg->collect_aborted(0, 3).value(), (txns{{1, 0, 1, 2}}));
  EXPECT_EQ(std::filesystem::file_size(dir.file(txn_index::name(0))), 34u);
  // The coordinator aborts it again: a new entry at the new marker offset.
  t.abort(2);
  EXPECT_EQ(t.fetch(0), (txns{{1, 0, 1, 2}, {2, 2, 3, 4}}));
}

TEST(txn_index, a_power_cut_losing_the_unsynced_index_is_rebuilt_from_the_log) {
  temp_dir dir;
  posix_file_system posix;
  fault_injection_file_system fs(posix);
  {
    txn_log t(fs, dir.path());
    t.data(1);
    t.lg->roll();  // syncs segment 0 (.log and .txnindex, empty)
    // The broker snapshots at the roll: producer 1's transaction is open.
    ASSERT_FALSE(t.ps.write_snapshot(fs, dir.path(), 1, true));
    t.data(2);
    t.abort(1);                   // 2: entry in segment 1's index, not synced
    t.abort(2);                   // 3
    ASSERT_FALSE(t.lg->flush());  // the markers are durable, the index is not
  }
  EXPECT_EQ(fs.synced_size(dir.file(txn_index::name(1))), 0u);
  ASSERT_FALSE(fs.power_cut());
  txn_log t(fs, dir.path());
  EXPECT_EQ(t.lg->log_end_offset(), 4);
  EXPECT_EQ(t.fetch(0), (txns{{1, 0, 2, 1}, {2, 1, 3, 4}}));
  // The rebuild was synced: another power cut keeps it.
  t.lg.reset();
  ASSERT_FALSE(fs.power_cut());
  t.lg = log::open(fs, dir.path(), {}).value();
  EXPECT_EQ(t.lg->collect_aborted(0, 4).value(), (txns{{1, 0, 2, 1}, {2, 1, 3, 4}}));
}

TEST(txn_index, a_failed_index_write_fails_the_log) {
  temp_dir dir;
  posix_file_system posix;
  fault_injection_file_system fs(posix);
  txn_log t(fs, dir.path());
  t.data(1);
  auto bytes = records::build_marker_batch(0, 1, 0, -1, {records::control_type::abort, 0}, 5);
  ASSERT_TRUE(t.lg->append(bytes.value(), 5));
  auto e = t.ps.apply_marker(records::parse_batch_header(bytes.value()).value(),
                             records::control_type::abort, 5);
  ASSERT_TRUE(e);
  fs.fail_writes(fault_injection_file_system::fault::short_write, 1);
  EXPECT_EQ(t.lg->append_aborted(*e), errc::io_error);
  EXPECT_EQ(t.lg->error(), errc::io_error);
  EXPECT_EQ(std::filesystem::file_size(dir.file(txn_index::name(0))), 0u);  // no torn entry
  // Reopening replays the marker and writes the entry.
  t.reopen();
  EXPECT_EQ(t.fetch(0), (txns{{1, 0, 1, 2}}));
}

TEST(txn_index, a_missing_index_is_rebuilt_even_past_a_newer_snapshot) {
  temp_dir dir;
  posix_file_system fs;
  {
    txn_log t(fs, dir.path());
    t.data(1);   // 0
    t.abort(1);  // 1
    t.lg->roll();
    t.data(2);   // 2
    t.abort(2);  // 3
    ASSERT_FALSE(t.lg->close());
    ASSERT_FALSE(t.ps.write_snapshot(fs, dir.path(), 4, true));
  }
  // As after an upgrade from a version without .txnindex files.
  std::filesystem::remove(dir.file(txn_index::name(0)));
  std::filesystem::remove(dir.file(txn_index::name(2)));
  size_t replayed = 0;
  auto lg = log::open(fs, dir.path(), {}).value();
  ASSERT_TRUE(producer_state::load(fs, *lg, &replayed));
  EXPECT_EQ(replayed, 4u);  // the snapshot at 4 could not be used
  EXPECT_EQ(lg->collect_aborted(0, 4).value(), (txns{{1, 0, 1, 2}, {2, 2, 3, 4}}));
  EXPECT_TRUE(std::filesystem::exists(dir.file(producer_state::snapshot_name(4))));
  EXPECT_EQ(lg->txn_rebuild_offset(), -1);
}

TEST(txn_index, retention_removes_old_entries_with_their_segment) {
  temp_dir dir;
  posix_file_system fs;
  log_options opts;
  opts.retention_ms = 1000;
  txn_log t(fs, dir.path(), opts);
  t.data(1, 100);  // 0
  t.abort(1);      // 1 (timestamp 1000)
  t.lg->roll();
  t.data(2, 5000);  // 2
  t.abort(2);       // 3
  t.lg->roll();
  t.data(3, 9000);  // 4
  EXPECT_EQ(t.lg->collect_aborted(0, 4).value().size(), 2u);
  // At 2500 segment 0 (max timestamp 1000) is past retention.ms; segment 2 (5000) is not.
  EXPECT_EQ(t.lg->apply_retention(2500).value(), 1u);
  EXPECT_FALSE(std::filesystem::exists(dir.file(txn_index::name(0))));
  EXPECT_TRUE(std::filesystem::exists(dir.file(txn_index::name(2))));
  EXPECT_EQ(t.lg->log_start_offset(), 2);
  EXPECT_EQ(t.lg->collect_aborted(2, 4).value(), (txns{{2, 2, 3, 4}}));
  // And after a restart nothing brings the old entry back.
  t.lg->close();
  t.reopen();
  EXPECT_EQ(t.lg->collect_aborted(2, 4).value(), (txns{{2, 2, 3, 4}}));
}

TEST(txn_index, compaction_carries_the_entries_into_the_cleaned_segment) {
  temp_dir dir;
  posix_file_system fs;
  txn_log t(fs, dir.path());
  t.data(1);   // 0
  t.abort(1);  // 1
  t.lg->roll();
  t.data(2);   // 2
  t.abort(2);  // 3
  t.lg->roll();
  t.data(3);  // 4 (active)
  auto snap = compaction::snapshot(*t.lg);
  auto th = compaction::throttle(
      0, [] { return int64_t{0}; }, [](int64_t) {});
  auto cleaned = compaction::clean(fs, snap, {}, 1000, th).value();
  ASSERT_EQ(cleaned.groups.size(), 1u);  // both closed segments merged into one based at 0
  ASSERT_FALSE(compaction::swap(fs, *t.lg, cleaned, {}));
  EXPECT_EQ(t.lg->segment_count(), 2u);
  EXPECT_FALSE(std::filesystem::exists(dir.file(txn_index::name(2))));
  EXPECT_EQ(std::filesystem::file_size(dir.file(txn_index::name(0))), 2 * 34u);
  EXPECT_EQ(t.lg->collect_aborted(0, 4).value(), (txns{{1, 0, 1, 2}, {2, 2, 3, 4}}));
  t.lg->close();
  t.reopen();
  EXPECT_EQ(t.lg->txn_rebuild_offset(), -1);
  EXPECT_EQ(t.lg->collect_aborted(0, 4).value(), (txns{{1, 0, 1, 2}, {2, 2, 3, 4}}));
}

}  // namespace
}  // namespace sluice::storage
