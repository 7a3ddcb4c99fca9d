// Rolling without blocking (src/storage/log.h): a roll leaves the closed segment's fdatasync to
// the next group-commit sync, which syncs it before the active segment and then moves the
// recovery point; an unclean open recovers every segment from the recovery point on and drops
// what follows a segment that lost data. Syncs run on a hand-driven loop and the fault-injecting
// file system's power_cut() drops whatever was not synced, so each case is exact.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "src/base/byte_order.h"
#include "src/storage/compaction.h"
#include "src/storage/log.h"
#include "tests/unit/storage/durability_test_util.h"

namespace sluice::storage {
namespace {

using testing::batch_for;
using testing::check_log;
using testing::manual_loop;
using testing::temp_dir;

struct fixture {
  temp_dir dir;
  posix_file_system posix;
  fault_injection_file_system faulty{posix};
  manual_loop loop;
  log_options opts{.segment_bytes = 1024, .index_interval_bytes = 256};

  fixture() {
    opts.sync_executor = loop.blocking();
    opts.post_back = loop.post_back();
  }
  std::string path() const { return dir.path() + "/p-0"; }
  std::unique_ptr<log> open() {
    auto l = log::open(faulty, path(), opts);
    EXPECT_TRUE(l) << l.error().message();
    return l ? std::move(l).value() : nullptr;
  }
  // Appends (not waiting for durability) until the log has `segments` segments.
  void fill(log& l, size_t segments) {
    while (l.segment_count() < segments) {
      wire::bytes b = batch_for(l.log_end_offset());
      ASSERT_TRUE(l.append(b));
    }
  }
  bool exists(const std::string& name) const {
    return std::filesystem::exists(path() + "/" + name);
  }
  // The offset in the recovery-point file (docs/formats/segment.md); -1 when it is missing.
  int64_t point_file() const {
    std::ifstream in(path() + "/recovery-point", std::ios::binary);
    uint8_t b[14];
    if (!in.read(reinterpret_cast<char*>(b), sizeof b)) return -1;
    return be::load_i64(&b[2]);
  }
};

TEST(Roll, DoesNotSyncTheClosedSegmentOnTheOwnerThread) {
  fixture f;
  auto l = f.open();
  f.fill(*l, 2);
  const int64_t rolled_at = l->active_base_offset();
  // No fdatasync ran: the roll only queued one (the closed segment first, then the active one),
  // not even of the closed segment's indexes, whose entries are written.
  const std::string index = f.path() + "/" + segment::index_name(0);
  ASSERT_GT(std::filesystem::file_size(index), 0u);
  EXPECT_EQ(f.faulty.synced_size(f.path() + "/" + segment::log_name(0)), 0u);
  EXPECT_EQ(f.faulty.synced_size(index), 0u);
  EXPECT_EQ(f.loop.pending_syncs(), 1u);
  EXPECT_EQ(l->recovery_point(), 0);
  EXPECT_EQ(l->durable_end_offset(), 0);
  f.loop.run_all();
  EXPECT_GT(f.faulty.synced_size(f.path() + "/" + segment::log_name(0)), 0u);
  EXPECT_EQ(f.faulty.synced_size(index), std::filesystem::file_size(index));
  EXPECT_GE(l->durable_end_offset(), rolled_at);
  EXPECT_EQ(l->recovery_point(), rolled_at);
  EXPECT_TRUE(f.exists("recovery-point"));
}

TEST(Roll, AWaiterInTheActiveSegmentWaitsForTheClosedOnesSync) {
  fixture f;
  auto l = f.open();
  f.fill(*l, 3);
  std::vector<std::error_code> done;
  wire::bytes b = batch_for(l->log_end_offset());
  ASSERT_TRUE(l->append_durable(b, [&](std::error_code ec) { done.push_back(ec); }));
  f.faulty.fail_syncs(1);  // the first fdatasync of the sync (the oldest closed segment) fails
  f.loop.run_all();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(done[0]);  // not acknowledged: older data it follows is not durable
  EXPECT_TRUE(l->error());
  EXPECT_EQ(l->recovery_point(), 0);
}

TEST(Roll, TheRecoveryPointPassesEachRolledSegmentOnceASyncCoversIt) {
  fixture f;
  auto l = f.open();
  f.fill(*l, 2);
  f.loop.run_syncs();  // segments 0 and 1 (as far as written) synced; completion not yet posted
  f.fill(*l, 3);       // rolls 1 -> 2 meanwhile
  const auto infos = l->segment_infos();
  f.loop.run_posted();
  // The sync covered segment 0 but not all of segment 1: the point moves past 0 only.
  EXPECT_EQ(l->recovery_point(), infos[1].base_offset);
  f.loop.run_all();  // the next sync (started by the second roll) covers segment 1
  EXPECT_EQ(l->recovery_point(), infos[2].base_offset);
}

TEST(Roll, AFailedRecoveryPointWriteIsRetriedNotFatal) {
  fixture f;
  auto l = f.open();
  f.fill(*l, 2);
  f.faulty.fail_writes(fault_injection_file_system::fault::io_error, 1);
  f.loop.run_all();  // the sync succeeds; writing the recovery point after it fails
  EXPECT_FALSE(l->error());
  EXPECT_EQ(l->recovery_point(), 0);
  std::vector<std::error_code> done;
  wire::bytes b = batch_for(l->log_end_offset());
  ASSERT_TRUE(l->append_durable(b, [&](std::error_code ec) { done.push_back(ec); }));
  f.loop.run_all();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_FALSE(done[0]);
  EXPECT_EQ(l->recovery_point(), l->active_base_offset());
}

TEST(Roll, PowerCutBeforeTheSyncDropsEverythingAfterTheHole) {
  fixture f;
  int64_t durable = 0;
  {
    auto l = f.open();
    f.fill(*l, 2);
    f.loop.run_all();  // segment 0 durable, recovery point at segment 1
    durable = l->log_end_offset();
    f.fill(*l, 4);  // two more rolls, not synced
    // Make the newest segment durable on its own (as writeback may): it follows a hole.
    ASSERT_FALSE(f.faulty.open(f.path() + "/" + segment::log_name(l->active_base_offset()))
                     .value()
                     ->fdatasync());
    ASSERT_GT(l->log_end_offset(), durable);
    ASSERT_FALSE(f.faulty.power_cut());
    f.loop.drop();
  }
  auto l = f.open();
  ASSERT_TRUE(l);
  // Segment 1 lost its data (never synced): it is the active segment now, nothing follows it.
  EXPECT_EQ(l->segment_count(), 2u);
  EXPECT_EQ(l->log_end_offset(), durable);
  check_log(*l);
  for (const auto& e : std::filesystem::directory_iterator(f.path())) {
    int64_t base = -1;
    if (e.path().extension() == ".log") base = std::stoll(e.path().stem().string());
    EXPECT_LE(base, l->active_base_offset()) << e.path();
  }
  // Appends go on from the recovered end, with no hole.
  wire::bytes b = batch_for(l->log_end_offset());
  ASSERT_TRUE(l->append(b));
  check_log(*l);
}

TEST(Roll, ProcessCrashKeepsRolledDataAndSyncsItBeforeMovingTheRecoveryPoint) {
  fixture f;
  int64_t end = 0;
  {
    auto l = f.open();
    f.fill(*l, 3);
    end = l->log_end_offset();
    f.loop.drop();  // the process dies: the page cache (the files) keeps what was written
  }
  auto l = f.open();
  ASSERT_TRUE(l);
  EXPECT_EQ(l->log_end_offset(), end);
  EXPECT_EQ(l->segment_count(), 3u);
  EXPECT_FALSE(l->opened_clean());
  // Recovered from page-cache contents only: not durable until synced.
  EXPECT_EQ(l->recovery_point(), 0);
  EXPECT_EQ(f.loop.pending_syncs(), 1u);
  f.loop.run_all();
  EXPECT_EQ(l->recovery_point(), l->active_base_offset());
  check_log(*l);
}

TEST(Roll, CleanCloseMovesTheRecoveryPointToTheActiveSegment) {
  fixture f;
  {
    auto l = f.open();
    f.fill(*l, 3);
    ASSERT_FALSE(l->close());
    EXPECT_EQ(l->recovery_point(), l->active_base_offset());
  }
  f.loop.run_all();  // the rolls' syncs, queued before close() synced everything itself
  auto l = f.open();
  EXPECT_TRUE(l->opened_clean());
  EXPECT_EQ(l->recovery_point(), l->active_base_offset());
  EXPECT_EQ(f.loop.pending_syncs(), 0u);
}

TEST(Roll, CompactionLeavesSegmentsFromTheRecoveryPointOn) {
  fixture f;
  auto l = f.open();
  f.fill(*l, 2);
  f.loop.run_all();
  f.fill(*l, 4);  // two rolls not yet synced
  const auto all = l->segment_infos();
  ASSERT_EQ(all.size(), 4u);
  auto snap = compaction::snapshot(*l);
  // Segment 0 may be cleaned; segment 1 (the recovery point) stands in for the active one.
  ASSERT_EQ(snap.segments.size(), 2u);
  EXPECT_EQ(snap.segments[1].base_offset, l->recovery_point());
  f.loop.run_all();
  EXPECT_EQ(compaction::snapshot(*l).segments.size(), 4u);
}

// Linux reports a writeback error once per open file: whichever of flush() and a sync task sees
// it, the other must not take its own clean fdatasync of the same file for durability.
TEST(Roll, ASyncAfterAFailedFlushCreditsNothing) {
  fixture f;
  auto l = f.open();
  f.fill(*l, 2);  // the roll queued a sync
  f.faulty.fail_syncs(1);
  EXPECT_TRUE(l->flush());
  f.loop.run_all();
  EXPECT_EQ(f.point_file(), 0);
  EXPECT_EQ(l->recovery_point(), 0);
  EXPECT_TRUE(l->error());
}

TEST(Roll, AFlushAfterAFailedSyncCreditsNothing) {
  fixture f;
  auto l = f.open();
  f.fill(*l, 2);
  f.faulty.fail_syncs(1);
  f.loop.run_syncs();  // failed; the owner has not heard yet
  EXPECT_FALSE(l->error());
  EXPECT_TRUE(l->flush());
  EXPECT_EQ(f.point_file(), 0);
  EXPECT_EQ(l->durable_end_offset(), 0);
  f.loop.run_all();
  EXPECT_TRUE(l->error());
}

TEST(Roll, ANewLogWritesTheFileWhenCreated) {
  fixture f;
  auto l = f.open();
  EXPECT_EQ(f.point_file(), 0);  // so that no roll has to, on the owner thread
  EXPECT_EQ(l->recovery_point(), 0);
}

TEST(Roll, ALogWithoutTheFileWritesItAtOpen) {
  fixture f;
  {
    auto l = f.open();
    for (int i = 0; i < 3; ++i) {
      wire::bytes b = batch_for(l->log_end_offset());
      ASSERT_TRUE(l->append(b));
    }
    ASSERT_EQ(l->segment_count(), 1u);
    f.loop.drop();  // a crash, with one segment: recovery covers it all
  }
  std::filesystem::remove(f.path() + "/recovery-point");  // a log from before the file existed
  {
    auto l = f.open();
    EXPECT_FALSE(l->opened_clean());
    EXPECT_EQ(f.point_file(), 0);
    f.fill(*l, 3);
    ASSERT_FALSE(l->close());
  }
  f.loop.run_all();
  std::filesystem::remove(f.path() + "/recovery-point");
  auto l = f.open();  // clean, with closed segments (synced by their rolls before the file)
  EXPECT_EQ(f.point_file(), l->active_base_offset());
}

TEST(Roll, ALogWhoseFileCouldNotBeWrittenWritesItAtItsFirstRoll) {
  fixture f;
  f.faulty.fail_writes(fault_injection_file_system::fault::io_error, 1);
  auto l = f.open();  // the only write of a new log: best effort
  EXPECT_FALSE(f.exists("recovery-point"));
  f.fill(*l, 2);
  EXPECT_EQ(f.point_file(), 0);
  f.loop.run_all();
  EXPECT_EQ(f.point_file(), l->active_base_offset());
}

TEST(Roll, TheSyncFreesTheClosedSegmentsReservedBlocks) {
  fixture f;
  f.opts.segment_bytes = 1 << 20;
  f.opts.reserve_bytes = 1 << 20;
  auto l = f.open();
  for (int i = 0; i < 5; ++i) {
    wire::bytes b = batch_for(l->log_end_offset());
    ASSERT_TRUE(l->append(b));
  }
  const std::string closed = f.path() + "/" + segment::log_name(0);
  const uint64_t size = std::filesystem::file_size(closed);
  if (testing::allocated(closed) <= testing::blocks_for(size)) {
    GTEST_SKIP() << "no FALLOC_FL_KEEP_SIZE here";
  }
  ASSERT_FALSE(l->roll());
  // Still reserved: freeing it (ftruncate) can wait for the disk too, so the roll leaves it.
  EXPECT_GT(testing::allocated(closed), testing::blocks_for(size));
  f.loop.run_all();
  EXPECT_LE(testing::allocated(closed), testing::blocks_for(size));
  EXPECT_EQ(std::filesystem::file_size(closed), size);
  check_log(*l);
}

TEST(Roll, ASyncThatRunsAfterTheLogWentAwayLeavesTheDirectoryAlone) {
  fixture f;
  {
    auto l = f.open();
    f.fill(*l, 3);
    // Dropped without close() (a close() that succeeds writes a point no queued sync passes).
  }
  // The partition is deleted (its directory renamed away) and a new log takes its name before
  // the old log's queued syncs run.
  std::filesystem::rename(f.path(), f.dir.path() + "/p-0.deleted");
  auto fresh = f.open();
  ASSERT_EQ(f.point_file(), 0);
  f.loop.run_all();
  EXPECT_EQ(f.point_file(), 0);  // not the old log's recovery point
  EXPECT_EQ(fresh->recovery_point(), 0);
}

}  // namespace
}  // namespace sluice::storage
