// Crash test: a child process appends with "wait until durable" and reports every acknowledged
// offset through a pipe; the parent SIGKILLs it at a random moment, reopens the log and checks
// that every acknowledged batch is there byte for byte, nothing follows the last valid batch and
// the indexes agree with a full scan. 100 cycles on the real file system, small segments so rolls
// happen. The kill moment is random (a number of acks, sometimes plus a short sleep); nothing
// asserts on time.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <random>

#include "src/base/byte_order.h"
#include "src/storage/group_commit.h"
#include "src/storage/log.h"
#include "tests/unit/storage/durability_test_util.h"

namespace sluice::storage {
namespace {

using testing::batch_for;
using testing::check_log;
using testing::owner_queue;
using testing::temp_dir;

constexpr int kCycles = 100;

log_options crash_options() { return {.segment_bytes = 4096, .index_interval_bytes = 256}; }

bool write_all(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// The child: appends forever, keeping up to 32 durable waits in flight. Never returns.
[[noreturn]] void child_main(const std::string& dir, int fd, uint64_t seed) {
  posix_file_system fs;
  sync_worker worker(1);
  owner_queue owner;
  log_options opts = crash_options();
  opts.sync_executor = worker.as_executor();
  opts.post_back = owner.post_back();
  auto l = log::open(fs, dir, opts);
  if (!l) ::_exit(3);
  std::mt19937_64 rng(seed);
  int outstanding = 0;
  for (;;) {
    const int burst = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < burst; ++i) {
      wire::bytes b = batch_for(l.value()->log_end_offset());
      auto a = l.value()->append(b);
      if (!a) ::_exit(4);
      ++outstanding;
      l.value()->wait_durable(a.value().last_offset,
                              [fd, &outstanding, last = a.value().last_offset](std::error_code ec) {
                                --outstanding;
                                uint8_t buf[8];
                                be::store_i64(buf, last);
                                if (ec || !write_all(fd, buf, sizeof buf)) ::_exit(5);
                              });
    }
    owner.run(outstanding > 32);
  }
}

// Reads one big-endian offset; false at EOF.
bool read_ack(int fd, int64_t& out) {
  uint8_t buf[8];
  size_t got = 0;
  while (got < sizeof buf) {
    ssize_t r = ::read(fd, buf + got, sizeof buf - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  out = be::load_i64(buf);
  return true;
}

TEST(Crash, KilledWriterLosesNothingAcknowledged) {
  temp_dir tmp;
  const std::string dir = tmp.path() + "/p-0";
  std::mt19937_64 rng(20261127);
  int64_t max_acked = -1;
  uint64_t total_acks = 0;
  int clean_closes = 0;
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const uint64_t seed = rng();
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      child_main(dir, fds[1], seed);
    }
    ::close(fds[1]);
    const int want = static_cast<int>(rng() % 64);
    int64_t ack = 0;
    bool alive = true;
    for (int i = 0; i < want && alive; ++i) {
      alive = read_ack(fds[0], ack);
      if (alive) {
        EXPECT_GT(ack, max_acked - 64);  // sanity: offsets come from this log
        max_acked = std::max(max_acked, ack);
        ++total_acks;
      }
    }
    if (rng() % 2) ::usleep(static_cast<useconds_t>(rng() % 3000));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "child died on its own, status " << status << " in cycle " << cycle;
    // Acks already in the pipe were sent before the kill: they count.
    while (read_ack(fds[0], ack)) {
      max_acked = std::max(max_acked, ack);
      ++total_acks;
    }
    ::close(fds[0]);

    posix_file_system fs;
    auto l = log::open(fs, dir, crash_options());
    ASSERT_TRUE(l) << l.error().message();
    check_log(*l.value());
    ASSERT_GT(l.value()->log_end_offset(), max_acked) << "cycle " << cycle;
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "cycle " << cycle;
      return;
    }
    if (rng() % 4 == 0) {  // sometimes a clean shutdown, so the child starts from the marker
      ASSERT_FALSE(l.value()->close());
      ++clean_closes;
    }
  }
  std::cout << "[ figures  ] " << kCycles << " kills, " << total_acks << " acks, max acked offset "
            << max_acked << ", " << clean_closes << " clean restarts\n";
}

}  // namespace
}  // namespace sluice::storage
