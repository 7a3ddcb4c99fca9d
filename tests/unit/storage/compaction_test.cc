#include "src/storage/compaction.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/storage/storage_test_util.h"

namespace sluice::storage {
namespace {

using testing::sv;
using testing::temp_dir;

constexpr int64_t kT0 = 1700000000000;
constexpr int64_t kRetention = 1000;

struct kv {
  std::optional<std::string> key;
  std::optional<std::string> value;  // nullopt: tombstone
};

records::nullable_span opt(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  return sv(*s);
}

wire::bytes batch_of(const std::vector<kv>& recs, int64_t ts = kT0,
                     compression::codec c = compression::codec::none) {
  records::batch_builder b;
  b.compression(c);
  for (const auto& r : recs) b.add(ts, opt(r.key), opt(r.value));
  return b.build().value();
}

struct seen {
  int64_t offset;
  std::optional<std::string> key;
  std::optional<std::string> value;
  bool operator==(const seen&) const = default;
};

std::optional<std::string> str(const records::nullable_span& s) {
  if (!s) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(s->data()), s->size());
}

// Every record of the log, read by fetches from offset 0; checks every batch's CRC.
std::vector<seen> read_all(log& l, std::vector<compression::codec>* codecs = nullptr) {
  std::vector<seen> out;
  int64_t next = l.log_start_offset();
  while (next < l.log_end_offset()) {
    auto blob = l.read_bytes(next, 1 << 20);
    EXPECT_TRUE(blob);
    if (!blob || blob.value().empty()) break;
    records::batch_iterator it(blob.value());
    while (auto* b = it.next()) {
      EXPECT_TRUE(records::validate_batch(b->bytes));
      auto d = records::decode_records(b->bytes, 1 << 20).value();
      if (codecs != nullptr) codecs->push_back(d.header.compression());
      for (const auto& r : d.records) out.push_back({d.offset_of(r), str(r.key), str(r.value)});
      next = b->header.last_offset() + 1;
    }
    EXPECT_EQ(it.error(), errc::ok);
  }
  return out;
}

struct fixture {
  temp_dir dir;
  posix_file_system fs;
  log_options opts{.segment_bytes = 1 << 20, .index_interval_bytes = 0};
  compaction::options copts{
      .delete_retention_ms = kRetention, .segment_bytes = 1 << 20, .index_interval_bytes = 0};
  std::vector<int64_t> sleeps;
  compaction::throttle unlimited{0, [] { return 0; }, [](int64_t) {}};

  std::string path() const { return dir.path() + "/p-0"; }
  std::unique_ptr<log> open() {
    auto l = log::open(fs, path(), opts);
    EXPECT_TRUE(l) << l.error().message();
    return std::move(l).value();
  }
  void add(log& l, const std::vector<kv>& recs, int64_t ts = kT0,
           compression::codec c = compression::codec::none) {
    auto b = batch_of(recs, ts, c);
    ASSERT_TRUE(l.append(b));
  }
  compaction::cleaned clean(log& l, int64_t now_ms) {
    auto c = compaction::clean(fs, compaction::snapshot(l), copts, now_ms, unlimited);
    EXPECT_TRUE(c) << c.error().message();
    return std::move(c).value();
  }
  void compact(log& l, int64_t now_ms) {
    auto c = clean(l, now_ms);
    ASSERT_FALSE(compaction::swap(fs, l, c, {opts.index_interval_bytes}));
  }
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path())) {
      out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  std::vector<std::string> logs() const {
    std::vector<std::string> out;
    for (const auto& n : files()) {
      if (n.ends_with(".log")) out.push_back(n);
    }
    return out;
  }
  std::vector<std::string> leftovers() const {
    std::vector<std::string> out;
    for (const auto& n : files()) {
      if (n.ends_with(".cleaned") || n.ends_with(".swap") || n.ends_with(".deleted")) {
        out.push_back(n);
      }
    }
    return out;
  }
};

TEST(Compaction, LatestValuePerKeySurvivesWithOffsetsKept) {
  fixture f;
  auto l = f.open();
  f.add(*l, {{"k1", "a"}, {"k2", "b"}});  // 0, 1
  ASSERT_FALSE(l->roll());
  f.add(*l, {{"k1", "c"}, {"k3", "d"}});  // 2, 3
  ASSERT_FALSE(l->roll());
  f.add(*l, {{"k2", "e"}});  // 4, active
  const auto active_before = l->segment_infos().back();
  const auto active_bytes = l->read_bytes(4, 1 << 20).value();
  // Any other file of a replaced segment (a time index, say) goes with it.
  std::ofstream(f.path() + "/00000000000000000002.timeindex") << "stale";

  f.compact(*l, kT0);
  EXPECT_FALSE(std::filesystem::exists(f.path() + "/00000000000000000002.timeindex"));

  std::vector<seen> want{{2, "k1", "c"}, {3, "k3", "d"}, {4, "k2", "e"}};
  EXPECT_EQ(read_all(*l), want);
  EXPECT_EQ(l->log_start_offset(), 0);
  EXPECT_EQ(l->log_end_offset(), 5);
  // Both closed segments merged into one; the active segment is untouched.
  ASSERT_EQ(l->segment_count(), 2u);
  EXPECT_EQ(l->segment_infos().back(), active_before);
  EXPECT_EQ(l->read_bytes(4, 1 << 20).value(), active_bytes);

  // Reads at a compacted-away offset start at the next surviving batch.
  auto blob = l->read_bytes(0, 1 << 20).value();
  records::batch_iterator it(blob);
  ASSERT_NE(it.next(), nullptr);
  blob = l->read_bytes(1, 1 << 20).value();
  EXPECT_EQ(records::parse_batch_header(blob).value().base_offset, 2);

  // The same after a restart, and the directory holds only segment files.
  l.reset();
  l = f.open();
  EXPECT_EQ(read_all(*l), want);
  EXPECT_EQ(f.logs(), (std::vector<std::string>{segment::log_name(0), segment::log_name(4)}));
  EXPECT_TRUE(f.leftovers().empty());
}

TEST(Compaction, GapsInsideABatchKeepOffsetDeltas) {
  fixture f;
  auto l = f.open();
  f.add(*l, {{"a", "1"}, {"b", "1"}, {"c", "1"}, {"d", "1"}});  // 0..3
  ASSERT_FALSE(l->roll());
  f.add(*l, {{"b", "2"}, {"d", "2"}});  // 4, 5
  f.compact(*l, kT0);
  std::vector<seen> want{{0, "a", "1"}, {2, "c", "1"}, {4, "b", "2"}, {5, "d", "2"}};
  EXPECT_EQ(read_all(*l), want);
  // A fetch at offset 1 gets the rebuilt batch, which still starts at base offset 0.
  auto blob = l->read_bytes(1, 1 << 20).value();
  auto h = records::parse_batch_header(blob).value();
  EXPECT_EQ(h.base_offset, 0);
  EXPECT_EQ(h.last_offset(), 2);
  EXPECT_EQ(h.records_count, 2);
}

TEST(Compaction, TombstonesLiveForDeleteRetention) {
  for (bool expired : {false, true}) {
    fixture f;
    auto l = f.open();
    f.add(*l, {{"k", "v"}, {"x", "1"}}, kT0);
    f.add(*l, {{"k", std::nullopt}}, kT0 + 10);  // tombstone at offset 2
    ASSERT_FALSE(l->roll());
    f.add(*l, {{"y", "1"}});
    const int64_t now = kT0 + 10 + kRetention - (expired ? 0 : 1);
    f.compact(*l, now);
    std::vector<seen> want{{1, "x", "1"}, {2, "k", std::nullopt}, {3, "y", "1"}};
    if (expired) want.erase(want.begin() + 1);
    EXPECT_EQ(read_all(*l), want) << "expired=" << expired;
  }
}

TEST(Compaction, KeyOverwrittenInActiveSegmentIsDropped) {
  fixture f;
  auto l = f.open();
  f.add(*l, {{"k", "old"}});
  ASSERT_FALSE(l->roll());
  f.add(*l, {{"k", "new"}});
  auto c = f.clean(*l, kT0);
  EXPECT_EQ(c.totals.records_dropped, 1u);
  EXPECT_EQ(c.totals.batches_dropped, 1u);
  ASSERT_FALSE(compaction::swap(f.fs, *l, c, {0}));
  EXPECT_EQ(read_all(*l), (std::vector<seen>{{1, "k", "new"}}));
  EXPECT_EQ(l->log_start_offset(), 0);  // the emptied segment keeps the start offset
}

TEST(Compaction, RebuiltBatchesKeepHeaderFieldsAndRecordTimestamps) {
  fixture f;
  auto l = f.open();
  records::batch_builder b;
  b.producer(42, 3, 100).partition_leader_epoch(7).log_append_time(kT0 + 50);
  b.add(kT0, sv("a"), sv("1"));
  b.add(kT0 + 5, sv("b"), sv("1"), std::vector<records::header_input>{{sv("h"), sv("v")}});
  auto bytes = b.build().value();
  ASSERT_TRUE(l->append(bytes));  // 0, 1
  ASSERT_FALSE(l->roll());
  f.add(*l, {{"a", "2"}});  // 2
  f.compact(*l, kT0);
  auto blob = l->read_bytes(0, 1 << 20).value();
  records::batch_iterator it(blob);
  auto* v = it.next();
  ASSERT_NE(v, nullptr);
  ASSERT_TRUE(records::validate_batch(v->bytes));
  auto d = records::decode_records(v->bytes, 1 << 20).value();
  EXPECT_EQ(d.header.base_offset, 0);
  EXPECT_EQ(d.header.producer_id, 42);
  EXPECT_EQ(d.header.producer_epoch, 3);
  EXPECT_EQ(d.header.base_sequence, 100);
  EXPECT_EQ(d.header.partition_leader_epoch, 7);
  EXPECT_EQ(d.header.timestamp_type(), records::timestamp_type::log_append_time);
  EXPECT_EQ(d.header.max_timestamp, kT0 + 50);
  EXPECT_EQ(d.header.base_timestamp, kT0);
  ASSERT_EQ(d.records.size(), 1u);
  EXPECT_EQ(d.records[0].offset_delta, 1);
  EXPECT_EQ(d.records[0].timestamp_delta, 5);
  ASSERT_EQ(d.headers_of(d.records[0]).size(), 1u);
  EXPECT_EQ(str(d.headers_of(d.records[0])[0].value), "v");
}

TEST(Compaction, KeylessRecordsAreKept) {
  fixture f;
  auto l = f.open();
  f.add(*l, {{std::nullopt, "a"}, {"k", "1"}, {std::nullopt, "b"}});
  ASSERT_FALSE(l->roll());
  f.add(*l, {{"k", "2"}});
  f.compact(*l, kT0);
  std::vector<seen> want{{0, std::nullopt, "a"}, {2, std::nullopt, "b"}, {3, "k", "2"}};
  EXPECT_EQ(read_all(*l), want);
}

TEST(Compaction, CompressedBatchesStayCompressedAndValid) {
  for (auto codec : {compression::codec::lz4, compression::codec::zstd}) {
    fixture f;
    auto l = f.open();
    f.add(*l, {{"a", "1"}, {"b", "1"}, {"c", "1"}}, kT0, codec);
    ASSERT_FALSE(l->roll());
    f.add(*l, {{"b", "2"}}, kT0, codec);
    ASSERT_FALSE(l->roll());
    f.add(*l, {{"z", "0"}});
    f.compact(*l, kT0);
    std::vector<compression::codec> codecs;
    std::vector<seen> want{{0, "a", "1"}, {2, "c", "1"}, {3, "b", "2"}, {4, "z", "0"}};
    EXPECT_EQ(read_all(*l, &codecs), want);  // read_all validates every batch's CRC
    std::vector<compression::codec> want_codecs{codec, codec, compression::codec::none};
    EXPECT_EQ(codecs, want_codecs);
  }
}

TEST(Compaction, SmallSegmentsMergeUpToSegmentBytes) {
  fixture f;
  auto l = f.open();
  for (int i = 0; i < 6; ++i) {
    f.add(*l, {{"key" + std::to_string(i), std::string(100, 'v')}});
    ASSERT_FALSE(l->roll());
  }
  const uint64_t one = l->segment_infos().front().size_bytes;
  f.copts.segment_bytes = 2 * one;  // two sources per cleaned segment
  f.add(*l, {{"active", "1"}});
  f.compact(*l, kT0);
  auto infos = l->segment_infos();
  ASSERT_EQ(infos.size(), 4u);
  EXPECT_EQ(infos[0].base_offset, 0);
  EXPECT_EQ(infos[1].base_offset, 2);
  EXPECT_EQ(infos[2].base_offset, 4);
  EXPECT_EQ(infos[0].size_bytes, 2 * one);
  EXPECT_EQ(read_all(*l).size(), 7u);

  // A second pass with a larger limit merges the merged segments again.
  f.copts.segment_bytes = 1 << 20;
  f.compact(*l, kT0);
  EXPECT_EQ(l->segment_count(), 2u);
  EXPECT_EQ(read_all(*l).size(), 7u);
}

TEST(Compaction, TransactionalControlAndLastProducerBatchesAreKept) {
  fixture f;
  auto l = f.open();
  auto add_built = [&](records::batch_builder& b) {
    auto bytes = b.build().value();
    ASSERT_TRUE(l->append(bytes));
  };
  records::batch_builder idem;  // producer 7's only batch, superseded: kept for its sequence
  idem.producer(7, 0, 0).add(kT0, sv("k"), sv("1"));
  add_built(idem);             // 0
  records::batch_builder txn;  // transactions are not compacted yet
  txn.producer(8, 0, 0).transactional(true).add(kT0, sv("t"), sv("1"));
  add_built(txn);  // 1
  auto marker = records::build_marker_batch(0, 8, 0, 0, {records::control_type::commit, 0}, kT0);
  ASSERT_TRUE(l->append(marker.value()));  // 2
  records::batch_builder p9a;              // producer 9's earlier batch, emptied: dropped
  p9a.producer(9, 0, 0).add(kT0, sv("j"), sv("1"));
  add_built(p9a);  // 3
  records::batch_builder p9b;
  p9b.producer(9, 0, 1).add(kT0, sv("j"), sv("2"));
  add_built(p9b);  // 4
  ASSERT_FALSE(l->roll());
  f.add(*l, {{"k", "2"}, {"t", "2"}});  // 5, 6
  f.compact(*l, kT0);
  std::vector<int64_t> offsets;
  for (const auto& r : read_all(*l)) offsets.push_back(r.offset);
  EXPECT_EQ(offsets, (std::vector<int64_t>{0, 1, 2, 4, 5, 6}));
}

TEST(Compaction, ActiveSegmentOnlyIsANoOp) {
  fixture f;
  auto l = f.open();
  f.add(*l, {{"k", "1"}, {"k", "2"}});
  auto c = f.clean(*l, kT0);
  EXPECT_TRUE(c.groups.empty());
  ASSERT_FALSE(compaction::swap(f.fs, *l, c, {0}));
  EXPECT_EQ(read_all(*l).size(), 2u);
}

TEST(Compaction, CrashBeforeCommitKeepsOldSegments) {
  fixture f;
  auto l = f.open();
  f.add(*l, {{"k", "1"}});
  ASSERT_FALSE(l->roll());
  f.add(*l, {{"k", "2"}});
  ASSERT_FALSE(l->roll());
  f.add(*l, {{"x", "1"}});
  auto c = f.clean(*l, kT0);
  ASSERT_EQ(c.groups.size(), 1u);
  // Crash after phase 1, and again after some old files were set aside.
  l.reset();
  const std::string d = f.path() + "/";
  std::filesystem::rename(d + segment::log_name(1), d + segment::log_name(1) + ".deleted");
  l = f.open();
  std::vector<seen> all{{0, "k", "1"}, {1, "k", "2"}, {2, "x", "1"}};
  EXPECT_EQ(read_all(*l), all);
  for (const auto& name : f.files()) EXPECT_EQ(name.find(".cleaned"), std::string::npos) << name;
  for (const auto& name : f.files()) EXPECT_EQ(name.find(".deleted"), std::string::npos) << name;
}

TEST(Compaction, CrashAfterCommitFinishesTheSwap) {
  fixture f;
  auto l = f.open();
  f.add(*l, {{"k", "1"}});
  ASSERT_FALSE(l->roll());
  f.add(*l, {{"k", "2"}});
  ASSERT_FALSE(l->roll());
  f.add(*l, {{"x", "1"}});
  auto c = f.clean(*l, kT0);
  l.reset();
  // What swap() does up to its commit point, then a crash.
  const std::string d = f.path() + "/";
  for (int64_t base : {0, 1}) {
    for (const auto& n : {segment::log_name(base), segment::index_name(base)}) {
      std::filesystem::rename(d + n, d + n + ".deleted");
    }
  }
  std::filesystem::rename(d + segment::log_name(0) + ".cleaned",
                          d + segment::log_name(0) + ".swap");
  l = f.open();
  std::vector<seen> want{{1, "k", "2"}, {2, "x", "1"}};
  EXPECT_EQ(read_all(*l), want);
  EXPECT_EQ(l->segment_count(), 2u);
  EXPECT_EQ(f.logs(), (std::vector<std::string>{segment::log_name(0), segment::log_name(2)}));
  EXPECT_TRUE(std::filesystem::exists(d + segment::index_name(0)));
  EXPECT_TRUE(f.leftovers().empty());
}

TEST(Compaction, FailedCleanLeavesNoFilesAndTheLogAsItWas) {
  fixture f;
  auto l = f.open();
  f.add(*l, {{"a", "1"}});
  ASSERT_FALSE(l->roll());
  f.add(*l, {{"b", "2"}});
  ASSERT_FALSE(l->roll());
  f.add(*l, {{"c", "3"}});
  const auto before = f.files();
  fault_injection_file_system faulty(f.fs);
  faulty.fail_writes(fault_injection_file_system::fault::no_space, 1);
  auto c = compaction::clean(faulty, compaction::snapshot(*l), f.copts, kT0, f.unlimited);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), errc::no_space);
  EXPECT_EQ(f.files(), before);
  EXPECT_EQ(read_all(*l).size(), 3u);
}

TEST(Compaction, SwapSkipsGroupsWhoseSegmentsChanged) {
  fixture f;
  auto l = f.open();
  f.add(*l, {{"k", "1"}});
  ASSERT_FALSE(l->roll());
  f.add(*l, {{"k", "2"}});
  auto c = f.clean(*l, kT0);
  // Meanwhile the log was reopened with other segments (as if retention removed segment 0).
  c.groups[0].sources[0].size_bytes += 1;
  ASSERT_FALSE(compaction::swap(f.fs, *l, c, {0}));
  EXPECT_EQ(read_all(*l).size(), 2u);
  for (const auto& name : f.files()) EXPECT_EQ(name.find(".cleaned"), std::string::npos) << name;
}

TEST(Compaction, CleanRunsOnAnotherThreadWhileTheOwnerAppends) {
  fixture f;
  auto l = f.open();
  for (int i = 0; i < 20; ++i) {
    f.add(*l, {{"k" + std::to_string(i % 5), std::to_string(i)}});
    if (i % 4 == 3) {
      ASSERT_FALSE(l->roll());
    }
  }
  const auto snap = compaction::snapshot(*l);
  result<compaction::cleaned> c = errc::invalid_data;
  std::thread worker([&] {
    compaction::throttle t(
        0, [] { return 0; }, [](int64_t) {});
    c = compaction::clean(f.fs, snap, f.copts, kT0, t);
  });
  // The owner keeps appending to the active segment (never past a roll: the snapshot's
  // closed segments stay as they were).
  for (int i = 20; i < 60; ++i) f.add(*l, {{"n" + std::to_string(i), "x"}});
  worker.join();
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_FALSE(compaction::swap(f.fs, *l, c.value(), {0}));
  auto all = read_all(*l);
  // k0..k4 keep their last values (offsets 15..19); the 40 appended records are all there.
  ASSERT_EQ(all.size(), 45u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(all[static_cast<size_t>(i)].offset, 15 + i);
  EXPECT_EQ(all.back().offset, 59);
}

TEST(Compaction, DirtyRatioCountsClosedSegmentsPastTheCheckpoint) {
  std::vector<segment_info> segs{{0, 10, 100}, {10, 20, 100}, {20, 30, 200}, {30, 30, 0}};
  EXPECT_EQ(compaction::dirty_ratio(segs, 0), 1.0);
  EXPECT_EQ(compaction::dirty_ratio(segs, 10), 0.75);
  EXPECT_EQ(compaction::dirty_ratio(segs, 20), 0.5);
  EXPECT_EQ(compaction::dirty_ratio(segs, 30), 0.0);
  EXPECT_EQ(compaction::dirty_ratio(std::span(segs).last(1), 0), 0.0);  // only the active one

  fixture f;
  auto l = f.open();
  f.add(*l, {{"k", "1"}});
  ASSERT_FALSE(l->roll());
  f.add(*l, {{"k", "2"}});
  ASSERT_FALSE(l->roll());
  auto c = f.clean(*l, kT0);
  EXPECT_EQ(c.cleaned_up_to, 2);
  ASSERT_FALSE(compaction::swap(f.fs, *l, c, {0}));
  EXPECT_EQ(compaction::dirty_ratio(l->segment_infos(), c.cleaned_up_to), 0.0);
  f.add(*l, {{"k", "3"}});
  ASSERT_FALSE(l->roll());
  EXPECT_GT(compaction::dirty_ratio(l->segment_infos(), c.cleaned_up_to), 0.0);
}

TEST(CompactionThrottle, SleepsOffTheLeadOverTheRate) {
  int64_t now = 0;
  std::vector<int64_t> sleeps;
  compaction::throttle t(
      1000, [&] { return now; },
      [&](int64_t us) {
        sleeps.push_back(us);
        now += us;
      });
  t.charge(500);  // 0.5 s worth at 1000 B/s
  t.charge(1500);
  now += 3000000;  // work itself took 3 s: under the rate, no sleep
  t.charge(1000);
  EXPECT_EQ(sleeps, (std::vector<int64_t>{500000, 1500000}));
  EXPECT_EQ(t.total_bytes(), 3000u);
  EXPECT_EQ(t.total_slept_us(), 2000000);
}

TEST(CompactionThrottle, CleanChargesEveryByteItMoves) {
  fixture f;
  auto l = f.open();
  for (int i = 0; i < 4; ++i) {
    f.add(*l, {{"k" + std::to_string(i % 2), std::string(200, 'v')}});
    ASSERT_FALSE(l->roll());
  }
  int64_t now = 0;
  int64_t slept = 0;
  compaction::throttle t(
      1000000, [&] { return now; },
      [&](int64_t us) {
        slept += us;
        now += us;
      });
  auto c = compaction::clean(f.fs, compaction::snapshot(*l), f.copts, kT0, t);
  ASSERT_TRUE(c);
  const auto& st = c.value().totals;
  // Index bytes are charged too: 8 per entry, one entry per written batch (interval 0).
  EXPECT_EQ(t.total_bytes(), st.bytes_read + st.bytes_written + 8 * st.records_kept);
  EXPECT_EQ(slept, static_cast<int64_t>(t.total_bytes()));  // 1 us per byte at 1 MB/s
  compaction::discard(f.fs, c.value());
}

}  // namespace
}  // namespace sluice::storage
