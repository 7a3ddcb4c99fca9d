// Block reservation ahead of the active segment's end (file::reserve, segment_options::
// reserve_bytes): sizes and contents never change, roll/close/trim free what is left past the end,
// and a failed reservation does not fail the append.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <deque>
#include <filesystem>
#include <thread>

#include "src/storage/log.h"
#include "src/storage/segment.h"
#include "tests/unit/storage/storage_test_util.h"

namespace sluice::storage {
namespace {

using testing::allocated;
using testing::append;
using testing::blocks_for;
using testing::make_batch;
using testing::sv;
using testing::temp_dir;

constexpr uint64_t kKiB = 1024;

// Whether this directory's file system reserves blocks with FALLOC_FL_KEEP_SIZE (ext4, xfs and
// tmpfs do); the tests that look at st_blocks skip elsewhere.
bool reserves_blocks(const temp_dir& dir) {
  posix_file_system fs;
  auto f = fs.create(dir.file("probe")).value();
  const bool ok = !f->reserve(0, 64 * kKiB) && allocated(dir.file("probe")) >= 64 * kKiB;
  (void)fs.remove(dir.file("probe"));
  return ok;
}

TEST(Reserve, KeepsSizeAndContentAndTruncateFreesIt) {
  temp_dir dir;
  if (!reserves_blocks(dir)) GTEST_SKIP() << "no FALLOC_FL_KEEP_SIZE here";
  posix_file_system fs;
  auto f = fs.create(dir.file("a")).value();
  ASSERT_FALSE(f->append(sv("abc")));
  ASSERT_FALSE(f->reserve(0, 1024 * kKiB));
  EXPECT_EQ(f->size().value(), 3u);
  uint8_t buf[8];
  EXPECT_EQ(f->pread(0, buf).value(), 3u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), 3), "abc");
  EXPECT_GE(allocated(dir.file("a")), 1024 * kKiB);
  ASSERT_FALSE(f->truncate(3));  // same size: still frees the blocks past the end
  EXPECT_LE(allocated(dir.file("a")), blocks_for(3));
  ASSERT_FALSE(f->append(sv("d")));  // the handle's end is unchanged by reserve/truncate
  EXPECT_EQ(f->size().value(), 4u);
}

TEST(Reserve, SegmentReservesAheadInGrowingStepsAndTrimFreesThem) {
  temp_dir dir;
  if (!reserves_blocks(dir)) GTEST_SKIP() << "no FALLOC_FL_KEEP_SIZE here";
  posix_file_system fs;
  auto s = segment::create(fs, dir.path(), 0,
                           {.index_interval_bytes = 4096, .reserve_bytes = 1024 * kKiB})
               .value();
  const std::string path = dir.file(segment::log_name(0));
  ASSERT_TRUE(append(*s, make_batch(10, 100)));
  // First step: 64 KiB (size / 8 is smaller).
  EXPECT_GE(allocated(path), 64 * kKiB);
  EXPECT_LT(allocated(path), 128 * kKiB);
  while (s->size_bytes() < 4096 * kKiB) ASSERT_TRUE(append(*s, make_batch(10, 1000)));
  // Readers see exactly the appended bytes; the reservation is past them, capped at 1 MiB steps.
  EXPECT_EQ(std::filesystem::file_size(path), s->size_bytes());
  // (How far past the end depends on where the last step began; at most one step of 1 MiB.)
  EXPECT_LE(allocated(path), blocks_for(s->size_bytes()) + 1024 * kKiB + 64 * kKiB);
  auto all = s->read_bytes({0, s->size_bytes()}).value();
  EXPECT_EQ(all.size(), s->size_bytes());
  ASSERT_FALSE(s->trim());
  EXPECT_LE(allocated(path), blocks_for(s->size_bytes()));
  EXPECT_EQ(std::filesystem::file_size(path), s->size_bytes());
}

TEST(Reserve, TrimAfterRecoveryFreesBlocksACrashLeft) {
  temp_dir dir;
  if (!reserves_blocks(dir)) GTEST_SKIP() << "no FALLOC_FL_KEEP_SIZE here";
  posix_file_system fs;
  const segment_options opts{.index_interval_bytes = 4096, .reserve_bytes = 1024 * kKiB};
  const std::string path = dir.file(segment::log_name(0));
  {
    auto s = segment::create(fs, dir.path(), 0, opts).value();
    // One append: its reservation reaches a whole first step (64 KiB) past the end.
    ASSERT_TRUE(append(*s, make_batch(10, 1000)));
    // Dropped without trim(): a crash.
  }
  auto s = segment::open_and_recover(fs, dir.path(), 0, opts).value();
  EXPECT_EQ(s->last_recovery().truncated_bytes, 0u);  // recovery sees only the appended bytes
  EXPECT_EQ(s->next_offset(), 10);
  EXPECT_GT(allocated(path), blocks_for(s->size_bytes()));
  ASSERT_FALSE(s->trim());
  EXPECT_LE(allocated(path), blocks_for(s->size_bytes()));
}

TEST(Reserve, LogRollAndCloseLeaveNoBlocksPastTheEnd) {
  temp_dir dir;
  if (!reserves_blocks(dir)) GTEST_SKIP() << "no FALLOC_FL_KEEP_SIZE here";
  posix_file_system fs;
  log_options opts{.segment_bytes = 256 * kKiB};  // default reserve_bytes, capped at this
  const std::string ldir = dir.path() + "/t-0";
  int64_t active_base = 0;
  {
    auto l = log::open(fs, ldir, opts).value();
    while (l->segment_count() < 3) ASSERT_TRUE(append(*l, make_batch(10, 1000)));
    // The append that rolled is the new active segment's only batch: a whole step reserved.
    active_base = l->active_base_offset();
    const std::string active = ldir + "/" + segment::log_name(active_base);
    EXPECT_GT(allocated(active), blocks_for(std::filesystem::file_size(active)));
    size_t rolled = 0;
    for (const auto& e : std::filesystem::directory_iterator(ldir)) {
      if (e.path().extension() != ".log" || e.path() == active) continue;
      ++rolled;  // trimmed at roll
      EXPECT_LE(allocated(e.path()), blocks_for(std::filesystem::file_size(e.path())));
    }
    EXPECT_EQ(rolled, 2u);
    ASSERT_FALSE(l->close());
  }
  const std::string active = ldir + "/" + segment::log_name(active_base);
  EXPECT_LE(allocated(active), blocks_for(std::filesystem::file_size(active)));
  auto l = log::open(fs, ldir, opts).value();
  EXPECT_TRUE(l->opened_clean());
}

TEST(Reserve, NothingIsReservedWhilePaused) {
  temp_dir dir;
  posix_file_system fs;
  fault_injection_file_system faulty(fs);
  bool paused = true;
  auto s = segment::create(faulty, dir.path(), 0,
                           {.index_interval_bytes = 4096,
                            .reserve_bytes = 1024 * kKiB,
                            .reserve_paused = [&] { return paused; }})
               .value();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(append(*s, make_batch(10, 1000)));
  EXPECT_EQ(faulty.reserves(), 0);
  paused = false;
  ASSERT_TRUE(append(*s, make_batch(10, 1000)));
  EXPECT_EQ(faulty.reserves(), 1);
}

// While a sync writes back rolled segments, every log's segments pause their reservation.
TEST(Reserve, PausedWhileASyncWritesBackARolledSegment) {
  temp_dir dir;
  posix_file_system fs;
  fault_injection_file_system faulty(fs);
  std::deque<task> syncs;
  log_options opts{.segment_bytes = 64 * kKiB};
  opts.sync_executor = [&](task t) { syncs.push_back(std::move(t)); };
  auto rolling = log::open(faulty, dir.path() + "/r-0", opts).value();
  auto other = log::open(faulty, dir.path() + "/o-0", log_options{}).value();
  while (rolling->segment_count() < 2) ASSERT_TRUE(append(*rolling, make_batch(1, 1000)));
  ASSERT_EQ(syncs.size(), 1u);
  // Run the rolled segment's sync on another thread and append to the other log while the
  // sync is inside it: the fault file system lets a test hold an fdatasync (hold_syncs).
  faulty.hold_syncs(true);
  std::thread t([&] { syncs.front()(); });
  faulty.wait_for_held_sync();
  EXPECT_EQ(group_commit::rolled_syncs_in_flight(), 1);
  const int before = faulty.reserves();
  ASSERT_TRUE(append(*other, make_batch(1, 100 * 1000)));
  EXPECT_EQ(faulty.reserves(), before);
  faulty.hold_syncs(false);
  t.join();
  EXPECT_EQ(group_commit::rolled_syncs_in_flight(), 0);
  ASSERT_TRUE(append(*other, make_batch(1, 100 * 1000)));
  EXPECT_GT(faulty.reserves(), before);
}

TEST(Reserve, FailedReservationsDoNotFailAppends) {
  temp_dir dir;
  posix_file_system fs;
  fault_injection_file_system faulty(fs);
  log_options opts{.segment_bytes = 64 * kKiB};
  auto l = log::open(faulty, dir.path() + "/t-0", opts).value();
  faulty.fail_reserves(1000);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(append(*l, make_batch(1, 1000)));
  EXPECT_GT(l->segment_count(), 1u);
  EXPECT_EQ(faulty.reserves(), 0);  // every attempt failed before the inner file system
  faulty.fail_reserves(0);
  ASSERT_TRUE(append(*l, make_batch(1, 1000)));
  ASSERT_TRUE(append(*l, make_batch(1, 70 * 1000)));  // past a step: reserves again
  EXPECT_GT(faulty.reserves(), 0);
  EXPECT_EQ(l->log_end_offset(), 102);
  auto r = l->read(0, 1 << 20);
  ASSERT_TRUE(r);
  EXPECT_GT(r.value().range.length, 0u);
}

}  // namespace
}  // namespace sluice::storage
