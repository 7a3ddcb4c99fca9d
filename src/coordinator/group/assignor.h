#pragma once
// Server-side partition assignors of KIP-848 consumer groups: `uniform` (the default) and
// `range`, as Kafka's group coordinator names them.
//
// Contract:
// - An assignor maps the group's members (each with the topics it subscribes to, by id, and its
//   previous target assignment) and the subscribed topics (id -> partition count) to a new target
//   assignment. Every partition of a subscribed topic goes to exactly one member subscribed to
//   it; a topic nobody subscribes to is not assigned. The result is deterministic: it depends
//   only on the inputs (members are considered in member id order).
// - uniform: balanced (partition counts of members with the same subscriptions differ by at
//   most one) and sticky (a member keeps the partitions it had unless balance requires a move).
// - range: per topic, the subscribed members sorted by member id get contiguous ranges; the
//   first (partitions % members) get one extra. Members with identical subscriptions therefore
//   get the same partition numbers of co-partitioned topics.
//
// Thread safety: pure functions; call from any thread.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "src/protocol/wire.h"

namespace sluice::coordinator {

using topic_id = wire::uuid;
using partition_set = std::set<int32_t>;
// Partitions by topic id. Topics with no partitions are left out.
using topic_assignment = std::map<topic_id, partition_set>;

struct assignor_member {
  std::string member_id;
  std::set<topic_id> subscribed;  // topics that exist, resolved from names and regex
  topic_assignment previous;      // the member's current target assignment (stickiness)
};

// Subscribed topics: id -> partition count.
using assignor_topics = std::map<topic_id, int32_t>;

// Member id -> assignment (every member present, possibly empty).
using group_assignment = std::map<std::string, topic_assignment>;

enum class assignor_kind { uniform, range };

inline constexpr std::string_view kDefaultAssignor = "uniform";

// The assignor named `name` ("uniform" or "range"); false when Sluice has no such assignor.
bool find_assignor(std::string_view name, assignor_kind& out);
std::string_view assignor_name(assignor_kind kind);

group_assignment assign(assignor_kind kind, const std::vector<assignor_member>& members,
                        const assignor_topics& topics);

group_assignment assign_uniform(const std::vector<assignor_member>& members,
                                const assignor_topics& topics);
group_assignment assign_range(const std::vector<assignor_member>& members,
                              const assignor_topics& topics);

}  // namespace sluice::coordinator
