#include "src/broker/fetch_session.h"

#include <algorithm>
#include <cstdint>

namespace sluice::broker {

bool session_partition::must_send(kafka::error error, size_t record_bytes, int64_t high_watermark,
                                  int64_t log_start_offset) {
  bool send = record_bytes > 0;
  if (sent_high_watermark != high_watermark) {
    send = true;
    sent_high_watermark = high_watermark;
  }
  if (sent_log_start_offset != log_start_offset) {
    send = true;
    sent_log_start_offset = log_start_offset;
  }
  if (error != kafka::error::none) {
    // Forget what was sent so the partition is sent again once the error is gone.
    sent_high_watermark = -2;
    send = true;
  }
  return send;
}

session_partition* fetch_session::find(const std::string& topic, const wire::uuid& id,
                                       int32_t partition) {
  for (auto& p : partitions) {
    if (p.partition == partition && (topic_ids ? p.topic_id == id : p.topic == topic)) return &p;
  }
  return nullptr;
}

void fetch_session::upsert(const session_partition& p) {
  if (session_partition* have = find(p.topic, p.topic_id, p.partition)) {
    have->fetch_offset = p.fetch_offset;
    have->max_bytes = p.max_bytes;
    if (!p.topic.empty()) have->topic = p.topic;
    return;
  }
  partitions.push_back(p);
}

void fetch_session::forget(const std::string& topic, const wire::uuid& id, int32_t partition) {
  std::erase_if(partitions, [&](const session_partition& p) {
    return p.partition == partition && (topic_ids ? p.topic_id == id : p.topic == topic);
  });
}

fetch_session_cache::fetch_session_cache(size_t slots, unsigned shard, unsigned shard_count)
    : _slots(slots),
      _shard(shard),
      _shard_count(std::max(shard_count, 1u)),
      _rng(std::random_device{}()) {}

fetch_context fetch_session_cache::open(int32_t session_id, int32_t epoch, int64_t now_ms) {
  fetch_context ctx;
  if (epoch == 0 || epoch == kFinalEpoch) {  // full fetch; any session named is closed
    if (session_id != 0) remove(session_id);
    ctx.create = epoch == 0;
    return ctx;
  }
  auto it = _sessions.find(session_id);
  if (session_id == 0 || it == _sessions.end()) {
    ctx.error = kafka::error::fetch_session_id_not_found;
    return ctx;
  }
  std::shared_ptr<fetch_session> s = *it->second;
  if (s->epoch != epoch) {
    ctx.error = kafka::error::invalid_fetch_session_epoch;
    return ctx;
  }
  s->epoch = epoch == INT32_MAX ? 1 : epoch + 1;
  s->last_used_ms = now_ms;
  _lru.splice(_lru.end(), _lru, it->second);
  ctx.session = std::move(s);
  return ctx;
}

std::shared_ptr<fetch_session> fetch_session_cache::create(int64_t now_ms) {
  if (_slots == 0) return nullptr;
  if (_sessions.size() >= _slots) {
    const auto& oldest = _lru.front();
    if (now_ms - oldest->last_used_ms < kEvictableAfterMs) return nullptr;
    _sessions.erase(oldest->id);
    _lru.pop_front();
  }
  auto s = std::make_shared<fetch_session>();
  // A positive id whose residue names this shard; 0 is "no session".
  const auto count = static_cast<int32_t>(_shard_count);
  const auto shard = static_cast<int32_t>(_shard);
  std::uniform_int_distribution<int32_t> dist(1, (INT32_MAX - shard) / count);
  do {
    s->id = dist(_rng) * count + shard;
  } while (_sessions.contains(s->id));
  s->last_used_ms = now_ms;
  _lru.push_back(s);
  _sessions.emplace(s->id, std::prev(_lru.end()));
  return s;
}

void fetch_session_cache::remove(int32_t session_id) {
  auto it = _sessions.find(session_id);
  if (it == _sessions.end()) return;
  _lru.erase(it->second);
  _sessions.erase(it);
}

}  // namespace sluice::broker
