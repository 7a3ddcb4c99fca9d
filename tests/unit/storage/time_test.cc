// Time index, offsets by time, LogAppendTime, segment.ms, retention and DeleteRecords. Time is
// always passed in (now_ms): nothing here depends on the wall clock.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "src/storage/log.h"
#include "src/storage/segment.h"
#include "tests/unit/storage/storage_test_util.h"

namespace sluice::storage {
namespace {

using testing::make_batch;
using testing::sv;
using testing::temp_dir;

// One batch whose records carry `timestamps`, in order.
wire::bytes batch_with(std::initializer_list<int64_t> timestamps) {
  records::batch_builder b;
  b.base_timestamp(0);  // record timestamps may be below the first one
  for (int64_t ts : timestamps) b.add(ts, sv("k"), sv("value"));
  return b.build().value();
}

struct record_ts {
  int64_t offset;
  int64_t timestamp;
};

// The reference answer: the first record at or after min_offset with timestamp >= t.
timestamp_offset brute_force(const std::vector<record_ts>& all, int64_t t, int64_t min_offset) {
  for (const auto& r : all) {
    if (r.offset >= min_offset && r.timestamp >= t) return {r.offset, r.timestamp};
  }
  return {};
}

// Deterministic pseudo-random numbers (no seeding from the clock).
struct lcg {
  uint64_t state = 42;
  int64_t next(int64_t bound) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int64_t>((state >> 33) % static_cast<uint64_t>(bound));
  }
};

// Appends `batches` batches of 1-4 records to `s`; timestamps come from `ts_of(batch, record)`.
template <class F>
std::vector<record_ts> fill(segment& s, int batches, F ts_of) {
  std::vector<record_ts> all;
  lcg rng;
  for (int i = 0; i < batches; ++i) {
    records::batch_builder b;
    b.base_timestamp(0);
    const int n = 1 + static_cast<int>(rng.next(4));
    std::vector<int64_t> ts;
    for (int j = 0; j < n; ++j) {
      ts.push_back(ts_of(i, j, rng));
      b.add(ts.back(), sv("k"), sv("some value bytes"));
    }
    auto bytes = b.build().value();
    auto a = s.append(bytes).value();
    for (int j = 0; j < n; ++j) all.push_back({a.base_offset + j, ts[static_cast<size_t>(j)]});
  }
  return all;
}

void expect_index_rules(const segment& s) {
  const auto& ti = s.time_index();
  for (size_t i = 1; i < ti.size(); ++i) {
    EXPECT_GT(ti[i].timestamp, ti[i - 1].timestamp);
    EXPECT_GT(ti[i].relative_offset, ti[i - 1].relative_offset);
  }
  if (!ti.empty()) {
    EXPECT_LE(ti.back().timestamp, s.max_timestamp());
  }
}

void expect_lookups(segment& s, const std::vector<record_ts>& all, int64_t lo, int64_t hi,
                    int64_t min_offset = 0) {
  for (int64_t t = lo; t <= hi; ++t) {
    auto got = s.find_by_timestamp(t, min_offset).value();
    auto want = brute_force(all, t, min_offset);
    ASSERT_EQ(got.offset, want.offset) << "t=" << t << " min_offset=" << min_offset;
    ASSERT_EQ(got.timestamp, want.timestamp) << "t=" << t;
  }
}

TEST(TimeIndex, IncreasingTimestampsSparseAndDense) {
  for (uint32_t interval : {0u, 300u}) {
    temp_dir dir;
    posix_file_system fs;
    auto s = segment::create(fs, dir.path(), 100, {interval}).value();
    auto all = fill(*s, 200, [](int i, int j, lcg&) { return int64_t{1000} + 10 * i + j; });
    expect_index_rules(*s);
    if (interval == 0) {
      EXPECT_EQ(s->time_index().size(), 200u);  // every batch grew the max
    } else {
      EXPECT_GT(s->time_index().size(), 5u);
      EXPECT_LT(s->time_index().size(), 200u);
    }
    EXPECT_EQ(s->max_timestamp(), all.back().timestamp);
    expect_lookups(*s, all, 990, 1000 + 10 * 200 + 5);
    expect_lookups(*s, all, 1500, 1600, all[all.size() / 2].offset);
    EXPECT_EQ(s->find_by_timestamp(999999, 0).value().offset, -1);
  }
}

TEST(TimeIndex, NonMonotonicTimestamps) {
  temp_dir dir;
  posix_file_system fs;
  auto s = segment::create(fs, dir.path(), 0, {256}).value();
  // Timestamps wander: mostly rising with jitter, some far in the past, a few spikes.
  auto all = fill(*s, 300, [](int i, int, lcg& rng) {
    const int64_t r = rng.next(100);
    if (r < 10) return int64_t{rng.next(500)};          // late arrival
    if (r < 13) return int64_t{20000 + rng.next(500)};  // clock running ahead
    return int64_t{1000} + 30 * i + rng.next(200) - 100;
  });
  expect_index_rules(*s);
  int64_t max = -1;
  for (const auto& r : all) max = std::max(max, r.timestamp);
  EXPECT_EQ(s->max_timestamp(), max);
  expect_lookups(*s, all, 0, 21000);
  expect_lookups(*s, all, 5000, 6000, all[all.size() / 2].offset);

  auto m = s->find_max_timestamp().value();
  EXPECT_EQ(m.timestamp, max);
  for (const auto& r : all) {
    if (r.timestamp == max) {
      EXPECT_EQ(m.offset, r.offset);  // the first record holding the max
      break;
    }
  }
}

TEST(TimeIndex, ReopenLoadsOrRebuildsIt) {
  temp_dir dir;
  posix_file_system fs;
  std::vector<time_index_entry> want;
  int64_t want_max, want_batch, want_first;
  {
    auto s = segment::create(fs, dir.path(), 0, {200}).value();
    fill(*s, 100, [](int i, int j, lcg& rng) { return int64_t{1000} + 5 * i + j - rng.next(20); });
    ASSERT_FALSE(s->write_index());
    want = s->time_index();
    want_max = s->max_timestamp();
    want_batch = s->max_timestamp_batch();
    want_first = s->first_batch_timestamp();
    ASSERT_GE(want_first, 0);
    ASSERT_GT(want.size(), 3u);
  }
  auto check = [&](segment& s) {
    ASSERT_EQ(s.time_index().size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(s.time_index()[i].timestamp, want[i].timestamp);
      EXPECT_EQ(s.time_index()[i].relative_offset, want[i].relative_offset);
    }
    EXPECT_EQ(s.max_timestamp(), want_max);
    EXPECT_EQ(s.max_timestamp_batch(), want_batch);
    EXPECT_EQ(s.first_batch_timestamp(), want_first);
  };
  const std::string ti = dir.file(segment::time_index_name(0));
  check(*segment::open(fs, dir.path(), 0, {200}).value());  // loaded
  check(*segment::open_and_recover(fs, dir.path(), 0, {200}).value());
  std::filesystem::remove(ti);  // missing: rebuilt
  check(*segment::open(fs, dir.path(), 0, {200}).value());
  EXPECT_EQ(std::filesystem::file_size(ti), want.size() * 12);
  {
    std::ofstream(ti, std::ios::binary | std::ios::app) << std::string(12, '\xff');  // bad entry
  }
  check(*segment::open(fs, dir.path(), 0, {200}).value());
  std::filesystem::resize_file(ti, 5);  // torn
  check(*segment::open(fs, dir.path(), 0, {200}).value());
}

struct fixture {
  temp_dir dir;
  posix_file_system fs;
  log_options opts{.segment_bytes = 1 << 20, .index_interval_bytes = 256, .retention_ms = -1};

  std::unique_ptr<log> open(file_system& with) {
    auto l = log::open(with, path(), opts);
    EXPECT_TRUE(l) << l.error().message();
    return std::move(l).value();
  }
  std::unique_ptr<log> open() { return open(fs); }
  std::string path() const { return dir.path() + "/topic-0"; }
  size_t count(const std::string& ext) const {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(path())) {
      n += e.path().extension() == ext;
    }
    return n;
  }
};

int64_t append_ts(log& l, std::initializer_list<int64_t> ts, int64_t now_ms = -1) {
  auto b = batch_with(ts);
  auto a = l.append(b, now_ms);
  EXPECT_TRUE(a) << a.error().message();
  return a.value().base_offset;
}

TEST(OffsetsByTime, SpecialValuesAndSearchAcrossSegments) {
  fixture f;
  auto l = f.open();
  auto empty = l->offset_for_time(kMaxTimestamp).value();
  EXPECT_EQ(empty.offset, -1);
  EXPECT_EQ(empty.timestamp, -1);
  EXPECT_EQ(l->offset_for_time(0).value().offset, -1);
  EXPECT_EQ(l->offset_for_time(kLatestTimestamp).value().offset, 0);

  append_ts(*l, {100, 110, 120});  // 0-2
  ASSERT_FALSE(l->roll());
  append_ts(*l, {300, 900, 200});  // 3-5: the max is inside the batch
  ASSERT_FALSE(l->roll());
  append_ts(*l, {400, 500});  // 6-7
  append_ts(*l, {900});       // 8: same max later: -3 names the first one

  auto earliest = l->offset_for_time(kEarliestTimestamp).value();
  EXPECT_EQ(earliest.offset, 0);
  EXPECT_EQ(earliest.timestamp, -1);
  EXPECT_EQ(l->offset_for_time(kEarliestLocalTimestamp).value().offset, 0);
  EXPECT_EQ(l->offset_for_time(kLatestTimestamp).value().offset, 9);
  auto max = l->offset_for_time(kMaxTimestamp).value();
  EXPECT_EQ(max.offset, 4);
  EXPECT_EQ(max.timestamp, 900);

  using pr = std::pair<int64_t, int64_t>;
  auto at = [&](int64_t t) {
    auto r = l->offset_for_time(t).value();
    return std::pair{r.offset, r.timestamp};
  };
  EXPECT_EQ(at(0), pr(0, 100));
  EXPECT_EQ(at(111), pr(2, 120));
  EXPECT_EQ(at(121), pr(3, 300));
  EXPECT_EQ(at(301), pr(4, 900));  // not 5 (200) nor 6
  EXPECT_EQ(at(450), pr(4, 900));
  EXPECT_EQ(at(900), pr(4, 900));
  EXPECT_EQ(at(901), pr(-1, -1));
  EXPECT_EQ(l->offset_for_time(-7).error(), errc::invalid_data);

  // Past the log start offset only.
  ASSERT_EQ(l->delete_records(5).value(), 5);
  EXPECT_EQ(at(0), pr(5, 200));
  EXPECT_EQ(at(301), pr(6, 400));
  EXPECT_EQ(l->offset_for_time(kEarliestTimestamp).value().offset, 5);
}

TEST(LogAppendTime, StampsBatchAndKeepsCrcValid) {
  fixture f;
  f.opts.log_append_time = true;
  auto l = f.open();
  auto b = batch_with({10, 20, 30});
  EXPECT_EQ(l->append(b).error(), errc::invalid_config);  // needs a clock
  auto a = l->append(b, 5000).value();
  EXPECT_EQ(a.log_append_time, 5000);
  append_ts(*l, {40}, 6000);

  auto blob = l->read_bytes(0, 1 << 20).value();
  records::batch_iterator it(blob);
  auto* v = it.next();
  ASSERT_NE(v, nullptr);
  ASSERT_TRUE(records::validate_batch(v->bytes));
  EXPECT_EQ(v->header.timestamp_type(), records::timestamp_type::log_append_time);
  EXPECT_EQ(v->header.max_timestamp, 5000);
  auto d = records::decode_records(v->bytes, 1 << 20).value();
  for (const auto& r : d.records) EXPECT_EQ(d.timestamp_of(r), 5000);

  EXPECT_EQ(l->offset_for_time(0).value().offset, 0);
  EXPECT_EQ(l->offset_for_time(5000).value().timestamp, 5000);
  EXPECT_EQ(l->offset_for_time(5001).value().offset, 3);
  auto max = l->offset_for_time(kMaxTimestamp).value();
  EXPECT_EQ(max.offset, 3);
  EXPECT_EQ(max.timestamp, 6000);

  // CreateTime logs leave batches alone.
  fixture g;
  auto c = g.open();
  auto plain = batch_with({10});
  auto a2 = c->append(plain, 5000);
  EXPECT_EQ(a2.value().log_append_time, -1);
  auto h = records::parse_batch_header(c->read_bytes(0, 100).value()).value();
  EXPECT_EQ(h.timestamp_type(), records::timestamp_type::create_time);
  EXPECT_EQ(h.max_timestamp, 10);
}

TEST(SegmentMs, RollsByTimeSinceFirstAppend) {
  fixture f;
  f.opts.segment_ms = 1000;
  auto l = f.open();
  append_ts(*l, {0}, 0);
  append_ts(*l, {0}, 1000);  // not past segment.ms yet
  EXPECT_EQ(l->segment_count(), 1u);
  append_ts(*l, {0}, 1001);
  EXPECT_EQ(l->segment_count(), 2u);
  append_ts(*l, {0}, 1500);
  append_ts(*l, {0}, 2001);  // 1000 since this segment's first append, not more
  EXPECT_EQ(l->segment_count(), 2u);
  append_ts(*l, {0}, 2002);
  EXPECT_EQ(l->segment_count(), 3u);
  append_ts(*l, {0});  // no clock: no time roll
  EXPECT_EQ(l->segment_count(), 3u);
  EXPECT_EQ(l->log_end_offset(), 7);

  // After a restart the first batch's timestamp stands in for the first append time.
  fixture g;
  g.opts.segment_ms = 100;
  auto m = g.open();
  append_ts(*m, {5000}, 5000);
  ASSERT_FALSE(m->close());
  m.reset();
  m = g.open();
  append_ts(*m, {5050}, 5100);
  EXPECT_EQ(m->segment_count(), 1u);
  append_ts(*m, {5101}, 5101);
  EXPECT_EQ(m->segment_count(), 2u);
}

TEST(Retention, ByTimeOldestFirstNeverActive) {
  fixture f;
  f.opts.retention_ms = 1500;
  auto l = f.open();
  for (int64_t ts : {1000, 2000, 3000}) {
    append_ts(*l, {ts - 50, ts});
    ASSERT_FALSE(l->roll());
  }
  append_ts(*l, {4000});  // active
  EXPECT_EQ(f.count(".timeindex"), 4u);
  EXPECT_EQ(l->apply_retention(3500).value(), 1u);  // 3500 - 2000 is not > 1500
  EXPECT_EQ(l->log_start_offset(), 2);
  EXPECT_EQ(l->apply_retention(4000).value(), 1u);
  EXPECT_EQ(l->segment_count(), 2u);
  EXPECT_EQ(l->read(3, 100).error(), errc::not_found);
  EXPECT_TRUE(l->read(4, 100));
  EXPECT_EQ(l->apply_retention(1000000).value(), 1u);  // everything expired: the active stays
  EXPECT_EQ(l->segment_count(), 1u);
  EXPECT_EQ(l->log_start_offset(), 6);
  for (const char* ext : {".log", ".index", ".timeindex"}) EXPECT_EQ(f.count(ext), 1u) << ext;
  auto reopened = (l.reset(), f.open());
  EXPECT_EQ(reopened->log_start_offset(), 6);
  EXPECT_EQ(reopened->log_end_offset(), 7);
}

TEST(Retention, ByTimeStopsAtFirstSegmentToKeep) {
  fixture f;
  f.opts.retention_ms = 2000;
  auto l = f.open();
  append_ts(*l, {5000});  // a late producer clock keeps the segment
  ASSERT_FALSE(l->roll());
  append_ts(*l, {1000});
  ASSERT_FALSE(l->roll());
  append_ts(*l, {1000});
  EXPECT_EQ(l->apply_retention(6000).value(), 0u);
  EXPECT_EQ(l->apply_retention(7001).value(), 2u);
}

TEST(Retention, ByBytes) {
  fixture f;
  auto l = f.open();
  uint64_t seg = 0;
  for (int i = 0; i < 4; ++i) {
    auto b = make_batch(2);
    seg = b.size();
    ASSERT_TRUE(l->append(b));
    if (i < 3) {
      ASSERT_FALSE(l->roll());
    }
  }
  EXPECT_EQ(l->apply_retention(0).value(), 0u);  // -1: no limit
  l.reset();
  f.opts.retention_bytes = static_cast<int64_t>(2 * seg);
  l = f.open();
  // 4 segments: dropping one leaves 3 >= 2, dropping two leaves 2 >= 2, a third would leave 1.
  EXPECT_EQ(l->apply_retention(0).value(), 2u);
  EXPECT_EQ(l->segment_count(), 2u);
  EXPECT_EQ(l->log_start_offset(), 4);
  l.reset();
  f.opts.retention_bytes = 0;
  l = f.open();
  EXPECT_EQ(l->apply_retention(0).value(), 1u);  // all but the active one
  EXPECT_EQ(l->segment_count(), 1u);
  EXPECT_EQ(l->log_start_offset(), 6);
  EXPECT_EQ(f.count(".log"), 1u);
}

TEST(DeleteRecords, MovesStartOffsetAndSurvivesRestart) {
  fixture f;
  posix_file_system posix;
  fault_injection_file_system faulty(posix);
  auto l = f.open(faulty);
  for (int i = 0; i < 10; ++i) {  // 2 records a batch, 3 batches a segment
    ASSERT_TRUE(testing::append(*l, make_batch(2)));
    if (i % 3 == 2) {
      ASSERT_FALSE(l->roll());
    }
  }
  EXPECT_EQ(l->log_end_offset(), 20);
  EXPECT_EQ(l->delete_records(21).error(), errc::not_found);
  EXPECT_EQ(l->delete_records(-2).error(), errc::not_found);
  EXPECT_EQ(l->delete_records(7).value(), 7);
  EXPECT_EQ(l->delete_records(5).value(), 7);  // never moves back
  EXPECT_EQ(l->log_start_offset(), 7);
  EXPECT_EQ(l->read(6, 100).error(), errc::not_found);
  auto from7 = l->read_bytes(7, 1).value();  // the batch holding 7 starts at 6
  EXPECT_EQ(records::parse_batch_header(from7).value().base_offset, 6);

  // Power loss right after: the start offset is durable.
  ASSERT_FALSE(faulty.power_cut());
  l.reset();
  l = f.open();
  EXPECT_EQ(l->log_start_offset(), 7);
  EXPECT_GE(l->log_end_offset(), 7);

  // Retention drops the segment wholly below it ([0, 6)), not the one it points into.
  EXPECT_EQ(l->apply_retention(0).value(), 1u);
  EXPECT_EQ(l->log_start_offset(), 7);
  l.reset();
  l = f.open();
  EXPECT_EQ(l->log_start_offset(), 7);

  // Up to the log end: everything but the active segment goes.
  const int64_t end = l->log_end_offset();
  EXPECT_EQ(l->delete_records(end).value(), end);
  EXPECT_EQ(l->read(end, 100).value().range.length, 0u);
  EXPECT_GT(l->apply_retention(0).value(), 0u);
  EXPECT_EQ(l->segment_count(), 1u);
  EXPECT_EQ(l->offset_for_time(kEarliestTimestamp).value().offset, end);
}

TEST(DeleteRecords, FailedCheckpointWriteChangesNothing) {
  fixture f;
  posix_file_system posix;
  fault_injection_file_system faulty(posix);
  auto l = f.open(faulty);
  ASSERT_TRUE(testing::append(*l, make_batch(5)));
  ASSERT_EQ(l->delete_records(1).value(), 1);
  faulty.fail_writes(fault_injection_file_system::fault::short_write, 1);
  EXPECT_FALSE(l->delete_records(3));
  EXPECT_EQ(l->log_start_offset(), 1);
  l.reset();
  l = f.open();  // the torn temp file is ignored
  EXPECT_EQ(l->log_start_offset(), 1);
  EXPECT_EQ(l->delete_records(3).value(), 3);
  l.reset();
  EXPECT_EQ(f.open()->log_start_offset(), 3);
}

TEST(DeleteRecords, DamagedCheckpointIsAnError) {
  fixture f;
  auto l = f.open();
  ASSERT_TRUE(testing::append(*l, make_batch(3)));
  ASSERT_EQ(l->delete_records(2).value(), 2);
  l.reset();
  {
    std::fstream cp(f.path() + "/log-start-offset",
                    std::ios::in | std::ios::out | std::ios::binary);
    cp.seekp(9);
    cp.put('\x01');
  }
  auto bad = log::open(f.fs, f.path(), f.opts);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), errc::invalid_data);
}

TEST(Recovery, RebuildsTimeIndexOfActiveSegment) {
  fixture f;
  auto l = f.open();
  lcg rng;
  for (int i = 0; i < 60; ++i) {
    const int64_t t = 1000 + 10 * i;
    append_ts(*l, {t - rng.next(40), t, t - rng.next(40)});
    if (i == 30) {
      ASSERT_FALSE(l->roll());
    }
  }
  std::vector<timestamp_offset> before;
  for (int64_t t = 900; t < 1700; t += 7) before.push_back(l->offset_for_time(t).value());
  before.push_back(l->offset_for_time(kMaxTimestamp).value());
  l.reset();  // no close(): the active segment's time index was never written
  EXPECT_EQ(std::filesystem::file_size(f.path() + "/" + segment::time_index_name(93)), 0u);
  l = f.open();
  size_t i = 0;
  for (int64_t t = 900; t < 1700; t += 7, ++i) {
    auto r = l->offset_for_time(t).value();
    EXPECT_EQ(r.offset, before[i].offset) << t;
    EXPECT_EQ(r.timestamp, before[i].timestamp) << t;
  }
  EXPECT_EQ(l->offset_for_time(kMaxTimestamp).value().offset, before.back().offset);
  EXPECT_GT(std::filesystem::file_size(f.path() + "/" + segment::time_index_name(93)), 0u);
}

}  // namespace
}  // namespace sluice::storage
