#include "src/coordinator/group/reconcile.h"

namespace sluice::coordinator {
namespace {

// True when the member still reports owning one of `revoked` (or reports nothing).
bool owns_any(const std::optional<topic_assignment>& owned, const topic_assignment& revoked) {
  if (!owned) return true;
  for (const auto& [tid, parts] : *owned) {
    auto it = revoked.find(tid);
    if (it == revoked.end()) continue;
    for (int32_t p : parts) {
      if (it->second.count(p)) return true;
    }
  }
  return false;
}

void set_epoch(member_assignment_state& s, int32_t epoch) {
  s.previous_member_epoch = s.member_epoch;
  s.member_epoch = epoch;
}

member_assignment_state next_assignment(const member_assignment_state& cur, int32_t member_epoch,
                                        int32_t target_epoch, const topic_assignment& target,
                                        const std::set<topic_id>& subscribed,
                                        const std::optional<topic_assignment>& owned,
                                        const partition_epoch_fn& partition_epoch) {
  topic_assignment assigned, revoking, pending_assign;
  bool unreleased = false;
  std::set<topic_id> topics;
  for (const auto& [t, _] : target) topics.insert(t);
  for (const auto& [t, _] : cur.assigned) topics.insert(t);
  static const partition_set kNone;
  for (const auto& t : topics) {
    auto ti = target.find(t);
    const partition_set& want = (ti == target.end() || !subscribed.count(t)) ? kNone : ti->second;
    auto ci = cur.assigned.find(t);
    const partition_set& have = ci == cur.assigned.end() ? kNone : ci->second;
    auto ri = cur.pending_revocation.find(t);
    for (int32_t p : have) {
      if (want.count(p)) {
        assigned[t].insert(p);
      } else {
        revoking[t].insert(p);
      }
    }
    for (int32_t p : want) {
      if (have.count(p)) continue;
      bool mine = ri != cur.pending_revocation.end() && ri->second.count(p);
      if (partition_epoch(t, p) != -1 && !mine) {
        unreleased = true;
      } else {
        pending_assign[t].insert(p);
      }
    }
  }

  member_assignment_state next = cur;
  if (!revoking.empty() && owns_any(owned, revoking)) {
    // Stay at the current epoch until the member acknowledges the revocation.
    next.state = member_state::unrevoked_partitions;
    set_epoch(next, member_epoch);
    next.assigned = std::move(assigned);
    next.pending_revocation = std::move(revoking);
    return next;
  }
  for (auto& [t, parts] : pending_assign) assigned[t].insert(parts.begin(), parts.end());
  next.state = unreleased ? member_state::unreleased_partitions : member_state::stable;
  set_epoch(next, target_epoch);
  next.assigned = std::move(assigned);
  next.pending_revocation.clear();
  return next;
}

}  // namespace

member_assignment_state reconcile(const member_assignment_state& cur, int32_t target_epoch,
                                  const topic_assignment& target,
                                  const std::set<topic_id>& subscribed,
                                  const std::optional<topic_assignment>& owned,
                                  const partition_epoch_fn& partition_epoch) {
  switch (cur.state) {
    case member_state::stable:
      if (cur.member_epoch == target_epoch) return cur;
      break;
    case member_state::unrevoked_partitions:
      if (owns_any(owned, cur.pending_revocation)) return cur;
      break;
    case member_state::unreleased_partitions:
      break;
  }
  return next_assignment(cur, cur.member_epoch, target_epoch, target, subscribed, owned,
                         partition_epoch);
}

}  // namespace sluice::coordinator
