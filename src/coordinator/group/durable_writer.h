#pragma once
// Group commit into the metadata store: batches submitted from any shard are merged and written
// with one synced RocksDB write; each submitter is called back once its batch is durable.
//
// Contract: batches are applied in submission order (one writer thread, FIFO), so two writes of
// the same key from one shard land in the order submitted. done(ec) runs on the writer thread;
// callers post back to their shard. stop() writes what is queued, then joins.
//
// Thread safety: submit() from any thread.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "src/meta/store.h"

namespace sluice::coordinator {

class durable_writer {
 public:
  using done_fn = std::function<void(std::error_code)>;
  explicit durable_writer(meta::store& store);
  ~durable_writer();
  durable_writer(const durable_writer&) = delete;
  durable_writer& operator=(const durable_writer&) = delete;

  void submit(meta::write_batch batch, done_fn done);
  void stop();
  // Figures: batches submitted and synced writes made (batches / writes = commit batching).
  uint64_t batches() const;
  uint64_t writes() const;

 private:
  void run();

  meta::store& _store;
  mutable std::mutex _mu;
  std::condition_variable _cv;
  std::vector<std::pair<meta::write_batch, done_fn>> _queue;
  bool _stopping = false;
  uint64_t _batches = 0;
  uint64_t _writes = 0;
  std::thread _thread;
};

}  // namespace sluice::coordinator
