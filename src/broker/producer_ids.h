#pragma once
// Producer ids for InitProducerId, never handed out twice, across restarts too.
//
// Contract:
// - Ids come from blocks of kBlockSize reserved in the metadata store (producers column family,
//   docs/formats/metadata.md): the end of a block is written (fsynced) before any id of it is
//   handed out, so after a restart allocation resumes above every id a previous run could have
//   handed out (the rest of that run's block is skipped; 64-bit ids make that harmless).
// - allocate() answers at once while the current block lasts; otherwise it queues the caller
//   and reserves the next block on this object's own thread (store writes block on disk and
//   never run on a shard thread). `done` then runs on that thread: callers post back.
// - issued(id) tells whether an id was ever handed out by this broker (by any run), which
//   InitProducerId uses to accept an epoch bump for an idempotent producer (KIP-360).
//
// Thread safety: every method may be called from any thread; load() once before the others.

#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "src/base/errc.h"
#include "src/meta/store.h"

namespace sluice::broker {

class producer_ids {
 public:
  static constexpr int64_t kBlockSize = 1000;

  explicit producer_ids(meta::store& store) : _store(store) {}
  ~producer_ids();
  producer_ids(const producer_ids&) = delete;
  producer_ids& operator=(const producer_ids&) = delete;

  // Reads the reservation left by the previous run.
  std::error_code load();
  void allocate(std::function<void(result<int64_t>)> done);
  bool issued(int64_t id) const;
  // Waits for a reservation in flight; call after the shards stopped, before the broker goes.
  void stop() { _thread.join(); }

 private:
  void reserve_next();  // on _thread

  meta::store& _store;
  boost::asio::thread_pool _thread{1};
  mutable std::mutex _mu;
  int64_t _next = 0;       // next id to hand out
  int64_t _block_end = 0;  // reserved up to here (exclusive), persisted
  bool _reserving = false;
  std::vector<std::function<void(result<int64_t>)>> _waiting;
};

}  // namespace sluice::broker
