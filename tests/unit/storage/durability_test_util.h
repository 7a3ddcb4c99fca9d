#pragma once
// Helpers for durability tests: a hand-driven executor loop (syncs and completions run exactly
// when the test says), a thread-safe owner queue for a real sync_worker, batches derived from
// their offset, and check_log(), a full scan of a log directory against its expected content.

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "src/base/byte_order.h"
#include "src/protocol/record_batch.h"
#include "src/storage/group_commit.h"
#include "src/storage/log.h"
#include "tests/unit/storage/storage_test_util.h"

namespace sluice::storage::testing {

class manual_loop {
 public:
  executor blocking() {
    return [this](task t) { _blocking.push_back(std::move(t)); };
  }
  executor post_back() {
    return [this](task t) { _posted.push_back(std::move(t)); };
  }
  size_t pending_syncs() const { return _blocking.size(); }
  // Runs the queued blocking tasks (fdatasyncs), not their completions.
  void run_syncs() { drain(_blocking); }
  void run_posted() { drain(_posted); }
  void run_all() {
    while (!_blocking.empty() || !_posted.empty()) {
      run_syncs();
      run_posted();
    }
  }
  // Forgets queued work (after a power cut the files must not be touched).
  void drop() {
    _blocking.clear();
    _posted.clear();
  }

 private:
  static void drain(std::deque<task>& q) {
    while (!q.empty()) {
      task t = std::move(q.front());
      q.pop_front();
      t();
    }
  }
  std::deque<task> _blocking;
  std::deque<task> _posted;
};

// The owner thread's queue: post_back() may be called from any thread.
class owner_queue {
 public:
  executor post_back() {
    return [this](task t) {
      {
        std::lock_guard lock(_mu);
        _q.push_back(std::move(t));
      }
      _cv.notify_one();
    };
  }
  // Runs what is queued; with `block`, first waits until something is.
  void run(bool block) {
    std::deque<task> q;
    {
      std::unique_lock lock(_mu);
      if (block) _cv.wait(lock, [this] { return !_q.empty(); });
      q.swap(_q);
    }
    for (auto& t : q) t();
  }

 private:
  std::mutex _mu;
  std::condition_variable _cv;
  std::deque<task> _q;
};

// A batch whose bytes depend only on `offset` (the base offset the log will assign), so a
// checker can rebuild it: 1-4 records, values derived from the offset.
inline wire::bytes batch_for(int64_t offset) {
  records::batch_builder b;
  b.base_offset(offset);
  const int n = 1 + static_cast<int>(offset % 4);
  for (int i = 0; i < n; ++i) {
    std::string value(20 + static_cast<size_t>((offset + i) % 50),
                      static_cast<char>('a' + (offset + i) % 26));
    b.add(1700000000000 + offset + i, sv("k" + std::to_string(offset + i)), sv(value));
  }
  return b.build().value();
}

inline wire::bytes slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return wire::bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Checks an opened log against the files in its directory: every batch equals
// batch_for(its base offset), offsets are contiguous from 0 to log_end_offset(), no .log holds
// anything after its last valid batch, every .index entry points at the batch it names, and
// lookups through the log find the right batch. Returns the number of batches.
inline size_t check_log(log& l) {
  std::vector<std::filesystem::path> logs;
  for (const auto& e : std::filesystem::directory_iterator(l.dir())) {
    if (e.path().extension() == ".log") logs.push_back(e.path());
  }
  std::sort(logs.begin(), logs.end());
  int64_t next = 0;
  size_t batches = 0;
  std::vector<int64_t> batch_bases;
  for (const auto& path : logs) {
    const int64_t seg_base = std::stoll(path.stem().string());
    const wire::bytes blob = slurp(path);
    std::map<uint64_t, int64_t> at;  // position -> base offset
    records::batch_iterator it(blob);
    size_t pos = 0;
    while (auto* b = it.next()) {
      EXPECT_TRUE(records::validate_batch(b->bytes)) << path << " @" << pos;
      EXPECT_EQ(b->header.base_offset, next) << path << " @" << pos;
      const wire::bytes want = batch_for(b->header.base_offset);
      EXPECT_TRUE(std::equal(b->bytes.begin(), b->bytes.end(), want.begin(), want.end()))
          << "batch " << b->header.base_offset << " differs";
      at[pos] = b->header.base_offset;
      batch_bases.push_back(b->header.base_offset);
      pos += b->bytes.size();
      next = b->header.last_offset() + 1;
      ++batches;
    }
    EXPECT_EQ(it.error(), errc::ok) << path;
    EXPECT_FALSE(it.partial()) << path << ": bytes after the last valid batch";
    EXPECT_EQ(pos, blob.size()) << path;
    const auto index_path = std::filesystem::path(path).replace_extension(".index");
    if (std::filesystem::exists(index_path)) {
      const wire::bytes idx = slurp(index_path);
      EXPECT_EQ(idx.size() % 8, 0u) << index_path;
      for (size_t i = 0; i + 8 <= idx.size(); i += 8) {
        const uint32_t rel = be::load_u32(&idx[i]);
        const uint32_t position = be::load_u32(&idx[i + 4]);
        auto hit = at.find(position);
        EXPECT_TRUE(hit != at.end() && hit->second == seg_base + rel)
            << index_path << " entry " << i / 8 << " (" << rel << ", " << position << ")";
      }
    }
  }
  EXPECT_EQ(next, l.log_end_offset());
  // Lookups through the (loaded or rebuilt) indexes agree with the scan.
  for (size_t i = 0; i < batch_bases.size(); ++i) {
    const int64_t last = i + 1 < batch_bases.size() ? batch_bases[i + 1] - 1 : next - 1;
    for (int64_t o : {batch_bases[i], last}) {
      auto blob = l.read_bytes(o, 1);
      if (!blob || blob.value().size() < records::kHeaderSize) {
        ADD_FAILURE() << "read " << o;
        continue;
      }
      EXPECT_EQ(be::load_i64(blob.value().data()), batch_bases[i]) << "lookup " << o;
    }
  }
  return batches;
}

}  // namespace sluice::storage::testing
