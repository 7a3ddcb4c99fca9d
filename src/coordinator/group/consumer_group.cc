#include "src/coordinator/group/consumer_group.h"

#include <algorithm>

namespace sluice::coordinator {
namespace {

using kafka::error;

heartbeat_result failure(error e, std::string message) {
  heartbeat_result r;
  r.error = e;
  r.error_message = std::move(message);
  return r;
}

bool empty_string(const std::optional<std::string>& s) { return s && s->empty(); }

// The owned partitions are all in `assigned` (a lost response may have left the member one
// epoch behind: Kafka accepts the previous epoch then).
bool is_subset(const std::optional<topic_assignment>& owned, const topic_assignment& assigned) {
  if (!owned) return false;
  for (const auto& [t, parts] : *owned) {
    auto it = assigned.find(t);
    for (int32_t p : parts) {
      if (it == assigned.end() || !it->second.count(p)) return false;
    }
  }
  return true;
}

std::optional<heartbeat_result> check_epoch(const consumer_member& m,
                                            const heartbeat_request& req) {
  int32_t known = m.current.member_epoch;
  // Epoch 0 is a (re)join: a fenced member comes back with its own id (KAFKA-19233).
  if (req.member_epoch == 0) return std::nullopt;
  if (req.member_epoch > known ||
      (req.member_epoch < known && (req.member_epoch != m.current.previous_member_epoch ||
                                    !is_subset(req.owned, m.current.assigned)))) {
    return failure(
        error::fenced_member_epoch,
        "The consumer group member has a member epoch (" + std::to_string(req.member_epoch) +
            ") other than the one known by the group coordinator (" + std::to_string(known) +
            "). The member must abandon all its partitions " + "and rejoin.");
  }
  return std::nullopt;
}

void normalize(std::vector<std::string>& names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
}

}  // namespace

void topic_view::add(std::string name, topic_id id, int32_t partitions) {
  names[id] = name;
  by_name[std::move(name)] = topic{id, partitions};
}

std::string_view state_name(consumer_group_state s) {
  switch (s) {
    case consumer_group_state::empty:
      return "Empty";
    case consumer_group_state::assigning:
      return "Assigning";
    case consumer_group_state::reconciling:
      return "Reconciling";
    case consumer_group_state::stable:
      return "Stable";
  }
  return "Unknown";
}

heartbeat_result validate_heartbeat(const heartbeat_request& req) {
  auto invalid = [](const char* m) { return failure(error::invalid_request, m); };
  if ((req.version >= 1 || req.member_epoch > 0 || req.member_epoch == kLeaveGroupMemberEpoch) &&
      req.member_id.empty()) {
    return invalid("MemberId can't be empty.");
  }
  if (empty_string(req.instance_id)) return invalid("InstanceId can't be empty.");
  if (empty_string(req.rack_id)) return invalid("RackId can't be empty.");
  if (req.member_epoch == 0) {
    if (req.rebalance_timeout_ms == -1) {
      return invalid("RebalanceTimeoutMs must be provided in first request.");
    }
    if (!req.owned || !req.owned->empty()) {
      return invalid("TopicPartitions must be empty when (re-)joining.");
    }
    if (!req.subscribed_topic_names && !req.subscribed_topic_regex) {
      return invalid(
          "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when "
          "(re-)joining.");
    }
  } else if (req.member_epoch == kLeaveGroupStaticMemberEpoch) {
    if (!req.instance_id) return invalid("InstanceId can't be null.");
  } else if (req.member_epoch < kLeaveGroupStaticMemberEpoch) {
    return invalid("MemberEpoch is invalid.");
  }
  assignor_kind kind;
  if (req.server_assignor && !find_assignor(*req.server_assignor, kind)) {
    return failure(error::unsupported_assignor, "ServerAssignor " + *req.server_assignor +
                                                    " is not supported. Supported assignors: "
                                                    "uniform, range.");
  }
  if (req.subscribed_topic_regex && !req.subscribed_topic_regex->empty()) {
    std::string why;
    if (!topic_regex::compile(*req.subscribed_topic_regex, &why)) {
      return failure(error::invalid_regular_expression, why);
    }
  }
  return {};
}

consumer_group_state consumer_group::state() const {
  if (_members.empty()) return consumer_group_state::empty;
  if (_group_epoch > _assignment_epoch) return consumer_group_state::assigning;
  for (const auto& [_, m] : _members) {
    if (m.current.member_epoch != _assignment_epoch || m.current.state != member_state::stable) {
      return consumer_group_state::reconciling;
    }
  }
  return consumer_group_state::stable;
}

const topic_assignment& consumer_group::target_of(const std::string& member_id) const {
  static const topic_assignment kEmpty;
  auto it = _target.find(member_id);
  return it == _target.end() ? kEmpty : it->second;
}

assignor_kind consumer_group::preferred_assignor() const {
  std::map<std::string, int> votes;
  for (const auto& [_, m] : _members) {
    if (m.server_assignor) ++votes[*m.server_assignor];
  }
  assignor_kind kind = assignor_kind::uniform;
  int best = 0;
  for (const auto& [name, n] : votes) {
    assignor_kind k;
    if (n > best && find_assignor(name, k)) {
      best = n;
      kind = k;
    }
  }
  return kind;
}

consumer_member* consumer_group::find_static(const std::string& instance_id) {
  auto it = _static_members.find(instance_id);
  if (it == _static_members.end()) return nullptr;
  auto m = _members.find(it->second);
  return m == _members.end() ? nullptr : &m->second;
}

int32_t consumer_group::partition_epoch(const topic_id& t, int32_t p) const {
  auto it = _partition_epochs.find({t, p});
  return it == _partition_epochs.end() ? -1 : it->second;
}

void consumer_group::set_current(consumer_member& m, member_assignment_state next) {
  auto untrack = [&](const topic_assignment& a) {
    for (const auto& [t, parts] : a) {
      for (int32_t p : parts) _partition_epochs.erase({t, p});
    }
  };
  untrack(m.current.assigned);
  untrack(m.current.pending_revocation);
  m.current = std::move(next);
  for (const auto* a : {&m.current.assigned, &m.current.pending_revocation}) {
    for (const auto& [t, parts] : *a) {
      for (int32_t p : parts) _partition_epochs[{t, p}] = m.current.member_epoch;
    }
  }
}

void consumer_group::remove_member(const std::string& member_id) {
  auto it = _members.find(member_id);
  if (it == _members.end()) return;
  set_current(it->second, member_assignment_state{});  // releases its partitions
  if (it->second.instance_id) {
    auto s = _static_members.find(*it->second.instance_id);
    if (s != _static_members.end() && s->second == member_id) _static_members.erase(s);
  }
  _members.erase(it);
  _target.erase(member_id);
  _metadata_dirty = true;
}

std::set<topic_id> consumer_group::subscribed_ids(const consumer_member& m,
                                                  const topic_view& topics) {
  std::set<topic_id> out;
  for (const auto& name : m.subscribed_topic_names) {
    if (auto t = topics.by_name.find(name); t != topics.by_name.end()) out.insert(t->second.id);
  }
  if (m.subscribed_topic_regex) {
    for (const auto& name : regex_topics(*m.subscribed_topic_regex, topics)) {
      out.insert(topics.by_name.find(name)->second.id);
    }
  }
  return out;
}

const std::set<std::string>& consumer_group::regex_topics(const std::string& pattern,
                                                          const topic_view& topics) {
  if (_regex_version != topics.version) {
    _regexes.clear();
    _regex_version = topics.version;
  }
  auto [it, fresh] = _regexes.try_emplace(pattern);
  if (fresh) {
    // Validated on the way in; a pattern that does not compile matches nothing.
    if (auto re = topic_regex::compile(pattern, nullptr)) {
      for (const auto& [name, _] : topics.by_name) {
        if (re->matches(name)) it->second.insert(name);
      }
    }
  }
  return it->second;
}

std::map<std::string, std::pair<topic_id, int32_t>> consumer_group::subscription_metadata(
    const topic_view& topics) {
  std::map<std::string, std::pair<topic_id, int32_t>> out;
  auto add = [&](const std::string& name) {
    if (auto t = topics.by_name.find(name); t != topics.by_name.end()) {
      out[name] = {t->second.id, t->second.partitions};
    }
  };
  for (const auto& [_, m] : _members) {
    for (const auto& name : m.subscribed_topic_names) add(name);
    if (m.subscribed_topic_regex) {
      for (const auto& name : regex_topics(*m.subscribed_topic_regex, topics)) add(name);
    }
  }
  return out;
}

void consumer_group::compute_target(const topic_view& topics) {
  std::vector<assignor_member> ms;
  assignor_topics ts;
  for (const auto& [id, m] : _members) {
    assignor_member am{id, subscribed_ids(m, topics), target_of(id)};
    for (const auto& t : am.subscribed) {
      ts[t] = topics.by_name.find(topics.names.at(t))->second.partitions;
    }
    ms.push_back(std::move(am));
  }
  _target = assign(preferred_assignor(), ms, ts);
}

heartbeat_result consumer_group::heartbeat(const heartbeat_request& req, const topic_view& topics,
                                           const consumer_group_settings& settings,
                                           clock_time now) {
  if (auto v = validate_heartbeat(req); v.error != error::none) return v;
  if (req.member_epoch == kLeaveGroupMemberEpoch ||
      req.member_epoch == kLeaveGroupStaticMemberEpoch) {
    return leave(req);
  }
  const std::string& id = req.member_id;
  if (static_cast<int64_t>(_members.size()) >= settings.max_size && !_members.count(id)) {
    return failure(error::group_max_size_reached,
                   "The consumer group has reached its maximum capacity of " +
                       std::to_string(settings.max_size) + " members.");
  }

  // 1. Find the member, or create it on a join (epoch 0).
  consumer_member m;
  std::string replaced;  // a static member's previous member id, when this one replaces it
  bool known = false;
  if (!req.instance_id) {
    auto it = _members.find(id);
    if (it != _members.end()) {
      if (auto f = check_epoch(it->second, req)) return *f;
      m = it->second;
      known = true;
    } else if (req.member_epoch != 0) {
      return failure(error::unknown_member_id, "Member " + id + " is not a member of the group.");
    }
  } else {
    consumer_member* st = find_static(*req.instance_id);
    if (req.member_epoch == 0) {
      if (st && st->member_id == id) {
        m = *st;  // the same static member rejoining (a lost response, or after epoch -2)
        known = true;
        if (m.current.member_epoch == kLeaveGroupStaticMemberEpoch) m.current.member_epoch = 0;
      } else if (st) {
        if (st->current.member_epoch != kLeaveGroupStaticMemberEpoch) {
          return failure(error::unreleased_instance_id,
                         "Static member " + id + " with instance id " + *req.instance_id +
                             " cannot join the group because the instance id is owned by " +
                             st->member_id + " member.");
        }
        // Take over the departed instance's place: its assignment, epoch 0 (no rebalance).
        m = *st;
        m.member_id = id;
        m.current.member_epoch = 0;
        m.current.previous_member_epoch = 0;
        replaced = st->member_id;
      } else if (auto it = _members.find(id); it != _members.end()) {
        m = it->second;
        known = true;
      }
    } else {
      if (!st) {
        return failure(error::unknown_member_id,
                       "Instance id " + *req.instance_id + " is unknown.");
      }
      if (st->member_id != id) {
        return failure(error::fenced_instance_id, "Static member " + id + " with instance id " +
                                                      *req.instance_id + " was fenced by member " +
                                                      st->member_id + ".");
      }
      if (auto f = check_epoch(*st, req)) return *f;
      m = *st;
      known = true;
    }
  }
  const topic_assignment before =
      known || !replaced.empty() ? m.current.assigned : topic_assignment{};
  m.member_id = id;

  // 2. Update what the request carries; a changed subscription bumps the group epoch.
  bool bump = _group_epoch == 0;
  if (req.instance_id) m.instance_id = req.instance_id;
  if (req.rack_id) m.rack_id = req.rack_id;
  if (req.rebalance_timeout_ms != -1) m.rebalance_timeout_ms = req.rebalance_timeout_ms;
  if (req.server_assignor) m.server_assignor = req.server_assignor;
  if (req.subscribed_topic_names) {
    auto names = *req.subscribed_topic_names;
    normalize(names);
    if (names != m.subscribed_topic_names) {
      m.subscribed_topic_names = std::move(names);
      bump = true;
    }
  }
  if (req.subscribed_topic_regex) {
    std::optional<std::string> re;
    if (!req.subscribed_topic_regex->empty()) re = req.subscribed_topic_regex;
    if (re != m.subscribed_topic_regex) {
      m.subscribed_topic_regex = std::move(re);
      bump = true;
    }
  }
  m.client_id = req.client_id;
  m.client_host = req.client_host;

  // Store the member (taking over a replaced static member's partitions and target).
  if (!replaced.empty()) {
    topic_assignment target = target_of(replaced);
    member_assignment_state kept = m.current;
    bool dirty = _metadata_dirty;  // a replacement changes no subscription
    remove_member(replaced);
    _metadata_dirty = dirty;
    _target[id] = std::move(target);
    m.current = member_assignment_state{};
    auto& slot = _members[id] = std::move(m);
    set_current(slot, std::move(kept));
  } else if (known) {
    auto& slot = _members[id];
    member_assignment_state cur = m.current;
    m.current = slot.current;
    slot = std::move(m);
    set_current(slot, std::move(cur));
  } else {
    _members[id] = std::move(m);
  }
  consumer_member& member = _members[id];
  if (member.instance_id) _static_members[*member.instance_id] = id;

  // 3. Topic metadata the assignment depends on: a change (new partitions, topics created or
  // deleted, regex matches) bumps the group epoch too.
  if (bump || _metadata_dirty || topics.version != _metadata_version) {
    auto meta = subscription_metadata(topics);
    // After a removal the epoch was bumped already; adopt the shrunk metadata silently.
    if (meta != _subscription_metadata && !_metadata_dirty) bump = true;
    _subscription_metadata = std::move(meta);
    _metadata_version = topics.version;
    _metadata_dirty = false;
  }
  if (bump) ++_group_epoch;

  // 4. A new target assignment when the group epoch moved past it.
  if (_group_epoch > _assignment_epoch) {
    compute_target(topics);
    _assignment_epoch = _group_epoch;
  }

  // 5. Reconcile this member towards its target.
  const member_state old_state = member.current.state;
  const int32_t old_epoch = member.current.member_epoch;
  auto next =
      reconcile(member.current, _assignment_epoch, target_of(id), subscribed_ids(member, topics),
                req.owned, [this](const topic_id& t, int32_t p) { return partition_epoch(t, p); });
  set_current(member, std::move(next));
  if (member.current.state == member_state::unrevoked_partitions) {
    if (old_state != member_state::unrevoked_partitions ||
        old_epoch != member.current.member_epoch || !member.rebalance_deadline) {
      member.rebalance_deadline = now + std::chrono::milliseconds(member.rebalance_timeout_ms);
    }
  } else {
    member.rebalance_deadline.reset();
  }
  member.session_deadline = now + std::chrono::milliseconds(settings.session_timeout_ms);

  heartbeat_result r;
  r.member_id = id;
  r.member_epoch = member.current.member_epoch;
  r.heartbeat_interval_ms = settings.heartbeat_interval_ms;
  // The assignment goes out on a full request (a join, or all of the optional fields set) and
  // whenever it changed.
  bool full = req.member_epoch == 0 ||
              (req.rebalance_timeout_ms != -1 && req.subscribed_topic_names && req.owned);
  if (full || before != member.current.assigned) r.assignment = member.current.assigned;
  return r;
}

heartbeat_result consumer_group::leave(const heartbeat_request& req) {
  const std::string& id = req.member_id;
  if (!req.instance_id) {
    if (!_members.count(id)) {
      return failure(error::unknown_member_id, "Member " + id + " is not a member of the group.");
    }
    remove_member(id);
    ++_group_epoch;
  } else {
    consumer_member* st = find_static(*req.instance_id);
    if (!st) {
      return failure(error::unknown_member_id, "Instance id " + *req.instance_id + " is unknown.");
    }
    if (st->member_id != id) {
      return failure(error::fenced_instance_id, "Static member " + id + " with instance id " +
                                                    *req.instance_id + " was fenced by member " +
                                                    st->member_id + ".");
    }
    if (req.member_epoch == kLeaveGroupStaticMemberEpoch) {
      // Gone for now: keeps its partitions until it rejoins or its session expires.
      member_assignment_state next = st->current;
      next.member_epoch = kLeaveGroupStaticMemberEpoch;
      next.pending_revocation.clear();
      set_current(*st, std::move(next));
      st->rebalance_deadline.reset();
    } else {
      remove_member(id);
      ++_group_epoch;
    }
  }
  heartbeat_result r;
  r.member_id = id;
  r.member_epoch = req.member_epoch;
  return r;
}

consumer_group_snapshot consumer_group::snapshot() const {
  consumer_group_snapshot s;
  s.group_epoch = _group_epoch;
  s.assignment_epoch = _assignment_epoch;
  for (const auto& [id, m] : _members) {
    consumer_group_snapshot::member sm{m, target_of(id)};
    sm.m.session_deadline = {};
    sm.m.rebalance_deadline.reset();
    s.members.push_back(std::move(sm));
  }
  s.subscription_metadata = _subscription_metadata;
  return s;
}

std::unique_ptr<consumer_group> consumer_group::restore(std::string group_id,
                                                        const consumer_group_snapshot& s,
                                                        int32_t session_timeout_ms,
                                                        clock_time now) {
  auto g = std::make_unique<consumer_group>(std::move(group_id));
  g->_group_epoch = s.group_epoch;
  g->_assignment_epoch = s.assignment_epoch;
  for (const auto& sm : s.members) {
    consumer_member m = sm.m;
    member_assignment_state cur = std::move(m.current);
    m.current = member_assignment_state{};
    m.session_deadline = now + std::chrono::milliseconds(session_timeout_ms);
    if (cur.state == member_state::unrevoked_partitions) {
      m.rebalance_deadline = now + std::chrono::milliseconds(m.rebalance_timeout_ms);
    }
    if (m.instance_id) g->_static_members[*m.instance_id] = m.member_id;
    g->_target[m.member_id] = sm.target;
    auto& slot = g->_members[m.member_id] = std::move(m);
    g->set_current(slot, std::move(cur));  // rebuilds the partition epochs
  }
  // The topic metadata the target was computed from: a change while the broker was down
  // still bumps the epoch on the next heartbeat.
  g->_subscription_metadata = s.subscription_metadata;
  return g;
}

std::vector<std::string> consumer_group::expire(clock_time now) {
  std::vector<std::string> gone;
  for (const auto& [id, m] : _members) {
    if (m.session_deadline <= now || (m.rebalance_deadline && *m.rebalance_deadline <= now)) {
      gone.push_back(id);
    }
  }
  for (const auto& id : gone) {
    remove_member(id);
    ++_group_epoch;
  }
  return gone;
}

std::optional<clock_time> consumer_group::next_deadline() const {
  std::optional<clock_time> out;
  for (const auto& [_, m] : _members) {
    clock_time d = m.session_deadline;
    if (m.rebalance_deadline) d = std::min(d, *m.rebalance_deadline);
    if (!out || d < *out) out = d;
  }
  return out;
}

kafka::error consumer_group::validate_offset_commit(std::string_view member_id,
                                                    int32_t member_epoch, int16_t api_version,
                                                    bool transactional) const {
  if (member_epoch < 0 && _members.empty()) return error::none;
  auto it = _members.find(std::string(member_id));
  if (it == _members.end()) return error::unknown_member_id;
  if (!transactional && api_version < 9) return error::unsupported_version;
  if (member_epoch != it->second.current.member_epoch) return error::stale_member_epoch;
  return error::none;
}

kafka::error consumer_group::validate_offset_fetch(const std::optional<std::string>& member_id,
                                                   int32_t member_epoch) const {
  if (!member_id && member_epoch < 0) return error::none;
  auto it = _members.find(member_id.value_or(""));
  if (it == _members.end()) return error::unknown_member_id;
  if (member_epoch != it->second.current.member_epoch) return error::stale_member_epoch;
  return error::none;
}

}  // namespace sluice::coordinator
