#include "src/broker/partitions.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <filesystem>
#include <functional>
#include <random>

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
  boost::asio::post(_background, [to] {
    std::error_code ec;
    std::filesystem::remove_all(to, ec);
    if (ec) spdlog::error("cannot remove {}: {}", to, ec.message());
  });
}

void shard_partitions::close_all() {
  for (auto& [name, p] : _open) {
    if (auto ec = p->log().close()) spdlog::error("closing {}: {}", name, ec.message());
  }
  _open.clear();
}

}  // namespace sluice::broker
