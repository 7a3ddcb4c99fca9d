#include "src/storage/segment.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "src/base/byte_order.h"
#include "tests/unit/storage/storage_test_util.h"

namespace sluice::storage {
namespace {

using testing::append;
using testing::make_batch;
using testing::temp_dir;

struct fixture {
  temp_dir dir;
  posix_file_system fs;

  std::unique_ptr<segment> create(int64_t base, uint32_t interval = 4096) {
    return segment::create(fs, dir.path(), base, {interval}).value();
  }
};

TEST(Segment, FileNamesAreTwentyDigits) {
  EXPECT_EQ(segment::log_name(42), "00000000000000000042.log");
  EXPECT_EQ(segment::index_name(42), "00000000000000000042.index");
}

TEST(Segment, AppendAssignsOffsetsAndKeepsCrc) {
  fixture f;
  auto s = f.create(100);
  EXPECT_EQ(s->next_offset(), 100);
  auto b1 = make_batch(3);
  auto b2 = make_batch(1);
  auto a1 = s->append(b1).value();
  auto a2 = s->append(b2).value();
  EXPECT_EQ(a1.base_offset, 100);
  EXPECT_EQ(a1.last_offset, 102);
  EXPECT_EQ(a1.position, 0u);
  EXPECT_EQ(a2.base_offset, 103);
  EXPECT_EQ(a2.last_offset, 103);
  EXPECT_EQ(a2.position, b1.size());
  EXPECT_EQ(s->next_offset(), 104);
  EXPECT_EQ(s->size_bytes(), b1.size() + b2.size());

  auto bytes = s->read_bytes({0, s->size_bytes()}).value();
  records::batch_iterator it(bytes);
  auto* v = it.next();
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->header.base_offset, 100);
  EXPECT_TRUE(records::validate_batch(v->bytes));  // rewriting baseOffset keeps the CRC valid
  v = it.next();
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->header.base_offset, 103);
  EXPECT_TRUE(records::validate_batch(v->bytes));
  EXPECT_EQ(it.next(), nullptr);
  EXPECT_EQ(it.error(), errc::ok);
}

TEST(Segment, RejectsMalformedBatches) {
  fixture f;
  auto s = f.create(0);
  auto b = make_batch(1);
  b.push_back(0);  // one byte more than batchLength says
  EXPECT_EQ(s->append(b).error(), errc::invalid_length);
  wire::bytes tiny(10, 0);
  EXPECT_EQ(s->append(tiny).error(), errc::truncated);
  EXPECT_TRUE(s->empty());
}

TEST(Segment, ReadCoversWholeBatchesAndAtLeastOne) {
  fixture f;
  auto s = f.create(0);
  auto small = make_batch(1, 10);
  auto big = make_batch(2, 5000);
  auto a0 = s->append(small).value();
  auto a1 = s->append(big).value();
  auto a2 = s->append(small).value();
  const uint64_t total = s->size_bytes();

  // KIP-74: an oversized first batch comes back whole.
  auto r = s->read(a1.base_offset, 100).value();
  EXPECT_EQ(r.position, a1.position);
  EXPECT_EQ(r.length, big.size());
  // max_bytes stops before a batch that does not fit.
  r = s->read(0, small.size() + 100).value();
  EXPECT_EQ(r.position, 0u);
  EXPECT_EQ(r.length, small.size());
  // Everything when it fits.
  r = s->read(0, total).value();
  EXPECT_EQ(r.length, total);
  r = s->read(a2.base_offset, 1).value();
  EXPECT_EQ(r.position, a2.position);
  EXPECT_EQ(r.length, small.size());
  (void)a0;
}

// read() starts its header walk at the last index entry within max_bytes; the range must be the
// one a walk over every batch gives: whole batches from the one holding the offset, as many as
// fit, at least one. Sparse and dense indexes, max_bytes on and around batch boundaries.
TEST(Segment, ReadRangesAgreeWithAWalkOverEveryBatch) {
  for (uint32_t interval : {0u, 700u, 4096u}) {
    fixture f;
    auto s = f.create(5, interval);
    std::vector<segment::appended> batches;
    std::vector<uint64_t> ends;
    for (int i = 0; i < 60; ++i) {
      auto b = make_batch(1 + i % 3, 30 + (i * 131) % 1500);
      batches.push_back(s->append(b).value());
      ends.push_back(batches.back().position + b.size());
    }
    for (size_t first = 0; first < batches.size(); first += 7) {
      const uint64_t start = batches[first].position;
      for (size_t last = first; last < batches.size(); last += 5) {
        for (int64_t delta : {-1, 0, 1}) {
          const auto max = static_cast<size_t>(static_cast<int64_t>(ends[last] - start) + delta);
          // The reference: add batches while they fit, the first one always.
          uint64_t want = ends[first] - start;
          for (size_t k = first + 1; k < batches.size() && ends[k] - start <= max; ++k) {
            want = ends[k] - start;
          }
          auto r = s->read(batches[first].last_offset, max);
          ASSERT_TRUE(r) << r.error().message();
          EXPECT_EQ(r.value().position, start) << interval << " " << first << " " << max;
          EXPECT_EQ(r.value().length, want) << interval << " " << first << " " << max;
        }
      }
    }
  }
}

// A consumer reads on from where its previous read stopped: the header read by that read's walk
// (the batch that did not fit) is kept, so finding the next start (offset_at, lookup) needs no
// pread, and each read() after the first needs one. The ranges are those of a walk over every
// batch (the test above); here a pending read fault shows which calls touch the file.
TEST(Segment, SequentialReadsReuseTheLastHeader) {
  fixture f;
  fault_injection_file_system faulty(f.fs);
  auto s = segment::create(faulty, f.dir.path(), 0, {0}).value();  // every batch indexed
  std::vector<segment::appended> batches;
  for (int i = 0; i < 8; ++i) batches.push_back(append(*s, make_batch(3, 1000)).value());
  const uint64_t batch_bytes = batches[1].position - batches[0].position;
  int64_t next = 0;
  for (size_t k = 0; k + 1 < batches.size(); ++k) {
    if (k > 0) {
      faulty.fail_reads(1);
      EXPECT_EQ(s->lookup(next).value(), batches[k].position) << k;        // no pread
      EXPECT_EQ(s->read(next, batch_bytes).error(), errc::io_error) << k;  // one pread
    }
    auto r = s->read(next, batch_bytes);  // (the fault is used up)
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r.value().position, batches[k].position);
    EXPECT_EQ(r.value().length, batch_bytes);
    faulty.fail_reads(1);
    auto at = s->offset_at(r.value().position + r.value().length);  // no pread
    ASSERT_TRUE(at) << k;
    EXPECT_EQ(at.value(), batches[k + 1].base_offset);
    faulty.fail_reads(0);
    next = at.value();
  }
}

TEST(Segment, OffsetInsideABatchReturnsThatBatch) {
  fixture f;
  auto s = f.create(10);
  ASSERT_TRUE(append(*s, make_batch(5)));           // 10..14
  auto second = append(*s, make_batch(5)).value();  // 15..19
  for (int64_t o = 15; o <= 19; ++o) {
    auto r = s->read(o, 1).value();
    EXPECT_EQ(r.position, second.position) << o;
    EXPECT_EQ(s->lookup(o).value(), second.position) << o;
  }
  EXPECT_EQ(s->lookup(12).value(), 0u);
  EXPECT_EQ(s->lookup(9).error(), errc::not_found);
  EXPECT_EQ(s->lookup(20).error(), errc::not_found);
  EXPECT_EQ(s->read(20, 100).error(), errc::not_found);
}

// Appends batches of varying sizes and record counts; returns each batch's (base, last, pos).
std::vector<segment::appended> fill(segment& s, int n) {
  std::vector<segment::appended> out;
  for (int i = 0; i < n; ++i) {
    auto b = make_batch(1 + i % 4, 20 + (i * 37) % 300);
    out.push_back(s.append(b).value());
  }
  return out;
}

void expect_lookups(segment& s, const std::vector<segment::appended>& batches) {
  for (const auto& b : batches) {
    for (int64_t o = b.base_offset; o <= b.last_offset; ++o) {
      ASSERT_EQ(s.lookup(o).value(), b.position) << "offset " << o;
    }
  }
}

TEST(Segment, SparseIndexLookupsOverManyBatches) {
  fixture f;
  auto s = f.create(1000, 1024);
  auto batches = fill(*s, 500);
  // Roughly one entry per KiB of batches; strictly increasing.
  EXPECT_GT(s->index().size(), s->size_bytes() / 2048);
  EXPECT_LE(s->index().size(), s->size_bytes() / 1024 + 1);
  for (size_t i = 1; i < s->index().size(); ++i) {
    EXPECT_GT(s->index()[i].relative_offset, s->index()[i - 1].relative_offset);
    EXPECT_GT(s->index()[i].position, s->index()[i - 1].position);
  }
  expect_lookups(*s, batches);
}

TEST(Segment, IndexEveryBatchWithZeroInterval) {
  fixture f;
  auto s = f.create(0, 0);
  auto batches = fill(*s, 20);
  EXPECT_EQ(s->index().size(), 20u);
  expect_lookups(*s, batches);
}

TEST(Segment, OpenLoadsIndexOrRebuildsACorruptOne) {
  fixture f;
  std::vector<segment::appended> batches;
  std::vector<index_entry> index;
  {
    auto s = f.create(7, 512);
    batches = fill(*s, 200);
    index = s->index();
    ASSERT_FALSE(s->flush());
    ASSERT_FALSE(s->write_index());
  }
  auto index_path = f.dir.file(segment::index_name(7));
  EXPECT_EQ(std::filesystem::file_size(index_path), index.size() * 8);
  {
    auto s = segment::open(f.fs, f.dir.path(), 7, {512}).value();
    EXPECT_EQ(s->next_offset(), batches.back().last_offset + 1);
    ASSERT_EQ(s->index().size(), index.size());
    expect_lookups(*s, batches);
  }
  // Garbage in the index (not a multiple of 8 bytes): rebuilt from the log.
  {
    std::ofstream out(index_path, std::ios::binary | std::ios::app);
    out << "xyz";
  }
  {
    auto s = segment::open(f.fs, f.dir.path(), 7, {512}).value();
    EXPECT_EQ(s->index().size(), index.size());
    expect_lookups(*s, batches);
  }
  EXPECT_EQ(std::filesystem::file_size(index_path), index.size() * 8);
  // Entries pointing past the log: rebuilt too.
  {
    std::fstream io(index_path, std::ios::binary | std::ios::in | std::ios::out);
    uint8_t e[8];
    be::store_u32(e, 0xFFFFFF);
    be::store_u32(e + 4, 0xFFFFFFF);
    io.seekp(0);
    io.write(reinterpret_cast<const char*>(e), 8);
  }
  auto s = segment::open(f.fs, f.dir.path(), 7, {512}).value();
  expect_lookups(*s, batches);
}

TEST(Segment, RecoverTruncatesTornTail) {
  fixture f;
  std::vector<segment::appended> batches;
  uint64_t good = 0;
  {
    auto s = f.create(0, 256);
    batches = fill(*s, 50);
    good = s->size_bytes();
    auto last = make_batch(3, 100);
    ASSERT_TRUE(s->append(last));
  }
  auto log_path = f.dir.file(segment::log_name(0));
  std::filesystem::resize_file(log_path, std::filesystem::file_size(log_path) - 7);
  // A plain open refuses a torn segment; recovery truncates it.
  EXPECT_EQ(segment::open(f.fs, f.dir.path(), 0, {256}).error(), errc::invalid_data);
  recovery_result rr;
  auto s = segment::open_and_recover(f.fs, f.dir.path(), 0, {256}, &rr).value();
  EXPECT_EQ(rr.valid_bytes, good);
  EXPECT_GT(rr.truncated_bytes, 0u);
  EXPECT_EQ(rr.batches, 50u);
  EXPECT_EQ(s->size_bytes(), good);
  EXPECT_EQ(std::filesystem::file_size(log_path), good);
  EXPECT_EQ(s->next_offset(), batches.back().last_offset + 1);
  expect_lookups(*s, batches);
}

// The active segment's index is rebuilt by every recovery, so recovering an intact segment
// writes the index but syncs nothing (on ext4 a sync would wait for the log's writeback).
TEST(Segment, RecoverOfAnIntactSegmentWritesTheIndexWithoutSyncing) {
  fixture f;
  std::vector<segment::appended> batches;
  {
    auto s = f.create(0, 256);
    batches = fill(*s, 50);
  }
  fault_injection_file_system faulty(f.fs);
  faulty.fail_syncs(1);
  recovery_result rr;
  auto s = segment::open_and_recover(faulty, f.dir.path(), 0, {256}, &rr);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(rr.truncated_bytes, 0u);
  EXPECT_EQ(rr.batches, 50u);
  expect_lookups(*s.value(), batches);
  const size_t entries = s.value()->index().size();
  ASSERT_GT(entries, 0u);
  EXPECT_EQ(std::filesystem::file_size(f.dir.file(segment::index_name(0))), entries * 8);
  // The injected sync fault is still pending: recovery made no fdatasync.
  EXPECT_EQ(s.value()->flush(), errc::io_error);
  // A plain open loads the index recovery wrote and finds the same batches.
  s.value().reset();
  auto reopened = segment::open(f.fs, f.dir.path(), 0, {256}).value();
  EXPECT_EQ(reopened->index().size(), entries);
  expect_lookups(*reopened, batches);
}

// create() over the files of an earlier segment with the same base offset starts empty (a new
// file is not truncated at all: see truncate_if_not_empty in segment.cc).
TEST(Segment, CreateEmptiesLeftoverFiles) {
  fixture f;
  {
    auto s = f.create(42, 0);
    fill(*s, 10);
    ASSERT_FALSE(s->write_index());
  }
  for (const auto& name :
       {segment::log_name(42), segment::index_name(42), segment::time_index_name(42)}) {
    ASSERT_GT(std::filesystem::file_size(f.dir.file(name)), 0u) << name;
  }
  auto s = f.create(42);
  EXPECT_TRUE(s->empty());
  EXPECT_EQ(s->next_offset(), 42);
  for (const auto& name :
       {segment::log_name(42), segment::index_name(42), segment::time_index_name(42)}) {
    EXPECT_EQ(std::filesystem::file_size(f.dir.file(name)), 0u) << name;
  }
  auto a = append(*s, make_batch(2)).value();
  EXPECT_EQ(a.base_offset, 42);
  EXPECT_EQ(a.position, 0u);
}

// Recovery reads in 1 MiB chunks: batches straddle chunk ends, one batch is larger than a chunk,
// and a CRC failure past the first chunks still truncates exactly there.
TEST(Segment, RecoverAcrossReadChunks) {
  fixture f;
  std::vector<segment::appended> batches;
  uint64_t good = 0;
  uint64_t corrupt_at = 0;
  {
    auto s = f.create(0, 4096);
    auto add = [&](wire::bytes b) {
      auto a = s->append(b);
      ASSERT_TRUE(a);
      batches.push_back(a.value());
    };
    for (int i = 0; i < 200; ++i) add(make_batch(2, 3001));              // ~1.2 MiB
    add(make_batch(1, (3u << 20) / 2));                                  // 1.5 MiB batch
    for (int i = 0; i < 300; ++i) add(make_batch(1 + i % 3, 4099 + i));  // ~2.4 MiB
    good = s->size_bytes();
    corrupt_at = good;
    auto bad = make_batch(2, 5000);
    ASSERT_TRUE(s->append(bad));
    auto after = make_batch(2, 5000);
    ASSERT_TRUE(s->append(after));
  }
  auto log_path = f.dir.file(segment::log_name(0));
  {
    std::fstream io(log_path, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(static_cast<std::streamoff>(corrupt_at + records::kHeaderSize + 100));
    io.put('X');
  }
  recovery_result rr;
  auto s = segment::open_and_recover(f.fs, f.dir.path(), 0, {4096}, &rr).value();
  EXPECT_EQ(rr.valid_bytes, good);
  EXPECT_GT(rr.truncated_bytes, 0u);
  EXPECT_EQ(rr.batches, batches.size());
  EXPECT_EQ(s->size_bytes(), good);
  EXPECT_EQ(std::filesystem::file_size(log_path), good);
  EXPECT_EQ(s->next_offset(), batches.back().last_offset + 1);
  expect_lookups(*s, batches);
  // A plain open rebuilds the same index from the recovered file.
  s.reset();
  std::filesystem::remove(f.dir.file(segment::index_name(0)));
  auto reopened = segment::open(f.fs, f.dir.path(), 0, {4096}).value();
  EXPECT_EQ(reopened->next_offset(), batches.back().last_offset + 1);
  expect_lookups(*reopened, batches);
}

}  // namespace
}  // namespace sluice::storage
