// sync_worker pacing (src/storage/group_commit.h): tasks start at least min_interval apart. The
// clock is a fake that only moves when the worker sleeps, so every time below is exact; no test
// depends on real time.
#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "src/storage/group_commit.h"

namespace sluice::storage {
namespace {

using namespace std::chrono_literals;

// A clock that stands still until the worker sleeps to a later time.
struct fake_clock {
  std::mutex mu;
  sync_worker::clock::time_point now{sync_worker::clock::duration(1'000'000)};
  std::vector<sync_worker::clock::time_point> sleeps;

  sync_worker::pacing_clock hooks() {
    return {[this] {
              std::lock_guard lock(mu);
              return now;
            },
            [this](sync_worker::clock::time_point t) {
              std::lock_guard lock(mu);
              sleeps.push_back(t);
              if (t > now) now = t;
            }};
  }
};

// Runs `n` tasks on a one-thread worker and returns the fake time at which each started.
std::vector<sync_worker::clock::time_point> starts(fake_clock& clk, std::chrono::nanoseconds gap,
                                                   int n) {
  std::vector<sync_worker::clock::time_point> at;
  {
    sync_worker w(1, gap, clk.hooks());
    for (int i = 0; i < n; ++i) {
      w.submit([&] {
        std::lock_guard lock(clk.mu);
        at.push_back(clk.now);
      });
    }
  }  // joins after running what was queued
  return at;
}

TEST(SyncWorker, PacedTasksStartMinIntervalApart) {
  fake_clock clk;
  const auto t0 = clk.now;
  auto at = starts(clk, 500us, 3);
  ASSERT_EQ(at.size(), 3u);
  EXPECT_EQ(at[0], t0);  // the first task of an idle worker does not wait
  EXPECT_EQ(at[1], t0 + 500us);
  EXPECT_EQ(at[2], t0 + 1000us);
  EXPECT_EQ(clk.sleeps.size(), 2u);
}

TEST(SyncWorker, ATaskLateEnoughDoesNotWait) {
  fake_clock clk;
  const auto t0 = clk.now;
  std::vector<sync_worker::clock::time_point> at;
  {
    sync_worker w(1, 500us, clk.hooks());
    w.submit([&] {
      std::lock_guard lock(clk.mu);
      at.push_back(clk.now);
      clk.now += 800us;  // the task itself took longer than the interval
    });
    w.submit([&] {
      std::lock_guard lock(clk.mu);
      at.push_back(clk.now);
    });
  }
  ASSERT_EQ(at.size(), 2u);
  EXPECT_EQ(at[0], t0);
  EXPECT_EQ(at[1], t0 + 800us);
  EXPECT_TRUE(clk.sleeps.empty());
}

TEST(SyncWorker, NoIntervalNeverSleeps) {
  fake_clock clk;
  const auto t0 = clk.now;
  auto at = starts(clk, 0ns, 3);
  ASSERT_EQ(at.size(), 3u);
  for (auto t : at) EXPECT_EQ(t, t0);
  EXPECT_TRUE(clk.sleeps.empty());
}

}  // namespace
}  // namespace sluice::storage
