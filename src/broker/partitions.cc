#include "src/broker/partitions.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <filesystem>
#include <functional>
#include <random>

#include "src/broker/partition_metadata.h"
#include "src/storage/compaction.h"

namespace sluice::broker {

namespace {
// Compaction reads and writes at most this fast, leaving the disk to appends and fetches.
constexpr uint64_t kCompactionBytesPerSec = 64ull << 20;
}  // namespace

unsigned owner_shard(std::string_view topic, int32_t partition, unsigned shard_count) {
  // Spread a topic's partitions over consecutive shards, starting at a per-topic offset.
  size_t h = std::hash<std::string_view>{}(topic);
  return static_cast<unsigned>((h + static_cast<size_t>(partition)) % shard_count);
}

storage::log_options log_options_for(const meta::topic_settings& s) {
  storage::log_options o;
  o.segment_bytes = static_cast<uint64_t>(s.segment_bytes);
  o.index_interval_bytes = static_cast<uint32_t>(s.index_interval_bytes);
  o.flush_messages = s.flush_messages;
  o.flush_ms = s.flush_ms;
  o.segment_ms = s.segment_ms;
  // cleanup.policy=compact alone keeps data forever; retention applies with "delete".
  o.retention_ms = s.cleanup_delete ? s.retention_ms : -1;
  o.retention_bytes = s.cleanup_delete ? s.retention_bytes : -1;
  o.log_append_time = s.log_append_time;
  return o;
}

void partition::refresh(const std::shared_ptr<const topic_entry>& topic) {
  if (topic->config_version <= _topic->config_version) return;
  _topic = topic;
  _log->set_policy(log_options_for(topic->settings));
}

void partition::watch(std::weak_ptr<void> owner, std::function<void()> wake) {
  std::erase_if(_watchers, [](const auto& w) { return w.first.expired(); });
  _watchers.emplace_back(std::move(owner), std::move(wake));
}

void partition::notify_appended() {
  if (_watchers.empty()) return;
  auto watchers = std::move(_watchers);
  _watchers.clear();
  for (auto& [owner, wake] : watchers) {
    if (!owner.expired()) wake();
  }
}

void partition::snapshot_if_rolled() {
  const int64_t base = _log->active_base_offset();
  if (base == snapshot_base) return;
  snapshot_base = base;
  // Not fsynced: a lost or torn snapshot is detected (CRC) and recovery replays from an older one.
  if (auto ec = producers.write_snapshot(*_fs, _log->dir(), base, /*durable=*/false)) {
    spdlog::warn("producer state snapshot of {}-{}: {}", _topic->name, _index, ec.message());
  }
}

std::error_code partition::write_final_snapshot(int64_t log_end_offset) {
  return producers.write_snapshot(*_fs, _log->dir(), log_end_offset, /*durable=*/true);
}

std::error_code partition::apply_marker(const records::batch_header& h, records::control_type type,
                                        int64_t now_ms) {
  auto aborted = producers.apply_marker(h, type, now_ms);
  if (!aborted) return {};
  return _log->append_aborted(*aborted);
}

result<partition*> shard_partitions::get(const std::shared_ptr<const topic_entry>& topic,
                                         int32_t index) {
  std::string name = topic->name + "-" + std::to_string(index);
  if (auto it = _open.find(name); it != _open.end()) {
    const uint64_t cached = it->second->topic().incarnation;
    if (cached == topic->incarnation) {
      it->second->refresh(topic);
      return it->second.get();
    }
    if (cached > topic->incarnation) return make_error_code(errc::not_found);
    // Deleted and re-created under the same name: the old log must not be reused.
    drop(it->second->topic(), index);
  }
  if (auto it = _dropped.find(name); it != _dropped.end() && topic->incarnation <= it->second) {
    return make_error_code(errc::not_found);  // a deleted topic's entry
  }
  storage::log_options opts = log_options_for(topic->settings);
  opts.sync_executor = _exec.sync;
  opts.post_back = _exec.post_back;
  auto log = storage::log::open(_fs, _dir + "/" + name, opts);
  if (!log) {
    spdlog::error("cannot open the log of {}: {}", name, log.error().message());
    return log.error();
  }
  if (auto ec = ensure_partition_metadata(_fs, _dir + "/" + name, topic->id)) {
    spdlog::error("{}: partition.metadata does not name topic id {} ({})", name,
                  kafka_uuid_string(topic->id), ec.message());
    (void)log.value()->close();
    return ec;
  }
  size_t replayed = 0;
  auto producers = storage::producer_state::load(_fs, *log.value(), &replayed);
  if (!producers) {
    spdlog::error("cannot load the producer state of {}: {}", name, producers.error().message());
    (void)log.value()->close();
    return producers.error();
  }
  if (replayed > 0) {
    spdlog::info("{}: producer state of {} producers rebuilt, {} batches replayed", name,
                 producers.value().size(), replayed);
  }
  auto p = std::make_unique<partition>(topic, index, std::move(log).value(),
                                       std::move(producers).value(), _fs);
  partition* raw = p.get();
  _open.emplace(std::move(name), std::move(p));
  return raw;
}

void shard_partitions::drop(const topic_entry& topic, int32_t index) {
  std::string name = topic.name + "-" + std::to_string(index);
  const uint64_t incarnation = topic.incarnation;  // `topic` may be the entry erased below
  uint64_t& dropped = _dropped[name];
  if (incarnation <= dropped) return;  // already dropped
  dropped = incarnation;
  if (auto it = _open.find(name); it != _open.end()) {
    if (it->second->topic().incarnation > incarnation) return;  // a newer topic, same name
    if (auto ec = it->second->log().close()) spdlog::warn("closing {}: {}", name, ec.message());
    _open.erase(it);
  }
  discard_dir(name);
}

void shard_partitions::discard_dir(const std::string& name) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string from = _dir + "/" + name;
  std::string to = fmt::format("{}.{:016x}-delete", from, rng());
  if (auto ec = _fs.rename(from, to)) {
    if (ec != errc::not_found)
      spdlog::error("cannot move {} away for deletion: {}", from, ec.message());
    return;  // never opened: nothing on disk
  }
  _exec.background([to] {
    std::error_code ec;
    std::filesystem::remove_all(to, ec);
    if (ec) spdlog::error("cannot remove {}: {}", to, ec.message());
  });
}

void shard_partitions::housekeeping(int64_t now_ms) {
  const bool retention = now_ms - _last_retention_ms >= _retention_interval_ms;
  if (retention) _last_retention_ms = now_ms;
  for (auto& [name, p] : _open) {
    p->log().tick(now_ms);
    if (retention) {
      if (size_t n = p->producers.remove_expired(now_ms, _producer_expiration_ms); n > 0) {
        spdlog::info("{}: {} idle producers expired", name, n);
      }
      auto removed = p->log().apply_retention(now_ms);
      if (!removed) {
        spdlog::error("retention of {}: {}", name, removed.error().message());
      } else if (removed.value() > 0) {
        spdlog::info("retention removed {} segments of {}", removed.value(), name);
      }
    }
    if (p->topic().settings.cleanup_compact) maybe_compact(*p, now_ms);
  }
}

void shard_partitions::maybe_compact(partition& p, int64_t now_ms) {
  if (p.compacting) return;
  auto snap = storage::compaction::snapshot(p.log());
  if (snap.segments.size() < 2) return;  // only the active segment: nothing to clean
  double ratio = storage::compaction::dirty_ratio(snap.segments, p.cleaned_up_to);
  if (ratio < p.topic().settings.min_cleanable_dirty_ratio || ratio == 0) return;
  p.compacting = true;
  const auto& s = p.topic().settings;
  storage::compaction::options opts;
  opts.delete_retention_ms = s.delete_retention_ms;
  opts.segment_bytes = static_cast<uint64_t>(s.segment_bytes);
  opts.index_interval_bytes = static_cast<uint32_t>(s.index_interval_bytes);
  std::string name = p.topic().name + "-" + std::to_string(p.index());
  // Phase 1 in the background (throttled so appends keep their latency), phase 2 back here.
  _exec.background([this, name, snap = std::move(snap), opts, now_ms] {
    auto throttle = storage::compaction::throttle::real(kCompactionBytesPerSec);
    auto cleaned = storage::compaction::clean(_fs, snap, opts, now_ms, throttle);
    _exec.post_back([this, name, cleaned = std::move(cleaned), opts]() mutable {
      auto it = _open.find(name);
      if (!cleaned) {
        spdlog::error("compaction of {}: {}", name, cleaned.error().message());
        if (it != _open.end()) it->second->compacting = false;
        return;
      }
      if (it == _open.end()) {  // closed or deleted meanwhile
        storage::compaction::discard(_fs, cleaned.value());
        return;
      }
      partition& part = *it->second;
      part.compacting = false;
      if (auto ec = storage::compaction::swap(_fs, part.log(), cleaned.value(),
                                              {opts.index_interval_bytes})) {
        spdlog::error("compaction swap of {}: {}", name, ec.message());
        return;
      }
      part.cleaned_up_to = cleaned.value().cleaned_up_to;
      const auto& t = cleaned.value().totals;
      spdlog::info("compacted {}: kept {} records, dropped {} ({} tombstones)", name,
                   t.records_kept, t.records_dropped, t.tombstones_dropped);
    });
  });
}

void shard_partitions::close_all() {
  for (auto& [name, p] : _open) {
    const int64_t end = p->log().log_end_offset();
    if (auto ec = p->log().close()) {
      spdlog::error("closing {}: {}", name, ec.message());
      continue;  // the data may not be durable up to `end`: no snapshot claims it is
    }
    if (auto ec = p->write_final_snapshot(end)) {
      spdlog::error("producer state snapshot of {}: {}", name, ec.message());
    }
  }
  _open.clear();
}

}  // namespace sluice::broker
