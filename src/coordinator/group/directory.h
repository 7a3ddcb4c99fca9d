#pragma once
// The group coordinator as a sluice::group_directory (include/sluice/groups.h): what the admin
// HTTP API and the consumer-group lag metric read of groups, classic and KIP-848 alike.
//
// Contract:
// - list() asks every shard, describe() the group's owner shard, with one read-only query
//   posted to the shard's io_context (view_of below); the query copies what it needs there and
//   nothing is locked. The caller waits for the answers, at most `timeout` per shard: a shard
//   that does not answer in time (it is stopping) is left out of list(), and describe() then
//   says nullopt.
// - Members of a Stable classic group with protocol type "consumer" show their assignment
//   decoded from ConsumerProtocolAssignment; other classic groups' assignments are opaque and
//   left empty. KIP-848 members show their current assignment, topic ids named through the
//   topic view `topics` returns (unknown ids: topic "").
// - list() includes the committed offsets (the lag metric needs them).
//
// Thread safety: list()/describe() from any thread that is not a shard thread (they block;
// on a shard thread they would wait for themselves until the timeout). view_of() on the shard
// that owns `sg`.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <sluice/groups.h>

#include "src/coordinator/group/group_manager.h"

namespace sluice::coordinator {

class group_directory_adapter final : public sluice::group_directory {
 public:
  using topics_fn = std::function<std::shared_ptr<const topic_view>()>;
  group_directory_adapter(group_manager& groups, topics_fn topics,
                          std::chrono::milliseconds timeout = std::chrono::seconds(5));

  std::vector<group_view> list() override;
  std::optional<group_view> describe(const std::string& group_id) override;

 private:
  group_manager& _groups;
  topics_fn _topics;
  std::chrono::milliseconds _timeout;
};

// One group as its owner shard holds it; nullopt when the shard has no such group or it is Dead.
std::optional<group_view> view_of(shard_groups& sg, const std::string& group_id,
                                  const topic_view& topics);

// The (topic, partitions) of a ConsumerProtocolAssignment (int16 version, then the body; a
// version above the newest we know is read as the newest, as Kafka's clients do). Empty bytes
// are an empty assignment; nullopt when the bytes do not decode.
std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>> decode_consumer_assignment(
    const bytes& b);

}  // namespace sluice::coordinator
