#pragma once
// Incremental reconciliation of one KIP-848 member towards its target assignment (what Kafka's
// CurrentAssignmentBuilder does).
//
// Contract (revoke before assign):
// - A partition leaves a member first: it moves to `pending_revocation` and the member stays at
//   its epoch in state unrevoked_partitions until a heartbeat's owned partitions no longer list
//   any of them (or the member sent no owned list: then we keep waiting).
// - Only then does the member move to the target epoch and get new partitions, and only those
//   no other member still owns (partition_epoch() == -1, or owned by this member as pending
//   revocation). The others stay pending: state unreleased_partitions, retried on every
//   heartbeat until their previous owner has released them.
// - Topics the member no longer subscribes to are treated as having an empty target.
//
// Thread safety: pure function.

#include <cstdint>
#include <functional>
#include <optional>
#include <set>

#include "src/coordinator/group/assignor.h"

namespace sluice::coordinator {

enum class member_state : int8_t { stable, unrevoked_partitions, unreleased_partitions };

struct member_assignment_state {
  int32_t member_epoch = 0;
  int32_t previous_member_epoch = 0;
  member_state state = member_state::stable;
  topic_assignment assigned;            // what the member may own now (sent in responses)
  topic_assignment pending_revocation;  // what it must give up before it moves on
};

// -1 when no member owns the partition, else the epoch of its owner.
using partition_epoch_fn = std::function<int32_t(const topic_id&, int32_t)>;

// The member's next state. `owned` is the heartbeat's topic_partitions (nullopt when absent).
member_assignment_state reconcile(const member_assignment_state& cur, int32_t target_epoch,
                                  const topic_assignment& target,
                                  const std::set<topic_id>& subscribed,
                                  const std::optional<topic_assignment>& owned,
                                  const partition_epoch_fn& partition_epoch);

}  // namespace sluice::coordinator
