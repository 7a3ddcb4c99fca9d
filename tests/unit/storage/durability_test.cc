// Group commit, flush policy, failed syncs and the clean-shutdown marker (src/storage/log.h,
// src/storage/group_commit.h). Syncs run on a hand-driven loop unless a test says otherwise, so
// every count below is exact; no test depends on timing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "src/storage/group_commit.h"
#include "src/storage/log.h"
#include "tests/unit/storage/durability_test_util.h"

namespace sluice::storage {
namespace {

using testing::batch_for;
using testing::check_log;
using testing::manual_loop;
using testing::owner_queue;
using testing::temp_dir;

struct fixture {
  temp_dir dir;
  posix_file_system fs;
  manual_loop loop;
  log_options opts{.segment_bytes = 64 * 1024, .index_interval_bytes = 512};

  fixture() {
    opts.sync_executor = loop.blocking();
    opts.post_back = loop.post_back();
  }
  std::string path() const { return dir.path() + "/p-0"; }
  std::unique_ptr<log> open(file_system& with) {
    auto l = log::open(with, path(), opts);
    EXPECT_TRUE(l) << l.error().message();
    return std::move(l).value();
  }
  std::unique_ptr<log> open() { return open(fs); }
};

struct acks {
  std::vector<int64_t> ok;  // last offsets, in completion order
  std::vector<std::error_code> failed;
  log::completion on(int64_t last) {
    return [this, last](std::error_code ec) {
      if (ec) {
        failed.push_back(ec);
      } else {
        ok.push_back(last);
      }
    };
  }
};

int64_t append_acked(log& l, acks& a) {
  wire::bytes b = batch_for(l.log_end_offset());
  // The completion learns its offset from the batch: records are 1 + base % 4.
  const int64_t last = l.log_end_offset() + l.log_end_offset() % 4;
  auto r = l.append_durable(b, a.on(last));
  EXPECT_TRUE(r) << r.error().message();
  EXPECT_EQ(r.value().last_offset, last);
  return last;
}

TEST(GroupCommit, ManyWaitersShareOneSync) {
  fixture f;
  auto l = f.open();
  acks a;
  constexpr int kWaiters = 200;
  const int64_t first = append_acked(*l, a);
  f.loop.run_syncs();  // the first waiter's sync ran; its completion is not back yet
  for (int i = 1; i < kWaiters; ++i) append_acked(*l, a);
  // The other 199 arrived while it was in flight (written after its fdatasync).
  EXPECT_EQ(l->fsync_count(), 1u);
  EXPECT_EQ(f.loop.pending_syncs(), 0u);
  f.loop.run_all();
  EXPECT_EQ(a.ok.size(), size_t{kWaiters});
  EXPECT_EQ(a.ok.front(), first);
  EXPECT_TRUE(a.failed.empty());
  EXPECT_TRUE(std::is_sorted(a.ok.begin(), a.ok.end()));
  // One for the first waiter, exactly one more for everyone who came during it.
  EXPECT_EQ(l->fsync_count(), 2u);
  EXPECT_EQ(l->durable_end_offset(), l->log_end_offset());
}

// A sync covers what was written before its fdatasync ran, not only what was there when it was
// queued: batches appended while it waited for a sync thread (or its pacing slot) need no sync
// of their own, and they survive a power cut right after it.
TEST(GroupCommit, BatchesWrittenBeforeTheSyncRunsAreCoveredByIt) {
  fixture f;
  fault_injection_file_system faulty(f.fs);
  acks a;
  int64_t last = -1;
  {
    auto l = f.open(faulty);
    const int64_t first = append_acked(*l, a);  // queues sync 1 (snapshot: [0, first])
    const int64_t second = append_acked(*l, a);
    last = append_acked(*l, a);
    EXPECT_EQ(f.loop.pending_syncs(), 1u);
    f.loop.run_syncs();
    f.loop.run_posted();
    EXPECT_EQ(a.ok, (std::vector<int64_t>{first, second, last}));
    EXPECT_EQ(l->fsync_count(), 1u);
    EXPECT_EQ(f.loop.pending_syncs(), 0u);
    EXPECT_EQ(l->durable_end_offset(), last + 1);
    // Written after the sync ran: not covered by it, so it waits for a sync of its own.
    const int64_t fourth = append_acked(*l, a);
    EXPECT_EQ(a.ok.size(), 3u);
    EXPECT_EQ(f.loop.pending_syncs(), 1u);
    ASSERT_FALSE(faulty.power_cut());  // before sync 2: the fourth batch is lost
    f.loop.drop();
    EXPECT_GT(fourth, last);
  }
  auto reopened = f.open(faulty);
  EXPECT_EQ(reopened->log_end_offset(), last + 1);
}

TEST(GroupCommit, WaitersCompleteOnlyWhenCoveredAndInOrder) {
  fixture f;
  auto l = f.open();
  acks a;
  const int64_t first = append_acked(*l, a);
  f.loop.run_syncs();  // sync 1 covers [0, first]
  const int64_t second = append_acked(*l, a);
  const int64_t third = append_acked(*l, a);
  EXPECT_TRUE(a.ok.empty());  // completions are posted back, not run on the worker
  f.loop.run_posted();
  EXPECT_EQ(a.ok, std::vector<int64_t>{first});
  EXPECT_EQ(l->durable_end_offset(), first + 1);
  // Sync 2 started for the two that waited; it completes them in offset order.
  EXPECT_EQ(f.loop.pending_syncs(), 1u);
  f.loop.run_all();
  EXPECT_EQ(a.ok, (std::vector<int64_t>{first, second, third}));
  EXPECT_EQ(l->fsync_count(), 2u);
  // Already durable: completes inline, no sync.
  bool done = false;
  l->wait_durable(second, [&](std::error_code ec) { done = !ec; });
  EXPECT_TRUE(done);
  EXPECT_EQ(l->fsync_count(), 2u);
  // Not appended yet: refused rather than waiting forever.
  std::error_code future;
  l->wait_durable(l->log_end_offset(), [&](std::error_code ec) { future = ec; });
  EXPECT_EQ(future, errc::not_found);
  EXPECT_EQ(f.loop.pending_syncs(), 0u);
}

TEST(GroupCommit, CompletionMayWaitAgain) {
  fixture f;
  auto l = f.open();
  int completed = 0;
  std::function<void(std::error_code)> chain = [&](std::error_code ec) {
    ASSERT_FALSE(ec);
    if (++completed < 5) {
      wire::bytes b = batch_for(l->log_end_offset());
      ASSERT_TRUE(l->append_durable(b, chain));
    }
  };
  wire::bytes b = batch_for(0);
  ASSERT_TRUE(l->append_durable(b, chain));
  f.loop.run_all();
  EXPECT_EQ(completed, 5);
  EXPECT_EQ(l->fsync_count(), 5u);
}

TEST(GroupCommit, RealWorkerThreadUsesFarFewerSyncsThanWaiters) {
  temp_dir dir;
  posix_file_system fs;
  sync_worker worker(1);
  owner_queue owner;
  log_options opts{.segment_bytes = 256 * 1024};
  opts.sync_executor = worker.as_executor();
  opts.post_back = owner.post_back();
  auto l = log::open(fs, dir.path() + "/p-0", opts).value();
  constexpr int kWaiters = 2000;
  int acked = 0;
  int rounds = 0;
  // Producers arrive in bursts of 50 between turns of the owner's loop.
  for (int i = 0; i < kWaiters; ++i) {
    wire::bytes b = batch_for(l->log_end_offset());
    ASSERT_TRUE(l->append_durable(b, [&](std::error_code ec) { acked += !ec; }));
    if (i % 50 == 49) {
      owner.run(false);
      ++rounds;
    }
  }
  while (acked < kWaiters) owner.run(true);
  EXPECT_LT(l->fsync_count(), uint64_t{kWaiters});
  EXPECT_LE(l->fsync_count(), uint64_t(rounds) + 2);  // at most one sync per loop turn, plus tail
  std::cout << "[ figures  ] " << kWaiters << " durable waiters, " << l->fsync_count()
            << " fdatasyncs, " << l->segment_count() << " segments\n";
  ASSERT_FALSE(l->close());
}

TEST(GroupCommit, RollAndCloseWhileASyncIsInFlight) {
  fixture f;
  f.opts.segment_bytes = 1024;
  auto l = f.open();
  acks a;
  append_acked(*l, a);  // the sync holds the first segment's file
  for (int i = 0; i < 40; ++i) append_acked(*l, a);
  ASSERT_GT(l->segment_count(), 3u);
  // A roll leaves its segment's sync to group commit: nothing is durable before a sync runs.
  EXPECT_TRUE(a.ok.empty());
  EXPECT_LT(l->recovery_point(), l->active_base_offset());
  const int64_t end = l->log_end_offset();
  ASSERT_FALSE(l->close());  // syncs everything: every waiter completes now
  EXPECT_EQ(a.ok.size(), 41u);
  EXPECT_TRUE(std::is_sorted(a.ok.begin(), a.ok.end()));
  EXPECT_EQ(a.ok.back(), end - 1);
  EXPECT_EQ(l->recovery_point(), l->active_base_offset());
  l.reset();
  f.loop.run_all();  // the old sync runs against a file whose log is gone: still valid
  EXPECT_TRUE(a.failed.empty());
}

TEST(GroupCommit, DroppedLogFailsUncoveredWaiters) {
  fixture f;
  auto l = f.open();
  acks a;
  append_acked(*l, a);
  f.loop.run_syncs();   // the sync ran; its completion is still to come
  append_acked(*l, a);  // not covered by the in-flight sync
  l.reset();
  f.loop.run_all();
  EXPECT_EQ(a.ok.size(), 1u);
  ASSERT_EQ(a.failed.size(), 1u);
  EXPECT_EQ(a.failed[0], errc::io_error);
}

TEST(GroupCommit, SyncFailureFailsEveryWaiterAndTheLog) {
  fixture f;
  fault_injection_file_system faulty(f.fs);
  auto l = f.open(faulty);
  acks a;
  for (int i = 0; i < 5; ++i) append_acked(*l, a);
  faulty.fail_syncs(1);
  f.loop.run_all();
  EXPECT_TRUE(a.ok.empty());
  ASSERT_EQ(a.failed.size(), 5u);  // the waiting ones too: no retry of a failed fsync
  for (auto ec : a.failed) EXPECT_EQ(ec, errc::io_error);
  EXPECT_EQ(l->error(), errc::io_error);
  EXPECT_EQ(l->fsync_count(), 1u);
  wire::bytes b = batch_for(l->log_end_offset());
  EXPECT_EQ(l->append(b).error(), errc::io_error);
  bool failed = false;
  l->wait_durable(0, [&](std::error_code ec) { failed = ec == errc::io_error; });
  EXPECT_TRUE(failed);
  EXPECT_EQ(l->flush(), errc::io_error);
  EXPECT_EQ(l->roll(), errc::io_error);
  // Reopening recovers what is on disk and works again.
  l.reset();
  l = f.open(faulty);
  EXPECT_FALSE(l->error());
  EXPECT_EQ(check_log(*l), 5u);
  append_acked(*l, a);
  f.loop.run_all();
  EXPECT_EQ(a.ok.size(), 1u);
}

TEST(FlushPolicy, FlushMessagesCountsRecords) {
  fixture f;
  f.opts.flush_messages = 10;
  auto l = f.open();
  // batch_for(o) holds 1 + o % 4 records: bases 0, 1, 3, 7 -> 1 + 2 + 4 + 4 records.
  for (int i = 0; i < 3; ++i) {
    wire::bytes b = batch_for(l->log_end_offset());
    ASSERT_TRUE(l->append(b));
  }
  EXPECT_EQ(l->fsync_count(), 0u);
  wire::bytes b = batch_for(l->log_end_offset());
  ASSERT_TRUE(l->append(b));
  EXPECT_EQ(l->fsync_count(), 1u);
  f.loop.run_all();
  EXPECT_EQ(l->durable_end_offset(), 11);
}

TEST(FlushPolicy, FlushMsWithAFakeClock) {
  fixture f;
  f.opts.flush_ms = 100;
  auto l = f.open();
  l->tick(1000);
  l->tick(5000);  // nothing appended: nothing to sync
  EXPECT_EQ(l->fsync_count(), 0u);
  wire::bytes b = batch_for(0);
  ASSERT_TRUE(l->append(b));
  l->tick(5050);
  EXPECT_EQ(l->fsync_count(), 0u);
  l->tick(5100);
  EXPECT_EQ(l->fsync_count(), 1u);
  f.loop.run_all();
  EXPECT_EQ(l->durable_end_offset(), 1);
  l->tick(5300);  // synced since: no new sync
  EXPECT_EQ(l->fsync_count(), 1u);
  wire::bytes b2 = batch_for(1);
  ASSERT_TRUE(l->append(b2));
  l->tick(5350);
  EXPECT_EQ(l->fsync_count(), 1u);
  l->tick(5400);
  EXPECT_EQ(l->fsync_count(), 2u);
}

TEST(FlushPolicy, InlineExecutorsSyncOnTheCallersThread) {
  temp_dir dir;
  posix_file_system fs;
  log_options opts{.flush_messages = 1};
  auto l = log::open(fs, dir.path() + "/p-0", opts).value();
  wire::bytes b = batch_for(0);
  ASSERT_TRUE(l->append(b));
  EXPECT_EQ(l->fsync_count(), 1u);
  EXPECT_EQ(l->durable_end_offset(), 1);
}

TEST(CleanShutdown, CleanRestartSkipsTheScanUncleanOneScans) {
  fixture f;
  f.opts.segment_bytes = 4096;
  const std::string marker = f.path() + "/clean_shutdown";
  {
    auto l = f.open();
    EXPECT_FALSE(l->opened_clean());
    for (int i = 0; i < 100; ++i) {
      wire::bytes b = batch_for(l->log_end_offset());
      ASSERT_TRUE(l->append(b));
    }
    ASSERT_FALSE(l->close());
    EXPECT_TRUE(std::filesystem::exists(marker));
  }
  int64_t end = 0;
  {
    auto l = f.open();
    EXPECT_TRUE(l->opened_clean());
    EXPECT_EQ(l->recovery().batches, 0u);  // nothing scanned
    EXPECT_EQ(l->recovery().truncated_bytes, 0u);
    EXPECT_FALSE(std::filesystem::exists(marker));  // gone before any append
    EXPECT_EQ(l->durable_end_offset(), l->log_end_offset());
    EXPECT_EQ(check_log(*l), 100u);
    wire::bytes b = batch_for(l->log_end_offset());
    ASSERT_TRUE(l->append(b));
    end = l->log_end_offset();
    // Dropped without close(): an unclean shutdown.
  }
  auto l = f.open();
  EXPECT_FALSE(l->opened_clean());
  EXPECT_GT(l->recovery().batches, 0u);
  EXPECT_EQ(l->log_end_offset(), end);
  EXPECT_EQ(check_log(*l), 101u);
}

TEST(CleanShutdown, MarkerThatDisagreesWithTheFilesIsIgnored) {
  fixture f;
  const std::string marker = f.path() + "/clean_shutdown";
  int64_t end = 0;
  {
    auto l = f.open();
    for (int i = 0; i < 10; ++i) {
      wire::bytes b = batch_for(l->log_end_offset());
      ASSERT_TRUE(l->append(b));
    }
    end = l->log_end_offset();
    ASSERT_FALSE(l->close());
  }
  const std::string seg = f.path() + "/" + segment::log_name(0);
  // A torn tail that a stale marker must not vouch for: extra garbage after close.
  {
    std::ofstream out(seg, std::ios::binary | std::ios::app);
    out << "garbage";
  }
  {
    auto l = f.open();
    EXPECT_FALSE(l->opened_clean());
    EXPECT_EQ(l->recovery().truncated_bytes, 7u);
    EXPECT_EQ(l->log_end_offset(), end);
    ASSERT_FALSE(l->close());
  }
  // A corrupt marker is ignored (and removed).
  {
    std::fstream io(marker, std::ios::binary | std::ios::in | std::ios::out);
    io.seekp(8);
    io.put('\x7f');
  }
  auto l = f.open();
  EXPECT_FALSE(l->opened_clean());
  EXPECT_FALSE(std::filesystem::exists(marker));
  EXPECT_EQ(check_log(*l), 10u);
}

}  // namespace
}  // namespace sluice::storage
