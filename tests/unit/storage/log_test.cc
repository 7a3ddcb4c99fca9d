#include "src/storage/log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/unit/storage/storage_test_util.h"

namespace sluice::storage {
namespace {

using testing::append;
using testing::make_batch;
using testing::temp_dir;
using fault = fault_injection_file_system::fault;

// Every record offset in a fetched blob, checking each batch's CRC on the way.
std::vector<int64_t> offsets_in(const wire::bytes& blob) {
  std::vector<int64_t> out;
  records::batch_iterator it(blob);
  while (auto* b = it.next()) {
    EXPECT_TRUE(records::validate_batch(b->bytes));
    for (int64_t o = b->header.base_offset; o <= b->header.last_offset(); ++o) out.push_back(o);
  }
  EXPECT_EQ(it.error(), errc::ok);
  EXPECT_FALSE(it.partial());
  return out;
}

// Reads the whole log from `from` by repeated fetches of max_bytes.
std::vector<int64_t> read_all(log& l, int64_t from = 0, size_t max_bytes = 1000) {
  std::vector<int64_t> out;
  int64_t next = from;
  while (next < l.log_end_offset()) {
    auto blob = l.read_bytes(next, max_bytes);
    EXPECT_TRUE(blob) << blob.error().message();
    if (!blob || blob.value().empty()) break;
    auto offsets = offsets_in(blob.value());
    out.insert(out.end(), offsets.begin(), offsets.end());
    next = offsets.back() + 1;
  }
  return out;
}

std::vector<int64_t> range(int64_t from, int64_t to) {  // [from, to)
  std::vector<int64_t> v;
  for (int64_t o = from; o < to; ++o) v.push_back(o);
  return v;
}

size_t count_files(const std::string& dir, const std::string& ext) {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) n += e.path().extension() == ext;
  return n;
}

struct fixture {
  temp_dir dir;
  posix_file_system fs;
  log_options opts{.segment_bytes = 4096, .index_interval_bytes = 512};

  std::unique_ptr<log> open(file_system& with) {
    auto l = log::open(with, dir.path() + "/topic-0", opts);
    EXPECT_TRUE(l) << l.error().message();
    return std::move(l).value();
  }
  std::unique_ptr<log> open() { return open(fs); }
  std::string log_file(int64_t base) { return dir.path() + "/topic-0/" + segment::log_name(base); }
};

TEST(Log, EmptyLog) {
  fixture f;
  auto l = f.open();
  EXPECT_EQ(l->log_start_offset(), 0);
  EXPECT_EQ(l->log_end_offset(), 0);
  EXPECT_EQ(l->segment_count(), 1u);
  auto r = l->read(0, 100).value();
  EXPECT_EQ(r.seg, nullptr);
  EXPECT_EQ(r.range.length, 0u);
  EXPECT_EQ(l->read(1, 100).error(), errc::not_found);
  EXPECT_EQ(l->read(-1, 100).error(), errc::not_found);
}

TEST(Log, AppendReadRoundTrip) {
  fixture f;
  auto l = f.open();
  auto b1 = make_batch(3);
  auto b2 = make_batch(2);
  auto a1 = l->append(b1).value();
  auto a2 = l->append(b2).value();
  EXPECT_EQ(a1.base_offset, 0);
  EXPECT_EQ(a1.last_offset, 2);
  EXPECT_EQ(a2.base_offset, 3);
  EXPECT_EQ(a2.last_offset, 4);
  EXPECT_EQ(l->log_end_offset(), 5);
  // The stored bytes are the appended bytes (with offsets assigned in place).
  auto blob = l->read_bytes(0, 1 << 20).value();
  wire::bytes expected = b1;
  expected.insert(expected.end(), b2.begin(), b2.end());
  EXPECT_EQ(blob, expected);
  EXPECT_EQ(offsets_in(blob), range(0, 5));
  // Records decode with their assigned offsets.
  auto d = records::decode_records(l->read_bytes(3, 1).value(), 1 << 20).value();
  ASSERT_EQ(d.records.size(), 2u);
  EXPECT_EQ(d.offset_of(d.records[1]), 4);
}

TEST(Log, RejectsCorruptBatch) {
  fixture f;
  auto l = f.open();
  auto b = make_batch(2);
  b.back() ^= 1;
  EXPECT_EQ(l->append(b).error(), errc::crc_mismatch);
  EXPECT_EQ(l->log_end_offset(), 0);
}

// Produce validates each batch once (records::check_batch) and appends the checked batch: the
// same bytes and offsets as the validating append, and LogAppendTime still leaves a valid CRC.
TEST(Log, AppendsACheckedBatchLikeAnyOther) {
  for (bool append_time : {false, true}) {
    fixture f;
    f.opts.log_append_time = append_time;
    auto l = f.open();
    auto b1 = make_batch(3);
    auto b2 = make_batch(2);
    auto a1 = l->append(b1, 5000).value();
    auto c2 = records::check_batch(b2);
    ASSERT_TRUE(c2);
    auto a2 = l->append(c2.value(), 6000).value();
    EXPECT_EQ(a2.base_offset, 3);
    EXPECT_EQ(a2.last_offset, 4);
    EXPECT_EQ(a2.log_append_time, append_time ? 6000 : -1);
    EXPECT_EQ(l->read_bytes(3, 1 << 20).value(), b2);  // offsets and stamp were written in place
    EXPECT_EQ(offsets_in(l->read_bytes(0, 1 << 20).value()), range(0, 5));  // CRCs valid
    EXPECT_EQ(a1.base_offset, 0);
  }
}

TEST(Log, RollsBySegmentBytesAndReadsAcrossSegments) {
  fixture f;
  auto l = f.open();
  int64_t next = 0;
  for (int i = 0; i < 100; ++i) {
    auto a = append(*l, make_batch(2, 100)).value();
    ASSERT_EQ(a.base_offset, next);
    next = a.last_offset + 1;
  }
  EXPECT_GT(l->segment_count(), 5u);
  EXPECT_EQ(count_files(f.dir.path() + "/topic-0", ".log"), l->segment_count());
  EXPECT_EQ(count_files(f.dir.path() + "/topic-0", ".index"), l->segment_count());
  for (const auto& e : std::filesystem::directory_iterator(f.dir.path() + "/topic-0")) {
    if (e.path().extension() == ".log") {
      EXPECT_LE(e.file_size(), f.opts.segment_bytes);
    }
  }
  EXPECT_EQ(read_all(*l), range(0, 200));
  EXPECT_EQ(read_all(*l, 77, 300), range(76, 200));  // 77 is inside the batch 76..77
  // A read never spans two segments.
  auto r = l->read(0, 1 << 20).value();
  EXPECT_LE(r.range.length, f.opts.segment_bytes);
}

TEST(Log, OversizedBatchGoesOutWholeAndGetsItsOwnSegment) {
  fixture f;
  auto l = f.open();
  ASSERT_TRUE(append(*l, make_batch(1, 10)));
  auto big = make_batch(3, 6000);  // larger than segment.bytes
  auto a = l->append(big).value();
  EXPECT_EQ(a.base_offset, 1);
  EXPECT_EQ(l->segment_count(), 2u);
  auto blob = l->read_bytes(2, 10).value();  // KIP-74, and mid-batch
  EXPECT_EQ(blob.size(), big.size());
  EXPECT_EQ(offsets_in(blob), range(1, 4));
  ASSERT_TRUE(append(*l, make_batch(1, 10)));
  EXPECT_EQ(l->segment_count(), 3u);
  EXPECT_EQ(read_all(*l, 0, 1), range(0, 5));
}

TEST(Log, ReopenRecoversTheSameEndOffset) {
  fixture f;
  {
    auto l = f.open();
    for (int i = 0; i < 60; ++i) ASSERT_TRUE(append(*l, make_batch(3, 50)));
    ASSERT_FALSE(l->close());
  }
  auto l = f.open();
  EXPECT_EQ(l->log_end_offset(), 180);
  EXPECT_EQ(l->recovery().truncated_bytes, 0u);
  EXPECT_EQ(read_all(*l), range(0, 180));
  auto a = append(*l, make_batch(1)).value();
  EXPECT_EQ(a.base_offset, 180);
  // Reopen without close(): the active index is rebuilt from the log.
  l.reset();
  l = f.open();
  EXPECT_EQ(l->log_end_offset(), 181);
  EXPECT_EQ(read_all(*l, 100, 200), range(99, 181));
}

TEST(Log, TornTailIsTruncatedOnRecovery) {
  fixture f;
  int64_t base = 0;
  {
    auto l = f.open();
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(append(*l, make_batch(2)));
    base = l->read(l->log_end_offset() - 1, 1).value().seg->base_offset();
  }
  // Cut the last batch in half.
  const auto path = f.log_file(base);
  const auto size = std::filesystem::file_size(path);
  const auto batch = make_batch(2).size();
  std::filesystem::resize_file(path, size - batch / 2);
  auto l = f.open();
  EXPECT_EQ(l->log_end_offset(), 18);
  EXPECT_EQ(l->recovery().truncated_bytes, batch - batch / 2);
  EXPECT_EQ(std::filesystem::file_size(path), size - batch);
  EXPECT_EQ(read_all(*l), range(0, 18));
  EXPECT_EQ(append(*l, make_batch(1)).value().base_offset, 18);
}

TEST(Log, CorruptLastBatchIsTruncatedOnRecovery) {
  fixture f;
  {
    auto l = f.open();
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(append(*l, make_batch(2)));
    ASSERT_FALSE(l->close());
  }
  const auto path = f.log_file(0);
  const auto size = std::filesystem::file_size(path);
  {
    std::fstream io(path, std::ios::binary | std::ios::in | std::ios::out);
    io.seekg(static_cast<std::streamoff>(size - 3));
    char c;
    io.get(c);
    io.seekp(static_cast<std::streamoff>(size - 3));
    io.put(static_cast<char>(c ^ 0x40));
  }
  auto l = f.open();
  EXPECT_EQ(l->log_end_offset(), 18);
  EXPECT_EQ(l->recovery().truncated_bytes, make_batch(2).size());
  EXPECT_EQ(read_all(*l), range(0, 18));
}

TEST(Log, NoSpaceOnAppendLeavesLogUsable) {
  fixture f;
  fault_injection_file_system faulty(f.fs);
  auto l = f.open(faulty);
  ASSERT_TRUE(append(*l, make_batch(2)));
  faulty.fail_writes(fault::no_space, 1);
  auto r = append(*l, make_batch(3));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::no_space);
  EXPECT_EQ(l->log_end_offset(), 2);
  EXPECT_EQ(read_all(*l), range(0, 2));
  // Space is back: appends resume at the same offset.
  EXPECT_EQ(append(*l, make_batch(3)).value().base_offset, 2);
  EXPECT_EQ(read_all(*l), range(0, 5));
}

TEST(Log, ShortWriteIsRolledBack) {
  fixture f;
  fault_injection_file_system faulty(f.fs);
  {
    auto l = f.open(faulty);
    ASSERT_TRUE(append(*l, make_batch(2)));
    const auto size = std::filesystem::file_size(f.log_file(0));
    faulty.fail_writes(fault::short_write, 1);
    EXPECT_EQ(append(*l, make_batch(3)).error(), errc::io_error);
    EXPECT_EQ(std::filesystem::file_size(f.log_file(0)), size);  // no torn prefix left
    EXPECT_EQ(append(*l, make_batch(1)).value().base_offset, 2);
    EXPECT_EQ(read_all(*l), range(0, 3));
  }
  auto l = f.open();
  EXPECT_EQ(l->recovery().truncated_bytes, 0u);
  EXPECT_EQ(l->log_end_offset(), 3);
}

TEST(Log, PowerCutKeepsSyncedDataAndDropsTheRest) {
  fixture f;
  fault_injection_file_system faulty(f.fs);
  {
    auto l = f.open(faulty);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(append(*l, make_batch(2)));
    ASSERT_FALSE(l->flush());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(append(*l, make_batch(2)));
    EXPECT_EQ(l->log_end_offset(), 16);
  }
  ASSERT_FALSE(faulty.power_cut());
  auto l = f.open(faulty);
  EXPECT_EQ(l->log_end_offset(), 10);
  EXPECT_EQ(read_all(*l), range(0, 10));
  EXPECT_EQ(append(*l, make_batch(1)).value().base_offset, 10);
}

TEST(Log, PowerCutAfterRollKeepsRolledSegments) {
  fixture f;
  fault_injection_file_system faulty(f.fs);
  size_t segments = 0;
  {
    auto l = f.open(faulty);
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(append(*l, make_batch(2, 200)));
    segments = l->segment_count();
    ASSERT_GT(segments, 2u);
  }
  ASSERT_FALSE(faulty.power_cut());
  auto l = f.open(faulty);
  // Every rolled segment was synced at the roll; only the unsynced active one is lost.
  EXPECT_EQ(l->segment_count(), segments);
  const int64_t leo = l->log_end_offset();
  EXPECT_GT(leo, 0);
  EXPECT_LT(leo, 80);
  EXPECT_EQ(read_all(*l), range(0, leo));
  EXPECT_EQ(append(*l, make_batch(1)).value().base_offset, leo);
}

TEST(Log, FailedSyncIsReported) {
  fixture f;
  fault_injection_file_system faulty(f.fs);
  auto l = f.open(faulty);
  ASSERT_TRUE(append(*l, make_batch(2)));
  faulty.fail_syncs(1);
  EXPECT_EQ(l->flush(), errc::io_error);
  // No retry (fsyncgate): the log stays failed until it is reopened.
  EXPECT_EQ(l->flush(), errc::io_error);
  EXPECT_EQ(append(*l, make_batch(1)).error(), errc::io_error);
  l.reset();
  l = f.open(faulty);
  EXPECT_FALSE(l->error());
  EXPECT_EQ(append(*l, make_batch(1)).value().base_offset, 2);
  EXPECT_FALSE(l->flush());
}

TEST(Log, MissingIndexesAndStrayFilesAreHandled) {
  fixture f;
  {
    auto l = f.open();
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(append(*l, make_batch(2, 100)));
    ASSERT_GT(l->segment_count(), 3u);
    ASSERT_FALSE(l->close());
  }
  const std::string dir = f.dir.path() + "/topic-0";
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".index") std::filesystem::remove(e.path());
  }
  std::ofstream(dir + "/notes.txt") << "not a segment";
  std::ofstream(dir + "/123.log") << "short name: not a segment";
  auto l = f.open();
  EXPECT_EQ(l->log_end_offset(), 100);
  EXPECT_EQ(read_all(*l, 0, 250), range(0, 100));
}

TEST(Log, ReadErrorIsReported) {
  fixture f;
  fault_injection_file_system faulty(f.fs);
  auto l = f.open(faulty);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(append(*l, make_batch(2)));
  faulty.fail_reads(1);
  EXPECT_EQ(l->read_bytes(2, 1).error(), errc::io_error);
  EXPECT_EQ(read_all(*l), range(0, 6));
}

TEST(Log, RejectsBadConfig) {
  temp_dir dir;
  posix_file_system fs;
  EXPECT_EQ(log::open(fs, dir.path(), {.segment_bytes = 0}).error(), errc::invalid_config);
}

}  // namespace
}  // namespace sluice::storage
