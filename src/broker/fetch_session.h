#pragma once
// Incremental fetch sessions (KIP-227): the partitions a fetcher follows, kept by the broker
// so that later requests name only what changed and responses carry only what changed.
//
// Contract (Kafka's FetchManager/FetchSession):
// - Request (session_id, epoch): (0, -1) full fetch without a session; (0, 0) full fetch that
//   creates a session when a slot is free (the response names it; id 0 = declined);
//   (id, -1) closes `id`, sessionless full fetch; (id, 0) closes `id` and creates a new one;
//   (id, n > 0) incremental: FETCH_SESSION_ID_NOT_FOUND for an unknown id,
//   INVALID_FETCH_SESSION_EPOCH unless n is the session's next epoch.
// - An incremental request adds or updates the partitions it names, removes forgotten ones
//   and reads every partition of the session; the response includes a partition only when it
//   has records or an error, or its high watermark or log start offset changed since it was
//   last sent. A session left empty is closed (the response has session id 0).
// - Sessions live on the shard of the connection that created them (ids carry the shard in
//   their low bits, so another shard answers FETCH_SESSION_ID_NOT_FOUND and the client starts
//   over with a full fetch). Each shard keeps at most its share of
//   max.incremental.fetch.session.cache.slots; when full, the least recently used session is
//   evicted if it has been idle for kEvictableAfterMs, otherwise no session is created.
//
// Thread safety: a fetch_session_cache is used only on its shard's thread.

#include <cstdint>
#include <list>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "src/protocol/kafka_error.h"
#include "src/protocol/wire.h"

namespace sluice::broker {

// One partition of a session. `topic` is the name (versions < 13) or the id (13+); the last
// values sent start at -2 so that the first response always includes the partition.
struct session_partition {
  std::string topic;
  wire::uuid topic_id{};
  int32_t partition = 0;
  int64_t fetch_offset = 0;
  int32_t max_bytes = 0;
  int64_t sent_high_watermark = -2;
  int64_t sent_log_start_offset = -2;

  // Whether a response with these values must include this partition; remembers them.
  bool must_send(kafka::error error, size_t record_bytes, int64_t high_watermark,
                 int64_t log_start_offset);
};

struct fetch_session {
  int32_t id = 0;
  int32_t epoch = 1;       // the epoch the next request must carry
  bool topic_ids = false;  // created by a v13+ request: partitions keyed by topic id
  std::vector<session_partition> partitions;  // in the order they were added
  int64_t last_used_ms = 0;

  session_partition* find(const std::string& topic, const wire::uuid& id, int32_t partition);
  // Adds or updates (offset, max bytes) a partition.
  void upsert(const session_partition& p);
  void forget(const std::string& topic, const wire::uuid& id, int32_t partition);
};

// What a fetch request's session fields ask for.
struct fetch_context {
  kafka::error error = kafka::error::none;  // a session error: answer it alone
  std::shared_ptr<fetch_session> session;   // the incremental session, or null
  bool create = false;                      // a full fetch that may create a session
};

class fetch_session_cache {
 public:
  static constexpr int64_t kEvictableAfterMs = 120000;  // Kafka's min evictable session age
  static constexpr int32_t kFinalEpoch = -1;

  fetch_session_cache(size_t slots, unsigned shard, unsigned shard_count);

  // Applies the session rules above to (session_id, epoch); an incremental session's epoch is
  // advanced here, so a replayed request gets INVALID_FETCH_SESSION_EPOCH.
  fetch_context open(int32_t session_id, int32_t epoch, int64_t now_ms);
  // A new session (epoch 1) in a free or evicted slot; null when the cache has no room.
  std::shared_ptr<fetch_session> create(int64_t now_ms);
  void remove(int32_t session_id);
  size_t size() const { return _sessions.size(); }

 private:
  using lru_list = std::list<std::shared_ptr<fetch_session>>;

  size_t _slots;
  unsigned _shard;
  unsigned _shard_count;
  std::mt19937 _rng;
  lru_list _lru;  // front = least recently used
  std::unordered_map<int32_t, lru_list::iterator> _sessions;
};

}  // namespace sluice::broker
