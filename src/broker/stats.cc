// Partition facts for the admin API and the metrics: gathered on each owner shard, waited for on
// the calling (non-shard) thread.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <tuple>

#include "src/broker/broker.h"

namespace sluice::broker {
namespace {

partition_stats stats_of(partition& p) {
  partition_stats s;
  s.topic = p.topic().name;
  s.partition = p.index();
  s.log_start_offset = p.log().log_start_offset();
  s.high_watermark = p.log().log_end_offset();
  s.size_bytes = p.log().size_bytes();
  s.segments = p.log().segment_count();
  return s;
}

}  // namespace

std::vector<partition_stats> broker::open_partition_stats(std::chrono::milliseconds timeout) {
  std::vector<partition_stats> out;
  for (unsigned shard = 0; shard < shard_count(); ++shard) {
    auto got =
        net::wait_on_shard<std::vector<partition_stats>>(*this, shard, timeout, [this, shard] {
          std::vector<partition_stats> v;
          partitions(shard).for_each_open([&](partition& p) { v.push_back(stats_of(p)); });
          return v;
        });
    if (got) out.insert(out.end(), got->begin(), got->end());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition);
  });
  return out;
}

std::vector<partition_stats> broker::topic_partition_stats(std::shared_ptr<const topic_entry> topic,
                                                           std::chrono::milliseconds timeout) {
  std::vector<partition_stats> out;
  for (int32_t i = 0; i < topic->partitions; ++i) {
    const unsigned owner = owner_shard(topic->name, i, shard_count());
    auto got = net::wait_on_shard<std::optional<partition_stats>>(
        *this, owner, timeout, [this, owner, topic, i] {
          auto p = partitions(owner).get(topic, i);
          return p ? std::optional(stats_of(*p.value())) : std::nullopt;
        });
    if (got && *got) out.push_back(**got);
  }
  return out;
}

void broker::register_metrics() {
  _collector = std::make_unique<metrics::collector_handle>(
      metrics::registry::global(), [this](metrics::text_writer& w) {
        const auto parts = open_partition_stats(std::chrono::seconds(2));
        auto family = [&](const char* name, const char* help, auto value) {
          w.header(name, help, "gauge");
          for (const auto& p : parts) {
            w.sample(name, {{"topic", p.topic}, {"partition", std::to_string(p.partition)}},
                     static_cast<int64_t>(value(p)));
          }
        };
        family("sluice_partition_log_size_bytes",
               "Bytes of record data in a partition's segments (open partitions).",
               [](const partition_stats& p) { return p.size_bytes; });
        family("sluice_partition_log_start_offset", "A partition's log start offset.",
               [](const partition_stats& p) { return p.log_start_offset; });
        family("sluice_partition_high_watermark", "A partition's high watermark (log end).",
               [](const partition_stats& p) { return p.high_watermark; });
        family("sluice_partition_log_segments", "Segments in a partition's log.",
               [](const partition_stats& p) { return p.segments; });
      });
}

}  // namespace sluice::broker
