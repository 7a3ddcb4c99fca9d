#include "src/coordinator/group/group_manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>

#include "proto/sluice/meta.pb.h"
#include "src/coordinator/group/consumer_group_record.h"
#include "src/meta/keys.h"

namespace sluice::coordinator {
namespace {

using kafka::error;

constexpr auto kTickPeriod = std::chrono::milliseconds(100);
constexpr int64_t kRetentionCheckMs = 60 * 1000;
// Kafka's offset.metadata.max.bytes default.
constexpr size_t kMaxMetadataBytes = 4096;

std::string encode_group(const group_snapshot& s) {
  meta::GroupRecord r;
  r.set_kind(meta::GroupRecord::CLASSIC);
  r.set_protocol_type(s.protocol_type);
  r.set_generation(s.generation);
  if (s.protocol_name) r.set_protocol_name(*s.protocol_name);
  r.set_leader(s.leader);
  r.set_empty_since_ms(s.state_wall_ms);
  for (const auto& m : s.members) {
    auto* pm = r.add_members();
    pm->set_id(m.id);
    if (m.instance_id) pm->set_instance_id(*m.instance_id);
    pm->set_client_id(m.client_id);
    pm->set_client_host(m.client_host);
    pm->set_rebalance_timeout_ms(m.rebalance_timeout_ms);
    pm->set_session_timeout_ms(m.session_timeout_ms);
    pm->set_subscription(std::string(m.subscription.begin(), m.subscription.end()));
    pm->set_assignment(std::string(m.assignment.begin(), m.assignment.end()));
  }
  return r.SerializeAsString();
}

bool decode_group(std::string_view v, group_snapshot& s) {
  meta::GroupRecord r;
  if (!r.ParseFromArray(v.data(), static_cast<int>(v.size()))) return false;
  if (r.kind() != meta::GroupRecord::CLASSIC) return false;
  s.protocol_type = r.protocol_type();
  s.generation = r.generation();
  if (r.has_protocol_name()) s.protocol_name = r.protocol_name();
  s.leader = r.leader();
  s.state_wall_ms = r.empty_since_ms();
  for (const auto& pm : r.members()) {
    group_snapshot::member_record m;
    m.id = pm.id();
    if (pm.has_instance_id()) m.instance_id = pm.instance_id();
    m.client_id = pm.client_id();
    m.client_host = pm.client_host();
    m.rebalance_timeout_ms = pm.rebalance_timeout_ms();
    m.session_timeout_ms = pm.session_timeout_ms();
    m.subscription.assign(pm.subscription().begin(), pm.subscription().end());
    m.assignment.assign(pm.assignment().begin(), pm.assignment().end());
    s.members.push_back(std::move(m));
  }
  return true;
}

}  // namespace

std::string encode_offset(const committed_offset& o) {
  meta::OffsetRecord r;
  r.set_offset(o.offset);
  r.set_leader_epoch(o.leader_epoch);
  r.set_metadata(o.metadata);
  r.set_commit_ms(o.commit_ms);
  return r.SerializeAsString();
}

int64_t wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// ---- shard_groups ----

shard_groups::shard_groups(group_manager& owner, unsigned shard)
    : _owner(owner), _shard(shard), _rng(std::random_device{}() ^ (uint64_t(shard) << 32)) {}

std::string shard_groups::new_member_id(std::string_view client_id) {
  // Kafka's form: client id, a dash, a random UUID.
  const uint64_t a = _rng(), b = _rng();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", uint32_t(a >> 32),
                uint32_t(a >> 16) & 0xffff, uint32_t(a) & 0xfff,
                (uint32_t(b >> 48) & 0x3fff) | 0x8000,
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return std::string(client_id) + "-" + buf;
}

std::unique_ptr<classic_group> shard_groups::new_classic(const std::string& group) {
  return std::make_unique<classic_group>(group, _owner.limits(),
                                         [this](std::string_view c) { return new_member_id(c); });
}

group_entry* shard_groups::find(const std::string& group) {
  auto it = _groups.find(group);
  return it == _groups.end() ? nullptr : &it->second;
}

group_entry& shard_groups::get_or_create(const std::string& group) {
  auto [it, inserted] = _groups.try_emplace(group);
  if (inserted) {
    it->second.id = group;
    it->second.classic = new_classic(group);
    it->second.classic->empty_since_wall_ms = wall_now_ms();
  }
  return it->second;
}

void shard_groups::adopt(const std::string& id, const group_snapshot* snapshot,
                         std::map<std::pair<std::string, int32_t>, committed_offset> offsets,
                         int64_t now_ms, const consumer_group_snapshot* consumer,
                         int64_t empty_since_ms) {
  group_entry& e = _groups[id];
  e.id = id;
  if (consumer != nullptr) {
    e.consumer =
        consumer_group::restore(id, *consumer, _owner.cfg().group_consumer_session_timeout_ms,
                                clock_time{} + std::chrono::milliseconds(now_ms));
    e.consumer->empty_since_wall_ms =
        e.consumer->empty() ? (empty_since_ms != 0 ? empty_since_ms : wall_now_ms()) : 0;
    e.consumer_record =
        encode_consumer_record(e.consumer->snapshot(), e.consumer->empty_since_wall_ms);
  } else if (snapshot != nullptr) {
    e.classic = classic_group::restore(
        id, _owner.limits(), [this](std::string_view c) { return new_member_id(c); }, *snapshot,
        now_ms);
    if (e.classic->state() == group_state::empty && e.classic->empty_since_wall_ms == 0) {
      e.classic->empty_since_wall_ms = wall_now_ms();
    }
  } else {
    e.classic = new_classic(id);
    e.classic->empty_since_wall_ms = wall_now_ms();
  }
  e.offsets = std::move(offsets);
}

void shard_groups::persist_if_dirty(group_entry& e) {
  if (!e.classic) return;
  classic_group& g = *e.classic;
  if (g.state() != e.logged_state || g.generation() != e.logged_generation) {
    spdlog::info("group {}: {} -> {}, generation {}, {} members", e.id, state_name(e.logged_state),
                 state_name(g.state()), g.generation(), g.members().size());
    e.logged_state = g.state();
    e.logged_generation = g.generation();
  }
  if (g.state() == group_state::empty) {
    if (g.empty_since_wall_ms == 0) g.empty_since_wall_ms = wall_now_ms();
  } else {
    g.empty_since_wall_ms = 0;
  }
  if (!g.take_dirty()) return;
  meta::write_batch b;
  b.put(meta::cf::groups, meta::group_key(e.id), encode_group(g.snapshot()));
  _owner.writer().submit(std::move(b), [id = e.id](std::error_code ec) {
    if (ec) spdlog::error("group {}: cannot write its record: {}", id, ec.message());
  });
}

void shard_groups::join(const std::string& group, join_request req, join_callback done) {
  if (group.empty()) {
    join_result r;
    r.error = error::invalid_group_id;
    return done(std::move(r));
  }
  group_entry* e = find(group);
  if (e == nullptr && !req.member_id.empty()) {
    join_result r;
    r.error = error::unknown_member_id;
    r.member_id = req.member_id;
    return done(std::move(r));
  }
  const bool created = e == nullptr;
  if (created) e = &get_or_create(group);
  if (e->consumer) {  // a KIP-848 group (Kafka's classicGroupJoin without migration)
    if (!e->consumer->empty()) {
      join_result r;
      r.error = error::inconsistent_group_protocol;
      return done(std::move(r));
    }
    // An Empty consumer group becomes a classic one; its offsets stay.
    e->consumer.reset();
    if (!e->consumer_record.empty()) {  // the classic group writes its own once it has one
      e->consumer_record.clear();
      meta::write_batch b;
      b.del(meta::cf::groups, meta::group_key(group));
      _owner.writer().submit(std::move(b), nullptr);
    }
    e->classic = new_classic(group);
    e->classic->empty_since_wall_ms = wall_now_ms();
  }
  e->classic->join(std::move(req), steady_now_ms(), std::move(done));
  // A join refused at once (bad session timeout, no protocols) leaves no group behind.
  if (created && e->classic->members().empty() && e->classic->pending_member_count() == 0 &&
      e->classic->state() == group_state::empty) {
    _groups.erase(group);
    return;
  }
  persist_if_dirty(*e);
}

void shard_groups::sync(const std::string& group, sync_request req, sync_callback done) {
  group_entry* e = find(group);
  if (e == nullptr || !e->classic) {
    sync_result r;
    r.error = group.empty() ? error::invalid_group_id : error::unknown_member_id;
    return done(std::move(r));
  }
  // Kafka answers SyncGroup once the group metadata is appended. Every answer, the leader's now
  // or a follower's when the leader's assignment arrives, waits for the group record writes
  // queued before it: posted first, so the record persist_if_dirty() submits below is included.
  sync_callback durable = [this, done](sync_result r) {
    if (r.error != error::none) return done(std::move(r));
    _owner.post(_shard, [this, done, r = std::move(r)] {
      _owner.writer().submit({}, [this, done, r](std::error_code ec) {
        _owner.post(_shard, [done, r, ec]() mutable {
          if (ec) {
            spdlog::error(
                "SyncGroup answered with COORDINATOR_NOT_AVAILABLE: group record not written: {}",
                ec.message());
            r = sync_result{};
            r.error = error::coordinator_not_available;
          }
          done(std::move(r));
        });
      });
    });
  };
  e->classic->sync(std::move(req), steady_now_ms(), std::move(durable));
  persist_if_dirty(*e);
}

kafka::error shard_groups::heartbeat(const std::string& group, const std::string& member_id,
                                     const std::optional<std::string>& instance_id,
                                     int32_t generation) {
  if (group.empty()) return error::invalid_group_id;
  group_entry* e = find(group);
  if (e == nullptr || !e->classic) return error::unknown_member_id;
  auto err = e->classic->heartbeat(member_id, instance_id, generation, steady_now_ms());
  persist_if_dirty(*e);
  return err;
}

leave_result shard_groups::leave(
    const std::string& group,
    const std::vector<std::pair<std::string, std::optional<std::string>>>& who) {
  leave_result out;
  if (group.empty()) {
    out.error = error::invalid_group_id;
    return out;
  }
  group_entry* e = find(group);
  if (e == nullptr || !e->classic) {
    out.members.assign(who.size(), error::unknown_member_id);
    return out;
  }
  if (e->classic->state() == group_state::dead) {
    out.error = error::coordinator_not_available;
    return out;
  }
  const int64_t now = steady_now_ms();
  for (const auto& [member_id, instance_id] : who) {
    out.members.push_back(e->classic->leave(member_id, instance_id, now));
  }
  persist_if_dirty(*e);
  return out;
}

void shard_groups::commit(const std::string& group, offset_commit_request req,
                          commit_callback done) {
  const size_t n = req.offsets.size();
  if (group.empty()) return done(std::vector<error>(n, error::invalid_group_id));
  group_entry* e = find(group);
  if (e == nullptr) {
    // Kafka: a commit outside group management (generation -1) creates a "simple" group; a
    // member's commit to a group that does not exist is from a stale generation (v9+ says so).
    if (req.generation >= 0) {
      return done(std::vector<error>(
          n, req.api_version >= 9 ? error::group_id_not_found : error::illegal_generation));
    }
    e = &get_or_create(group);
  }
  if (e->classic) {
    error err = e->classic->validate_offset_commit(req.member_id, req.instance_id, req.generation);
    if (err != error::none) return done(std::vector<error>(n, err));
  } else if (e->consumer) {
    error err = e->consumer->validate_offset_commit(req.member_id, req.generation, req.api_version);
    if (err != error::none) return done(std::vector<error>(n, err));
  }
  write_offsets(
      group, std::move(req), meta::cf::group_offsets,
      [&group](const std::string& topic, int32_t partition) {
        return meta::offset_key(group, topic, partition);
      },
      // Durable now: visible to OffsetFetch (the group may have been deleted meanwhile).
      [this, group](offset_commit_request::entry& o) {
        if (group_entry* e = find(group)) e->offsets[{o.topic, o.partition}] = std::move(o.value);
      },
      std::move(done));
}

void shard_groups::write_offsets(const std::string& group, offset_commit_request req,
                                 meta::cf family, const offset_key_fn& key,
                                 std::function<void(offset_commit_request::entry&)> apply,
                                 commit_callback done) {
  const size_t n = req.offsets.size();
  std::vector<error> errs(n, error::none);
  meta::write_batch b;
  const int64_t now = wall_now_ms();
  for (size_t i = 0; i < n; ++i) {
    auto& o = req.offsets[i];
    o.value.commit_ms = now;
    auto k = key(o.topic, o.partition);
    if (o.value.metadata.size() > kMaxMetadataBytes) {
      errs[i] = error::offset_metadata_too_large;
    } else if (!k) {
      errs[i] = error::invalid_request;
    } else {
      b.put(family, std::move(k.value()), encode_offset(o.value));
    }
  }
  if (b.empty()) return done(std::move(errs));
  _owner.writer().submit(
      std::move(b), [this, group, req = std::move(req), errs = std::move(errs),
                     apply = std::move(apply), done = std::move(done)](std::error_code ec) mutable {
        _owner.post(_shard, [this, group, req = std::move(req), errs = std::move(errs),
                             apply = std::move(apply), done = std::move(done), ec]() mutable {
          if (ec) {
            spdlog::error("group {}: offsets not written: {}", group, ec.message());
            for (auto& e : errs) {
              if (e == error::none) e = error::coordinator_not_available;
            }
            return done(std::move(errs));
          }
          for (size_t i = 0; i < req.offsets.size(); ++i) {
            if (errs[i] == error::none) apply(req.offsets[i]);
          }
          done(std::move(errs));
        });
      });
}

offset_fetch_result shard_groups::fetch(const std::string& group, const offset_fetch_request& req) {
  offset_fetch_result out;
  if (group.empty()) {
    out.error = error::invalid_group_id;
    return out;
  }
  group_entry* e = find(group);
  if (e != nullptr && e->consumer) {
    out.error = e->consumer->validate_offset_fetch(req.member_id, req.member_epoch);
    if (out.error != error::none) return out;
  }
  if (!req.topics) {
    if (e != nullptr) {
      for (const auto& [tp, v] : e->offsets) out.offsets.push_back({tp.first, tp.second, v});
    }
    return out;
  }
  for (const auto& [topic, parts] : *req.topics) {
    for (int32_t p : parts) {
      offset_fetch_result::entry en{topic, p, {}};
      if (req.require_stable && has_pending(group, {topic, p})) {
        en.error = error::unstable_offset_commit;
        out.offsets.push_back(std::move(en));
        continue;
      }
      if (e != nullptr) {
        auto it = e->offsets.find({topic, p});
        if (it != e->offsets.end()) en.value = it->second;
      }
      out.offsets.push_back(std::move(en));
    }
  }
  return out;
}

void shard_groups::delete_offsets(const std::string& group,
                                  std::vector<std::pair<std::string, int32_t>> partitions,
                                  std::function<void(error, std::vector<error>)> done) {
  group_entry* e = find(group);
  if (e == nullptr || (e->classic && e->classic->state() == group_state::dead)) {
    return done(error::group_id_not_found, {});
  }
  std::optional<std::vector<std::string>> subscribed;
  if (e->classic && e->classic->state() != group_state::empty) {
    if (e->classic->protocol_type() != "consumer") return done(error::non_empty_group, {});
    subscribed = e->classic->subscribed_topics();
  } else if (e->consumer && !e->consumer->empty()) {
    subscribed.emplace();
    for (const auto& [_, m] : e->consumer->members()) {
      subscribed->insert(subscribed->end(), m.subscribed_topic_names.begin(),
                         m.subscribed_topic_names.end());
    }
    std::sort(subscribed->begin(), subscribed->end());
  }
  std::vector<error> errs(partitions.size(), error::none);
  meta::write_batch b;
  for (size_t i = 0; i < partitions.size(); ++i) {
    const auto& [topic, p] = partitions[i];
    if (subscribed && std::binary_search(subscribed->begin(), subscribed->end(), topic)) {
      errs[i] = error::group_subscribed_to_topic;
      continue;
    }
    if (e->offsets.erase({topic, p}) == 0) continue;
    if (auto key = meta::offset_key(group, topic, p)) b.del(meta::cf::group_offsets, key.value());
  }
  if (b.empty()) return done(error::none, std::move(errs));
  _owner.writer().submit(std::move(b), [this, errs = std::move(errs),
                                        done = std::move(done)](std::error_code ec) mutable {
    _owner.post(_shard, [errs = std::move(errs), done = std::move(done), ec]() mutable {
      done(ec ? error::coordinator_not_available : error::none, std::move(errs));
    });
  });
}

group_description shard_groups::describe(const std::string& group) {
  group_description d;
  d.group_id = group;
  d.state = "Dead";
  if (group.empty()) {
    d.error = error::invalid_group_id;
    return d;
  }
  group_entry* e = find(group);
  if (e == nullptr || !e->classic) return d;
  const classic_group& g = *e->classic;
  d.state = std::string(state_name(g.state()));
  d.protocol_type = g.protocol_type();
  const bool stable = g.state() == group_state::stable;
  if (stable) d.protocol_data = g.protocol_name().value_or("");
  for (const auto& m : g.members()) {
    group_description::member_info mi{m->id, m->instance_id, m->client_id, m->client_host, {}, {}};
    if (stable) {
      mi.metadata = m->metadata_of(d.protocol_data);
      mi.assignment = m->assignment;
    }
    d.members.push_back(std::move(mi));
  }
  return d;
}

std::vector<group_listing> shard_groups::list() const {
  std::vector<group_listing> out;
  for (const auto& [id, e] : _groups) {
    if (e.consumer) {
      out.push_back({id, "consumer", std::string(state_name(e.consumer->state())), "consumer"});
      continue;
    }
    if (!e.classic || e.classic->state() == group_state::dead) continue;
    out.push_back(
        {id, e.classic->protocol_type(), std::string(state_name(e.classic->state())), "classic"});
  }
  return out;
}

void shard_groups::delete_group(const std::string& group, std::function<void(error)> done) {
  if (group.empty()) return done(error::invalid_group_id);
  group_entry* e = find(group);
  if (e == nullptr) return done(error::group_id_not_found);
  if (e->classic) {
    if (error err = e->classic->mark_dead(); err != error::none) return done(err);
  } else if (e->consumer && !e->consumer->empty()) {
    return done(error::non_empty_group);
  }
  meta::write_batch b;
  b.del(meta::cf::groups, meta::group_key(group));
  for (const auto& [tp, v] : e->offsets) {
    if (auto key = meta::offset_key(group, tp.first, tp.second)) {
      b.del(meta::cf::group_offsets, key.value());
    }
  }
  // Gone at once: a later JoinGroup of the same id starts a new group, whose writes queue after
  // this deletion.
  _groups.erase(group);
  _owner.writer().submit(std::move(b), [this, done = std::move(done)](std::error_code ec) mutable {
    _owner.post(_shard, [done = std::move(done), ec] {
      done(ec ? error::coordinator_not_available : error::none);
    });
  });
}

void shard_groups::tick(int64_t now_ms) {
  tick_consumer_groups(now_ms);
  for (auto& [id, e] : _groups) {
    if (!e.classic || e.classic->next_deadline() > now_ms) continue;
    e.classic->tick(now_ms);
    persist_if_dirty(e);
  }
}

void shard_groups::expire_offsets(int64_t wall_ms) {
  const int64_t retention = int64_t(_owner.cfg().offsets_retention_minutes) * 60 * 1000;
  std::vector<std::string> dead;
  for (auto& [id, e] : _groups) {
    // Only offsets of Empty groups expire: a live group keeps what it committed.
    int64_t since = 0;
    if (e.classic && e.classic->state() == group_state::empty) {
      since = e.classic->empty_since_wall_ms;
    } else if (e.consumer && e.consumer->empty()) {
      since = e.consumer->empty_since_wall_ms;
    } else {
      continue;
    }
    meta::write_batch b;
    for (auto it = e.offsets.begin(); it != e.offsets.end();) {
      if (wall_ms - std::max(it->second.commit_ms, since) < retention) {
        ++it;
        continue;
      }
      if (auto key = meta::offset_key(id, it->first.first, it->first.second)) {
        b.del(meta::cf::group_offsets, key.value());
      }
      it = e.offsets.erase(it);
    }
    if (e.offsets.empty() && wall_ms - since >= retention) {
      b.del(meta::cf::groups, meta::group_key(id));
      dead.push_back(id);
    }
    if (!b.empty()) {
      _owner.writer().submit(std::move(b), [id](std::error_code ec) {
        if (ec) spdlog::error("group {}: cannot expire offsets: {}", id, ec.message());
      });
    }
  }
  for (const auto& id : dead) _groups.erase(id);
}

// ---- group_manager ----

struct group_manager::timers {
  std::vector<std::unique_ptr<boost::asio::steady_timer>> tick;
  std::vector<int64_t> last_retention;
};

group_manager::group_manager(const config& cfg, net::shard_pool& shards, meta::store& store)
    : _cfg(cfg), _shards(shards), _store(store), _writer(store), _timers(new timers) {
  for (unsigned s = 0; s < shards.size(); ++s) {
    _per_shard.push_back(std::make_unique<shard_groups>(*this, s));
  }
}

group_manager::~group_manager() { _writer.stop(); }

group_limits group_manager::limits() const {
  return {_cfg.group_min_session_timeout_ms, _cfg.group_max_session_timeout_ms,
          _cfg.group_initial_rebalance_delay_ms, _cfg.group_max_size};
}

unsigned group_manager::owner_of(std::string_view group) const {
  return static_cast<unsigned>(std::hash<std::string_view>{}(group) % _shards.size());
}

void group_manager::post(unsigned shard, std::function<void()> fn) {
  boost::asio::post(_shards.context(shard), std::move(fn));
}

std::error_code group_manager::load() {
  struct loaded {
    std::optional<group_snapshot> snapshot;
    std::optional<consumer_group_snapshot> consumer;
    int64_t empty_since_ms = 0;
    std::map<std::pair<std::string, int32_t>, committed_offset> offsets;
  };
  std::map<std::string, loaded> all;
  size_t bad = 0;
  auto ec = _store.scan(meta::cf::groups, "", [&](std::string_view k, std::string_view v) {
    if (is_consumer_record(v)) {
      consumer_group_snapshot cs;
      auto& l = all[std::string(k)];
      if (!decode_consumer_record(v, cs, l.empty_since_ms)) {
        ++bad;
        return true;
      }
      l.consumer = std::move(cs);
      return true;
    }
    group_snapshot s;
    if (!decode_group(v, s)) {
      ++bad;
      return true;
    }
    all[std::string(k)].snapshot = std::move(s);
    return true;
  });
  if (ec) return ec;
  ec = _store.scan(meta::cf::group_offsets, "", [&](std::string_view k, std::string_view v) {
    auto parts = meta::decode_offset_key(k);
    meta::OffsetRecord r;
    if (!parts || !r.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
      ++bad;
      return true;
    }
    all[parts.value().group].offsets[{parts.value().topic, parts.value().partition}] =
        committed_offset{r.offset(), r.leader_epoch(), r.metadata(), r.commit_ms()};
    return true;
  });
  if (ec) return ec;
  // Offsets of open transactions (TxnOffsetCommit), pending until EndTxn.
  ec =
      _store.scan(meta::cf::producers, meta::pending_offset_prefix(),
                  [&](std::string_view k, std::string_view v) {
                    auto parts = meta::decode_pending_offset_key(k);
                    meta::OffsetRecord r;
                    if (!parts || !r.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
                      ++bad;
                      return true;
                    }
                    auto& p = parts.value();
                    on_shard(owner_of(p.group))
                        .adopt_pending(p.group, p.producer_id, {p.topic, p.partition},
                                       {r.offset(), r.leader_epoch(), r.metadata(), r.commit_ms()});
                    return true;
                  });
  if (ec) return ec;
  if (bad > 0) spdlog::warn("groups: {} unreadable records skipped", bad);
  const int64_t now = steady_now_ms();
  for (auto& [id, l] : all) {
    on_shard(owner_of(id))
        .adopt(id, l.snapshot ? &*l.snapshot : nullptr, std::move(l.offsets), now,
               l.consumer ? &*l.consumer : nullptr, l.empty_since_ms);
  }
  if (!all.empty()) spdlog::info("groups: {} loaded", all.size());
  return {};
}

void group_manager::start() {
  for (unsigned s = 0; s < _shards.size(); ++s) {
    _timers->tick.push_back(std::make_unique<boost::asio::steady_timer>(_shards.context(s)));
    _timers->last_retention.push_back(0);
  }
  for (unsigned s = 0; s < _shards.size(); ++s) post(s, [this, s] { arm(s); });
}

void group_manager::arm(unsigned s) {
  auto& t = *_timers->tick[s];
  t.expires_after(kTickPeriod);
  t.async_wait([this, s](const boost::system::error_code& ec) {
    if (ec) return;
    on_shard(s).tick(steady_now_ms());
    const int64_t wall = wall_now_ms();
    if (wall - _timers->last_retention[s] >= kRetentionCheckMs) {
      _timers->last_retention[s] = wall;
      on_shard(s).expire_offsets(wall);
    }
    arm(s);
  });
}

void group_manager::stop() { _writer.stop(); }

}  // namespace sluice::coordinator
