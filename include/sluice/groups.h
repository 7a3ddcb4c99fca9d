#pragma once
// What the admin API and the metrics may read of consumer groups: a read-only directory the
// group coordinator (src/coordinator/group) implements. The HTTP layer computes lag from these
// committed offsets and the partitions' high watermarks, and exports
// sluice_consumer_group_lag{group,topic,partition} at scrape time.
//
// Contract: list() and describe() return a consistent copy; they may block briefly (gathering
// from the shards that own the groups), so they are called only from non-shard threads (the
// HTTP thread, a metrics scrape).
//
// Thread safety: implementations must allow calls from any non-shard thread.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice {

struct group_member_view {
  std::string member_id;
  std::string client_id;
  std::string client_host;
  std::vector<std::pair<std::string, std::vector<int32_t>>> assignments;  // topic, partitions
};

struct group_offset_view {
  std::string topic;
  int32_t partition = 0;
  int64_t committed_offset = -1;
};

struct group_view {
  std::string group_id;
  std::string state;          // Kafka's names: Empty, Stable, PreparingRebalance, ...
  std::string protocol_type;  // "consumer"
  std::string protocol;       // the chosen assignor
  std::vector<group_member_view> members;
  std::vector<group_offset_view> offsets;  // committed offsets (describe(); list() may omit)
};

class group_directory {
 public:
  virtual ~group_directory() = default;
  virtual std::vector<group_view> list() = 0;
  virtual std::optional<group_view> describe(const std::string& group_id) = 0;
};

}  // namespace sluice
