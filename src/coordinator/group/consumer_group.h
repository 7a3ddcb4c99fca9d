#pragma once
// A KIP-848 consumer group ("consumer" group type): the pure state machine behind
// ConsumerGroupHeartbeat and ConsumerGroupDescribe, and the member-epoch checks of
// OffsetCommit/OffsetFetch. Semantics follow Kafka's GroupMetadataManager/ConsumerGroup:
//
// - Group epoch: bumped when a member joins with, or changes, its subscription (topic names or
//   regex), leaves or is fenced, and when the subscribed topics' metadata (ids, partition counts,
//   regex matches) changes. The target assignment is recomputed (server-side assignor) when the
//   group epoch is ahead of the assignment epoch, on the next heartbeat.
// - Member epoch: each member converges to the target assignment through reconcile.h (revoke
//   before assign); the member epoch reaches the assignment epoch once its revocations are
//   acknowledged.
// - Member epochs -1 (leave) and -2 (static member leaves temporarily, keeping its partitions
//   until it rejoins with the same instance id or its session expires).
// - Session timeout: a member that has not heartbeated for the session timeout is removed.
//   Rebalance timeout: a member that has not revoked partitions within its rebalance timeout
//   is removed. Both via expire(now), which the owner calls at next_deadline().
//
// Persistence: snapshot() is what survives a restart (epochs, members with their member epochs,
// subscriptions and assignments, static members, targets, the subscription metadata); the
// manager writes it when it changed and restore() rebuilds the group, every member's session
// starting again at the restore. Not here: I/O, clocks, member id generation.
//
// Thread safety: none; the owning shard serializes every call.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "src/coordinator/group/assignor.h"
#include "src/coordinator/group/reconcile.h"
#include "src/coordinator/group/topic_regex.h"
#include "src/protocol/kafka_error.h"

namespace sluice::coordinator {

using clock_time = std::chrono::steady_clock::time_point;

inline constexpr int32_t kLeaveGroupMemberEpoch = -1;
inline constexpr int32_t kLeaveGroupStaticMemberEpoch = -2;

// The broker's topics as the group sees them at one instant.
struct topic_view {
  struct topic {
    topic_id id{};
    int32_t partitions = 0;
  };
  std::map<std::string, topic, std::less<>> by_name;
  std::map<topic_id, std::string> names;  // id -> name
  // Changes whenever the topics do; the group recomputes subscriptions and regex matches then.
  uint64_t version = 0;

  void add(std::string name, topic_id id, int32_t partitions);
};

struct consumer_group_settings {
  int32_t session_timeout_ms = 45000;
  int32_t heartbeat_interval_ms = 5000;
  int32_t max_size = INT32_MAX;
};

// A ConsumerGroupHeartbeat request, as the state machine needs it.
struct heartbeat_request {
  int16_t version = 1;
  std::string member_id;
  int32_t member_epoch = 0;
  std::optional<std::string> instance_id;
  std::optional<std::string> rack_id;
  int32_t rebalance_timeout_ms = -1;
  std::optional<std::vector<std::string>> subscribed_topic_names;
  std::optional<std::string> subscribed_topic_regex;
  std::optional<std::string> server_assignor;
  std::optional<topic_assignment> owned;  // topic_partitions; nullopt when absent
  std::string client_id;
  std::string client_host;
};

struct heartbeat_result {
  kafka::error error = kafka::error::none;
  std::string error_message;
  std::string member_id;
  int32_t member_epoch = 0;
  int32_t heartbeat_interval_ms = 0;
  std::optional<topic_assignment> assignment;  // sent when the member must (re)learn it
};

// Checks that need no group (Kafka's throwIfConsumerGroupHeartbeatRequestIsInvalid): empty ids,
// first-request fields, epochs below -2, unknown assignor, invalid regex.
heartbeat_result validate_heartbeat(const heartbeat_request& req);

enum class consumer_group_state { empty, assigning, reconciling, stable };
std::string_view state_name(consumer_group_state s);  // "Empty", "Assigning", ...

struct consumer_member {
  std::string member_id;
  std::optional<std::string> instance_id;
  std::optional<std::string> rack_id;
  int32_t rebalance_timeout_ms = -1;
  std::string client_id;
  std::string client_host;
  std::vector<std::string> subscribed_topic_names;  // sorted, unique
  std::optional<std::string> subscribed_topic_regex;
  std::optional<std::string> server_assignor;
  member_assignment_state current;
  clock_time session_deadline{};
  std::optional<clock_time> rebalance_deadline;  // while revocations are outstanding
};

// The persistent part of a consumer group (session and rebalance deadlines are not in it).
struct consumer_group_snapshot {
  int32_t group_epoch = 0;
  int32_t assignment_epoch = 0;
  struct member {
    consumer_member m;  // session_deadline/rebalance_deadline unset
    topic_assignment target;
  };
  std::vector<member> members;
  std::map<std::string, std::pair<topic_id, int32_t>> subscription_metadata;
};

class consumer_group {
 public:
  explicit consumer_group(std::string group_id) : _group_id(std::move(group_id)) {}

  consumer_group_snapshot snapshot() const;
  // Members get a fresh session (now + session_timeout_ms) and, while revoking, a fresh
  // rebalance timeout: the broker was away, not they.
  static std::unique_ptr<consumer_group> restore(std::string group_id,
                                                 const consumer_group_snapshot& s,
                                                 int32_t session_timeout_ms, clock_time now);
  // Wall-clock ms when the group last became Empty (offsets retention); 0 with members.
  int64_t empty_since_wall_ms = 0;

  const std::string& group_id() const { return _group_id; }
  int32_t group_epoch() const { return _group_epoch; }
  int32_t assignment_epoch() const { return _assignment_epoch; }
  consumer_group_state state() const;
  bool empty() const { return _members.empty(); }
  const std::map<std::string, consumer_member>& members() const { return _members; }
  const topic_assignment& target_of(const std::string& member_id) const;
  // The assignor the members prefer most ("uniform" when none names one).
  assignor_kind preferred_assignor() const;

  // A heartbeat from a member (any epoch, including leaves). `req.member_id` must be set (the
  // caller generates one for a v0 join without it). Checks validate_heartbeat() first.
  heartbeat_result heartbeat(const heartbeat_request& req, const topic_view& topics,
                             const consumer_group_settings& settings, clock_time now);

  // Removes members whose session or rebalance timeout has passed; returns their ids.
  std::vector<std::string> expire(clock_time now);
  // The earliest session or rebalance deadline (nullopt without members).
  std::optional<clock_time> next_deadline() const;

  // OffsetCommit by a member of this group (Kafka's ConsumerGroup.validateOffsetCommit):
  // epoch < 0 with no members is an admin/simple commit; otherwise the member must exist
  // (UNKNOWN_MEMBER_ID), commit with v9+ (UNSUPPORTED_VERSION) and carry its current epoch
  // (any other epoch: STALE_MEMBER_EPOCH, which the client retries).
  kafka::error validate_offset_commit(std::string_view member_id, int32_t member_epoch,
                                      int16_t api_version, bool transactional = false) const;
  // OffsetFetch v9+: no member id and epoch < 0 is unchecked; otherwise as above.
  kafka::error validate_offset_fetch(const std::optional<std::string>& member_id,
                                     int32_t member_epoch) const;

 private:
  heartbeat_result leave(const heartbeat_request& req);
  consumer_member* find_static(const std::string& instance_id);
  void remove_member(const std::string& member_id);
  // Topic ids a member subscribes to (names and regex), among existing topics.
  std::set<topic_id> subscribed_ids(const consumer_member& m, const topic_view& topics);
  // Names of the topics `pattern` matches (cached per topic_view version).
  const std::set<std::string>& regex_topics(const std::string& pattern, const topic_view& topics);
  // Subscribed topic name -> (id, partitions) over all members: what the assignment depends on.
  std::map<std::string, std::pair<topic_id, int32_t>> subscription_metadata(
      const topic_view& topics);
  void compute_target(const topic_view& topics);
  void set_current(consumer_member& m, member_assignment_state next);
  int32_t partition_epoch(const topic_id& t, int32_t p) const;

  std::string _group_id;
  int32_t _group_epoch = 0;
  int32_t _assignment_epoch = 0;
  std::map<std::string, consumer_member> _members;
  std::map<std::string, std::string> _static_members;  // instance id -> member id
  std::map<std::string, topic_assignment> _target;     // member id -> target assignment
  // (topic, partition) -> epoch of the member owning it (assigned or pending revocation).
  std::map<std::pair<topic_id, int32_t>, int32_t> _partition_epochs;
  std::map<std::string, std::pair<topic_id, int32_t>> _subscription_metadata;
  uint64_t _metadata_version = UINT64_MAX;  // topic_view version _subscription_metadata is from
  // A member left since: the epoch moved already, so a smaller metadata is no new bump.
  bool _metadata_dirty = false;
  // Regex -> the topics it matched at _regex_version.
  std::map<std::string, std::set<std::string>> _regexes;
  uint64_t _regex_version = UINT64_MAX;
};

}  // namespace sluice::coordinator
