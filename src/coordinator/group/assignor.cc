#include "src/coordinator/group/assignor.h"

#include <algorithm>
#include <numeric>

namespace sluice::coordinator {
namespace {

// Members in member id order (callers may pass them in any order).
std::vector<const assignor_member*> sorted_members(const std::vector<assignor_member>& members) {
  std::vector<const assignor_member*> out;
  out.reserve(members.size());
  for (const auto& m : members) out.push_back(&m);
  std::sort(out.begin(), out.end(),
            [](const auto* a, const auto* b) { return a->member_id < b->member_id; });
  return out;
}

group_assignment empty_result(const std::vector<const assignor_member*>& ms) {
  group_assignment out;
  for (const auto* m : ms) out[m->member_id];
  return out;
}

using tp = std::pair<topic_id, int32_t>;

}  // namespace

bool find_assignor(std::string_view name, assignor_kind& out) {
  if (name == "uniform") {
    out = assignor_kind::uniform;
    return true;
  }
  if (name == "range") {
    out = assignor_kind::range;
    return true;
  }
  return false;
}

std::string_view assignor_name(assignor_kind kind) {
  return kind == assignor_kind::range ? "range" : "uniform";
}

group_assignment assign(assignor_kind kind, const std::vector<assignor_member>& members,
                        const assignor_topics& topics) {
  return kind == assignor_kind::range ? assign_range(members, topics)
                                      : assign_uniform(members, topics);
}

group_assignment assign_range(const std::vector<assignor_member>& members,
                              const assignor_topics& topics) {
  auto ms = sorted_members(members);
  group_assignment out = empty_result(ms);
  for (const auto& [tid, count] : topics) {
    std::vector<const assignor_member*> subs;
    for (const auto* m : ms) {
      if (m->subscribed.count(tid)) subs.push_back(m);
    }
    if (subs.empty() || count <= 0) continue;
    int32_t n = static_cast<int32_t>(subs.size());
    int32_t quota = count / n, extra = count % n, next = 0;
    for (int32_t i = 0; i < n; ++i) {
      int32_t len = quota + (i < extra ? 1 : 0);
      if (len == 0) continue;
      auto& parts = out[subs[i]->member_id][tid];
      for (int32_t p = next; p < next + len; ++p) parts.insert(p);
      next += len;
    }
  }
  return out;
}

group_assignment assign_uniform(const std::vector<assignor_member>& members,
                                const assignor_topics& topics) {
  auto ms = sorted_members(members);
  const size_t n = ms.size();
  std::vector<std::set<tp>> owned(n);
  std::set<tp> taken;
  auto eligible = [&](size_t i, const topic_id& t) { return ms[i]->subscribed.count(t) > 0; };

  // 1. Stickiness: every member keeps the partitions it had that are still valid for it.
  for (size_t i = 0; i < n; ++i) {
    for (const auto& [tid, parts] : ms[i]->previous) {
      auto t = topics.find(tid);
      if (t == topics.end() || !eligible(i, tid)) continue;
      for (int32_t p : parts) {
        if (p < 0 || p >= t->second || !taken.insert({tid, p}).second) continue;
        owned[i].insert({tid, p});
      }
    }
  }

  // The eligible member (other than `except`) with the fewest partitions; n when none.
  auto least_loaded = [&](const topic_id& t, size_t except) {
    size_t best = n;
    for (size_t i = 0; i < n; ++i) {
      if (i == except || !eligible(i, t)) continue;
      if (best == n || owned[i].size() < owned[best].size()) best = i;
    }
    return best;
  };

  // 2. Every free partition goes to the least loaded member subscribed to its topic.
  for (const auto& [tid, count] : topics) {
    for (int32_t p = 0; p < count; ++p) {
      if (taken.count({tid, p})) continue;
      size_t i = least_loaded(tid, n);
      if (i == n) break;  // nobody subscribes to this topic
      taken.insert({tid, p});
      owned[i].insert({tid, p});
    }
  }

  // 3. Balance: move a partition from a member to an eligible one holding at least two fewer,
  // most loaded donors first, until no such move exists. Each move lowers the sum of squared
  // counts, so this ends.
  for (bool moved = true; moved;) {
    moved = false;
    std::vector<size_t> donors(n);
    std::iota(donors.begin(), donors.end(), 0);
    std::stable_sort(donors.begin(), donors.end(),
                     [&](size_t a, size_t b) { return owned[a].size() > owned[b].size(); });
    for (size_t d : donors) {
      // Highest partitions move first, so a member keeps the low end of what it had.
      for (auto it = owned[d].rbegin(); it != owned[d].rend(); ++it) {
        size_t r = least_loaded(it->first, d);
        if (r == n || owned[r].size() + 2 > owned[d].size()) continue;
        tp part = *it;  // copy: erasing invalidates `it`
        owned[d].erase(part);
        owned[r].insert(part);
        moved = true;
        break;
      }
      if (moved) break;
    }
  }

  group_assignment out = empty_result(ms);
  for (size_t i = 0; i < n; ++i) {
    auto& a = out[ms[i]->member_id];
    for (const auto& [tid, p] : owned[i]) a[tid].insert(p);
  }
  return out;
}

}  // namespace sluice::coordinator
