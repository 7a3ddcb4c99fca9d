#include "src/coordinator/group/classic_group.h"

#include <algorithm>
#include <climits>
#include <utility>

#include "src/protocol/wire.h"

namespace sluice::coordinator {
namespace {

using kafka::error;

// How long a new member awaiting its first JoinGroup answer is kept without heartbeats (Kafka's
// GroupCoordinator.NewMemberJoinTimeoutMs).
constexpr int64_t kNewMemberJoinTimeoutMs = 5 * 60 * 1000;

bool same_protocols(const std::vector<protocol>& a, const std::vector<protocol>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].metadata != b[i].metadata) return false;
  }
  return true;
}

bool has_protocol(const member& m, std::string_view name) {
  return std::any_of(m.protocols.begin(), m.protocols.end(),
                     [&](const protocol& p) { return p.name == name; });
}

join_result failed_join(error e, std::string member_id = {}) {
  join_result r;
  r.error = e;
  r.member_id = std::move(member_id);
  return r;
}

}  // namespace

std::string_view state_name(group_state s) {
  switch (s) {
    case group_state::empty:
      return "Empty";
    case group_state::preparing_rebalance:
      return "PreparingRebalance";
    case group_state::completing_rebalance:
      return "CompletingRebalance";
    case group_state::stable:
      return "Stable";
    case group_state::dead:
      return "Dead";
  }
  return "Dead";
}

const bytes& member::metadata_of(std::string_view protocol_name) const {
  static const bytes kEmpty;
  for (const auto& p : protocols) {
    if (p.name == protocol_name) return p.metadata;
  }
  return kEmpty;
}

classic_group::classic_group(std::string id, group_limits limits, id_source new_member_id)
    : _id(std::move(id)), _limits(limits), _new_member_id(std::move(new_member_id)) {}

std::unique_ptr<classic_group> classic_group::restore(std::string id, group_limits limits,
                                                      id_source new_member_id,
                                                      const group_snapshot& s, int64_t now_ms) {
  auto g = std::make_unique<classic_group>(std::move(id), limits, std::move(new_member_id));
  g->_protocol_type = s.protocol_type;
  g->_generation = s.generation;
  g->_protocol_name = s.protocol_name;
  g->_leader = s.leader;
  g->empty_since_wall_ms = s.state_wall_ms;
  for (const auto& r : s.members) {
    auto m = std::make_unique<member>();
    m->id = r.id;
    m->instance_id = r.instance_id;
    m->client_id = r.client_id;
    m->client_host = r.client_host;
    m->rebalance_timeout_ms = r.rebalance_timeout_ms;
    m->session_timeout_ms = r.session_timeout_ms;
    m->protocols.push_back({s.protocol_name.value_or(""), r.subscription});
    m->assignment = r.assignment;
    m->deadline_ms = now_ms + r.session_timeout_ms;
    g->_members.push_back(std::move(m));
  }
  if (!g->_members.empty() && g->_protocol_name) {
    g->_state = group_state::stable;
    if (!g->find(g->_leader)) g->_leader = g->_members.front()->id;
  } else {
    g->_members.clear();
    g->_leader.clear();
  }
  return g;
}

member* classic_group::find(std::string_view member_id) const {
  for (const auto& m : _members) {
    if (m->id == member_id) return m.get();
  }
  return nullptr;
}

member* classic_group::find_static(const std::string& instance_id) const {
  for (const auto& m : _members) {
    if (m->instance_id == instance_id) return m.get();
  }
  return nullptr;
}

bool classic_group::supports(const join_request& req) const {
  if (req.protocol_type.empty() || req.protocols.empty()) return false;
  if (_state == group_state::empty && _members.empty()) return true;
  if (req.protocol_type != _protocol_type) return false;
  // Some protocol of the request must be supported by every other member.
  return std::any_of(req.protocols.begin(), req.protocols.end(), [&](const protocol& p) {
    return std::all_of(_members.begin(), _members.end(), [&](const auto& m) {
      return m->id == req.member_id || has_protocol(*m, p.name);
    });
  });
}

void classic_group::join(join_request req, int64_t now_ms, join_callback done) {
  if (_state == group_state::dead) return done(failed_join(error::coordinator_not_available));
  if (req.session_timeout_ms < _limits.min_session_timeout_ms ||
      req.session_timeout_ms > _limits.max_session_timeout_ms) {
    return done(failed_join(error::invalid_session_timeout, req.member_id));
  }
  const bool unknown = req.member_id.empty();
  const bool pending = !unknown && std::any_of(_pending.begin(), _pending.end(),
                                               [&](auto& p) { return p.first == req.member_id; });
  const bool is_new = unknown || (!pending && find(req.member_id) == nullptr);
  const bool replaces_static =
      unknown && req.instance_id && find_static(*req.instance_id) != nullptr;
  if (is_new && !replaces_static && !pending &&
      _members.size() + _pending.size() >= static_cast<size_t>(_limits.max_size)) {
    return done(failed_join(error::group_max_size_reached, req.member_id));
  }
  if (!supports(req)) return done(failed_join(error::inconsistent_group_protocol, req.member_id));

  if (unknown) {
    std::string id = _new_member_id(req.client_id);
    if (req.instance_id) {
      if (find_static(*req.instance_id)) return static_rejoin(req, std::move(id), now_ms, done);
      return add_member_and_rebalance(req, std::move(id), now_ms, std::move(done));
    }
    if (req.require_known_member_id) {
      // KIP-394: the client retries with this id; until then it holds a place in the group.
      _pending.emplace_back(id, now_ms + req.session_timeout_ms);
      return done(failed_join(error::member_id_required, std::move(id)));
    }
    return add_member_and_rebalance(req, std::move(id), now_ms, std::move(done));
  }
  if (pending) {
    std::erase_if(_pending, [&](auto& p) { return p.first == req.member_id; });
    std::string id = req.member_id;
    return add_member_and_rebalance(req, std::move(id), now_ms, std::move(done));
  }
  if (req.instance_id) {
    member* s = find_static(*req.instance_id);
    if (s != nullptr && s->id != req.member_id) {
      return done(failed_join(error::fenced_instance_id, req.member_id));
    }
  }
  member* m = find(req.member_id);
  if (m == nullptr) return done(failed_join(error::unknown_member_id, req.member_id));
  switch (_state) {
    case group_state::preparing_rebalance:
      return update_member_and_rebalance(*m, req, now_ms, std::move(done));
    case group_state::completing_rebalance:
      // Same metadata: the member most likely missed the JoinGroup answer; repeat it.
      if (same_protocols(m->protocols, req.protocols)) {
        m->deadline_ms = now_ms + m->session_timeout_ms;
        return done(current_generation(*m, m->id == _leader));
      }
      return update_member_and_rebalance(*m, req, now_ms, std::move(done));
    case group_state::stable:
      if (m->id == _leader || !same_protocols(m->protocols, req.protocols)) {
        return update_member_and_rebalance(*m, req, now_ms, std::move(done));
      }
      m->deadline_ms = now_ms + m->session_timeout_ms;
      return done(current_generation(*m, false));
    case group_state::empty:
    case group_state::dead:
      return done(failed_join(error::unknown_member_id, req.member_id));
  }
}

void classic_group::add_member_and_rebalance(join_request& req, std::string member_id,
                                             int64_t now_ms, join_callback done) {
  auto m = std::make_unique<member>();
  m->id = std::move(member_id);
  m->instance_id = req.instance_id;
  m->client_id = req.client_id;
  m->client_host = req.client_host;
  m->rebalance_timeout_ms = req.rebalance_timeout_ms;
  m->session_timeout_ms = req.session_timeout_ms;
  m->protocols = std::move(req.protocols);
  m->awaiting_join = std::move(done);
  m->joined_ms = now_ms;
  m->deadline_ms = now_ms + m->session_timeout_ms;
  m->is_new = true;
  if (_members.empty()) _protocol_type = req.protocol_type;
  if (_leader.empty() || !find(_leader)) _leader = m->id;
  if (_state == group_state::preparing_rebalance && _initial_delay) _new_member_added = true;
  _members.push_back(std::move(m));
  maybe_prepare_rebalance(now_ms);
}

void classic_group::update_member_and_rebalance(member& m, join_request& req, int64_t now_ms,
                                                join_callback done) {
  m.protocols = std::move(req.protocols);
  m.rebalance_timeout_ms = req.rebalance_timeout_ms;
  m.session_timeout_ms = req.session_timeout_ms;
  m.client_id = req.client_id;
  m.client_host = req.client_host;
  m.deadline_ms = now_ms + m.session_timeout_ms;
  // A second JoinGroup while the first waits: the first is answered now, the second waits.
  if (m.awaiting_join)
    std::exchange(m.awaiting_join, nullptr)(failed_join(error::rebalance_in_progress, m.id));
  m.awaiting_join = std::move(done);
  maybe_prepare_rebalance(now_ms);
  maybe_complete_join(now_ms);
}

void classic_group::static_rejoin(join_request& req, std::string new_id, int64_t now_ms,
                                  join_callback done) {
  member* m = find_static(*req.instance_id);
  const std::string old_id = m->id;
  const std::string old_leader = _leader;
  // The old incarnation's outstanding requests are fenced (KIP-345).
  if (m->awaiting_join) {
    std::exchange(m->awaiting_join, nullptr)(failed_join(error::fenced_instance_id, old_id));
  }
  if (m->awaiting_sync) {
    sync_result r;
    r.error = error::fenced_instance_id;
    std::exchange(m->awaiting_sync, nullptr)(std::move(r));
  }
  m->id = new_id;
  if (_leader == old_id) _leader = new_id;
  std::replace(_pending_sync.begin(), _pending_sync.end(), old_id, new_id);

  if (_state == group_state::stable) {
    const auto old_protocols = m->protocols;
    m->protocols = req.protocols;
    if (select_protocol() == _protocol_name) {
      // Same selected protocol: no rebalance; the member gets its old assignment at SyncGroup.
      m->rebalance_timeout_ms = req.rebalance_timeout_ms;
      m->session_timeout_ms = req.session_timeout_ms;
      m->client_id = req.client_id;
      m->client_host = req.client_host;
      m->deadline_ms = now_ms + m->session_timeout_ms;
      _dirty = true;
      join_result r = current_generation(*m, false);
      if (req.static_leader_skip) {
        // KIP-814: the rejoined leader learns it leads but must not reassign.
        r.skip_assignment = m->id == _leader;
        if (r.skip_assignment) r.members = current_generation(*m, true).members;
      } else {
        // Older clients would reassign; tell them the old leader id so they do not.
        r.leader = old_leader;
      }
      return done(std::move(r));
    }
    m->protocols = old_protocols;
  }
  update_member_and_rebalance(*m, req, now_ms, std::move(done));
}

join_result classic_group::current_generation(const member& m, bool with_members) const {
  join_result r;
  r.generation = _generation;
  r.protocol_type = _protocol_type;
  r.protocol_name = _protocol_name;
  r.leader = _leader;
  r.member_id = m.id;
  if (with_members) {
    for (const auto& o : _members) {
      r.members.push_back({o->id, o->instance_id, o->metadata_of(_protocol_name.value_or(""))});
    }
  }
  return r;
}

int32_t classic_group::max_rebalance_timeout() const {
  int32_t t = 0;
  for (const auto& m : _members) t = std::max(t, m->rebalance_timeout_ms);
  return t;
}

void classic_group::transition(group_state s) { _state = s; }

void classic_group::maybe_prepare_rebalance(int64_t now_ms) {
  if (_state == group_state::stable || _state == group_state::completing_rebalance ||
      _state == group_state::empty) {
    prepare_rebalance(now_ms);
  }
  maybe_complete_join(now_ms);
}

void classic_group::prepare_rebalance(int64_t now_ms) {
  if (_state == group_state::completing_rebalance) reset_assignments(error::rebalance_in_progress);
  _pending_sync.clear();
  if (_state == group_state::empty && _limits.initial_rebalance_delay_ms > 0) {
    _initial_delay = true;
    _new_member_added = false;
    _delay_remaining_ms =
        std::max<int64_t>(max_rebalance_timeout() - _limits.initial_rebalance_delay_ms, 0);
    _join_deadline = now_ms + _limits.initial_rebalance_delay_ms;
  } else {
    _initial_delay = false;
    _join_deadline = now_ms + max_rebalance_timeout();
  }
  transition(group_state::preparing_rebalance);
}

void classic_group::maybe_complete_join(int64_t now_ms) {
  if (_state != group_state::preparing_rebalance) return;
  if (_initial_delay) {
    if (now_ms < _join_deadline) return;
    if (_new_member_added && _delay_remaining_ms > 0) {
      const int64_t d = std::min<int64_t>(_limits.initial_rebalance_delay_ms, _delay_remaining_ms);
      _delay_remaining_ms -= d;
      _join_deadline = now_ms + d;
      _new_member_added = false;
      return;
    }
    return complete_join(now_ms);
  }
  const bool all_joined =
      _pending.empty() && std::all_of(_members.begin(), _members.end(),
                                      [](const auto& m) { return bool(m->awaiting_join); });
  if (all_joined || now_ms >= _join_deadline) complete_join(now_ms);
}

void classic_group::complete_join(int64_t now_ms) {
  _initial_delay = false;
  // Members that did not rejoin in time leave the group (static ones too).
  std::erase_if(_members, [](const auto& m) { return !m->awaiting_join; });
  if (!find(_leader)) _leader = _members.empty() ? std::string() : _members.front()->id;
  ++_generation;
  if (_members.empty()) {
    _protocol_name.reset();
    transition(group_state::empty);
    _dirty = true;
    return;
  }
  _protocol_name = select_protocol();
  transition(group_state::completing_rebalance);
  _pending_sync.clear();
  for (const auto& m : _members) _pending_sync.push_back(m->id);
  _sync_deadline = now_ms + max_rebalance_timeout();
  for (const auto& m : _members) {
    m->is_new = false;
    m->deadline_ms = now_ms + m->session_timeout_ms;
    auto cb = std::exchange(m->awaiting_join, nullptr);
    cb(current_generation(*m, m->id == _leader));
  }
}

std::optional<std::string> classic_group::select_protocol() const {
  if (_members.empty()) return std::nullopt;
  // Candidates: supported by every member; each member votes for its most preferred candidate.
  std::vector<std::string> candidates;
  for (const auto& p : _members.front()->protocols) {
    if (std::all_of(_members.begin(), _members.end(),
                    [&](const auto& m) { return has_protocol(*m, p.name); })) {
      candidates.push_back(p.name);
    }
  }
  if (candidates.empty()) return std::nullopt;
  std::vector<int> votes(candidates.size(), 0);
  for (const auto& m : _members) {
    for (const auto& p : m->protocols) {
      auto it = std::find(candidates.begin(), candidates.end(), p.name);
      if (it != candidates.end()) {
        ++votes[it - candidates.begin()];
        break;
      }
    }
  }
  return candidates[std::max_element(votes.begin(), votes.end()) - votes.begin()];
}

void classic_group::reset_assignments(error why) {
  for (const auto& m : _members) {
    m->assignment.clear();
    if (m->awaiting_sync) {
      sync_result r;
      r.error = why;
      std::exchange(m->awaiting_sync, nullptr)(std::move(r));
    }
  }
}

void classic_group::propagate_assignments() {
  for (const auto& m : _members) {
    if (!m->awaiting_sync) continue;
    sync_result r;
    r.protocol_type = _protocol_type;
    r.protocol_name = _protocol_name;
    r.assignment = m->assignment;
    std::exchange(m->awaiting_sync, nullptr)(std::move(r));
  }
}

void classic_group::sync(sync_request req, int64_t now_ms, sync_callback done) {
  auto fail = [&](error e) {
    sync_result r;
    r.error = e;
    done(std::move(r));
  };
  if (_state == group_state::dead) return fail(error::coordinator_not_available);
  if (req.instance_id) {
    member* s = find_static(*req.instance_id);
    if (s != nullptr && s->id != req.member_id) return fail(error::fenced_instance_id);
  }
  member* m = find(req.member_id);
  if (m == nullptr) return fail(error::unknown_member_id);
  if (req.generation != _generation) return fail(error::illegal_generation);
  if ((req.protocol_type && *req.protocol_type != _protocol_type) ||
      (req.protocol_name && req.protocol_name != _protocol_name)) {
    return fail(error::inconsistent_group_protocol);
  }
  switch (_state) {
    case group_state::empty:
    case group_state::dead:
      return fail(error::unknown_member_id);
    case group_state::preparing_rebalance:
      return fail(error::rebalance_in_progress);
    case group_state::completing_rebalance: {
      std::erase(_pending_sync, m->id);
      m->deadline_ms = now_ms + m->session_timeout_ms;
      if (m->awaiting_sync) {
        sync_result r;
        r.error = error::rebalance_in_progress;
        std::exchange(m->awaiting_sync, nullptr)(std::move(r));
      }
      m->awaiting_sync = std::move(done);
      if (m->id == _leader) {
        for (const auto& o : _members) {
          auto it = std::find_if(req.assignments.begin(), req.assignments.end(),
                                 [&](const auto& a) { return a.first == o->id; });
          o->assignment = it == req.assignments.end() ? bytes() : std::move(it->second);
        }
        transition(group_state::stable);
        _dirty = true;
        propagate_assignments();
      }
      return;
    }
    case group_state::stable: {
      std::erase(_pending_sync, m->id);
      m->deadline_ms = now_ms + m->session_timeout_ms;
      sync_result r;
      r.protocol_type = _protocol_type;
      r.protocol_name = _protocol_name;
      r.assignment = m->assignment;
      return done(std::move(r));
    }
  }
}

kafka::error classic_group::heartbeat(std::string_view member_id,
                                      const std::optional<std::string>& instance_id,
                                      int32_t generation, int64_t now_ms) {
  if (_state == group_state::dead) return error::coordinator_not_available;
  if (instance_id) {
    member* s = find_static(*instance_id);
    if (s == nullptr) return error::unknown_member_id;
    if (s->id != member_id) return error::fenced_instance_id;
  }
  member* m = find(member_id);
  if (m == nullptr) return error::unknown_member_id;
  if (generation != _generation) return error::illegal_generation;
  switch (_state) {
    case group_state::empty:
    case group_state::dead:
      return error::unknown_member_id;
    case group_state::preparing_rebalance:
      m->deadline_ms = now_ms + m->session_timeout_ms;
      return error::rebalance_in_progress;
    case group_state::completing_rebalance:
    case group_state::stable:
      m->deadline_ms = now_ms + m->session_timeout_ms;
      return error::none;
  }
  return error::none;
}

kafka::error classic_group::leave(std::string_view member_id,
                                  const std::optional<std::string>& instance_id, int64_t now_ms) {
  if (_state == group_state::dead) return error::coordinator_not_available;
  if (member_id.empty()) {
    if (!instance_id) return error::unknown_member_id;
    member* s = find_static(*instance_id);
    if (s == nullptr) return error::unknown_member_id;
    std::string id = s->id;
    remove_member(id, now_ms);
    return error::none;
  }
  if (std::any_of(_pending.begin(), _pending.end(),
                  [&](auto& p) { return p.first == member_id; })) {
    std::erase_if(_pending, [&](auto& p) { return p.first == member_id; });
    maybe_complete_join(now_ms);
    return error::none;
  }
  if (instance_id) {
    member* s = find_static(*instance_id);
    if (s == nullptr) return error::unknown_member_id;
    if (s->id != member_id) return error::fenced_instance_id;
  }
  if (find(member_id) == nullptr) return error::unknown_member_id;
  remove_member(member_id, now_ms);
  return error::none;
}

void classic_group::remove_member(std::string_view member_id, int64_t now_ms) {
  auto it = std::find_if(_members.begin(), _members.end(),
                         [&](const auto& m) { return m->id == member_id; });
  if (it == _members.end()) return;
  std::unique_ptr<member> gone = std::move(*it);
  _members.erase(it);
  std::erase(_pending_sync, gone->id);
  if (_leader == gone->id) _leader = _members.empty() ? std::string() : _members.front()->id;
  if (gone->awaiting_join) gone->awaiting_join(failed_join(error::unknown_member_id));
  if (gone->awaiting_sync) {
    sync_result r;
    r.error = error::unknown_member_id;
    gone->awaiting_sync(std::move(r));
  }
  if (_state == group_state::stable || _state == group_state::completing_rebalance) {
    maybe_prepare_rebalance(now_ms);
  } else {
    maybe_complete_join(now_ms);
  }
}

void classic_group::tick(int64_t now_ms) {
  maybe_complete_join(now_ms);
  if ((_state == group_state::completing_rebalance || _state == group_state::stable) &&
      !_pending_sync.empty() && now_ms >= _sync_deadline) {
    // Members that joined but never synced within the rebalance timeout are dropped.
    const auto laggards = _pending_sync;
    _pending_sync.clear();
    for (const auto& id : laggards) remove_member(id, now_ms);
  }
  if (std::erase_if(_pending, [&](auto& p) { return p.second <= now_ms; }) > 0) {
    maybe_complete_join(now_ms);
  }
  std::vector<std::string> expired;
  for (const auto& m : _members) {
    if (m->deadline_ms > now_ms) continue;
    const bool keep =
        m->awaiting_sync ||
        (m->awaiting_join && (!m->is_new || now_ms < m->joined_ms + kNewMemberJoinTimeoutMs));
    if (keep) {
      m->deadline_ms = now_ms + m->session_timeout_ms;
    } else {
      expired.push_back(m->id);
    }
  }
  for (const auto& id : expired) remove_member(id, now_ms);
}

int64_t classic_group::next_deadline() const {
  int64_t d = INT64_MAX;
  if (_state == group_state::preparing_rebalance) d = std::min(d, _join_deadline);
  if ((_state == group_state::completing_rebalance || _state == group_state::stable) &&
      !_pending_sync.empty()) {
    d = std::min(d, _sync_deadline);
  }
  for (const auto& p : _pending) d = std::min(d, p.second);
  for (const auto& m : _members) d = std::min(d, m->deadline_ms);
  return d;
}

kafka::error classic_group::validate_offset_commit(std::string_view member_id,
                                                   const std::optional<std::string>& instance_id,
                                                   int32_t generation) const {
  if (_state == group_state::dead) return error::coordinator_not_available;
  if (generation < 0 && _state == group_state::empty) return error::none;
  if (generation >= 0 || !member_id.empty() || instance_id) {
    if (instance_id) {
      member* s = find_static(*instance_id);
      if (s == nullptr) return error::unknown_member_id;
      if (s->id != member_id) return error::fenced_instance_id;
    } else if (find(member_id) == nullptr) {
      return error::unknown_member_id;
    }
    if (generation != _generation) return error::illegal_generation;
  } else if (_state != group_state::empty) {
    return error::unknown_member_id;
  }
  if (_state == group_state::completing_rebalance) return error::rebalance_in_progress;
  return error::none;
}

kafka::error classic_group::mark_dead() {
  if (_state == group_state::dead) return error::group_id_not_found;
  if (_state != group_state::empty) return error::non_empty_group;
  transition(group_state::dead);
  _pending.clear();
  return error::none;
}

std::optional<std::vector<std::string>> classic_group::subscribed_topics() const {
  if (_protocol_type != "consumer" || !_protocol_name) return std::nullopt;
  std::vector<std::string> topics;
  for (const auto& m : _members) {
    const bytes& md = m->metadata_of(*_protocol_name);
    // ConsumerProtocolSubscription: int16 version, then [string] topics in every version.
    wire::reader r(md.data(), md.size());
    (void)r.read_int16();
    const int32_t n = r.read_array_length(false, false, 2);
    for (int32_t i = 0; i < n && r.ok(); ++i) topics.push_back(r.read_string(false));
    if (!r.ok()) return std::nullopt;
  }
  std::sort(topics.begin(), topics.end());
  topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
  return topics;
}

group_snapshot classic_group::snapshot() const {
  group_snapshot s;
  s.protocol_type = _protocol_type;
  s.generation = _generation;
  s.protocol_name = _protocol_name;
  s.leader = _leader;
  s.state_wall_ms = empty_since_wall_ms;
  if (_state == group_state::empty || _state == group_state::dead) return s;
  for (const auto& m : _members) {
    s.members.push_back({m->id, m->instance_id, m->client_id, m->client_host,
                         m->rebalance_timeout_ms, m->session_timeout_ms,
                         m->metadata_of(_protocol_name.value_or("")), m->assignment});
  }
  return s;
}

}  // namespace sluice::coordinator
