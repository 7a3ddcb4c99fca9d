#include "src/broker/partitions.h"

#include <spdlog/spdlog.h>

#include <functional>

namespace sluice::broker {

unsigned owner_shard(std::string_view topic, int32_t partition, unsigned shard_count) {
  // Spread a topic's partitions over consecutive shards, starting at a per-topic offset.
  size_t h = std::hash<std::string_view>{}(topic);
  return static_cast<unsigned>((h + static_cast<size_t>(partition)) % shard_count);
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

result<partition*> shard_partitions::get(const std::shared_ptr<const topic_entry>& topic,
                                         int32_t index) {
  std::string name = topic->name + "-" + std::to_string(index);
  if (auto it = _open.find(name); it != _open.end()) {
    it->second->refresh(topic);
    return it->second.get();
  }
  storage::log_options opts;
  opts.segment_bytes = static_cast<uint64_t>(topic->settings.segment_bytes);
  opts.index_interval_bytes = static_cast<uint32_t>(topic->settings.index_interval_bytes);
  auto log = storage::log::open(_fs, _dir + "/" + name, opts);
  if (!log) {
    spdlog::error("cannot open the log of {}: {}", name, log.error().message());
    return log.error();
  }
  auto p = std::make_unique<partition>(topic, index, std::move(log).value());
  partition* raw = p.get();
  _open.emplace(std::move(name), std::move(p));
  return raw;
}

void shard_partitions::close_all() {
  for (auto& [name, p] : _open) {
    if (auto ec = p->log().close()) spdlog::error("closing {}: {}", name, ec.message());
  }
  _open.clear();
}

}  // namespace sluice::broker
