// shard_groups' KIP-848 side: ConsumerGroupHeartbeat into a group entry, and the timers of
// consumer groups. The state machine is consumer_group.h; this decides which groups exist and
// of which kind (Kafka's getOrMaybeCreateConsumerGroup):
// - a heartbeat with epoch 0 creates a consumer group, or replaces an Empty classic group (its
//   committed offsets stay);
// - a group of the classic kind with members is GROUP_ID_NOT_FOUND ("not a consumer group");
// - a regular heartbeat (epoch > 0) for a group that does not exist is UNKNOWN_MEMBER_ID, not
//   Kafka's GROUP_ID_NOT_FOUND: a group gone (deleted, expired, its record lost) makes its
//   members rejoin, where librdkafka would treat GROUP_ID_NOT_FOUND as fatal. Leaves (epoch
//   -1/-2) of a missing group stay GROUP_ID_NOT_FOUND.
// - persistence: after every heartbeat and expiry the group's record is written when its snapshot
//   changed (persist_consumer); load() restores it, so members keep their epochs across a
//   restart. An Empty group without offsets is dropped, and its record deleted.

#include <spdlog/spdlog.h>

#include "src/coordinator/group/consumer_group_record.h"
#include "src/coordinator/group/group_manager.h"
#include "src/meta/keys.h"

namespace sluice::coordinator {
namespace {

using kafka::error;

clock_time at(int64_t steady_ms) { return clock_time{} + std::chrono::milliseconds(steady_ms); }

heartbeat_result failure(error e, std::string message) {
  heartbeat_result r;
  r.error = e;
  r.error_message = std::move(message);
  return r;
}

}  // namespace

heartbeat_result shard_groups::consumer_heartbeat(const std::string& group,
                                                  const heartbeat_request& req,
                                                  const topic_view& topics) {
  if (auto v = validate_heartbeat(req); v.error != error::none) return v;
  const bool join = req.member_epoch == 0;
  group_entry* e = find(group);
  if (e == nullptr) {
    if (req.member_epoch > 0) {
      return failure(error::unknown_member_id, "Consumer group " + group + " has no member " +
                                                   req.member_id + " (not found).");
    }
    if (!join) return failure(error::group_id_not_found, "Consumer group " + group + " not found.");
    e = &get_or_create(group);
  }
  if (!e->consumer) {
    if (!join || !e->classic || e->classic->state() != group_state::empty) {
      return failure(error::group_id_not_found, "Group " + group + " is not a consumer group.");
    }
    // An Empty classic group (or one only holding offsets) becomes a consumer group.
    e->classic.reset();
    e->consumer = std::make_unique<consumer_group>(group);
    spdlog::info("group {}: now a consumer (KIP-848) group", group);
  }
  const config& cfg = _owner.cfg();
  consumer_group_settings settings;
  settings.session_timeout_ms = cfg.group_consumer_session_timeout_ms;
  settings.heartbeat_interval_ms = cfg.group_consumer_heartbeat_interval_ms;
  settings.max_size = cfg.group_max_size;
  auto r = e->consumer->heartbeat(req, topics, settings, at(steady_now_ms()));
  persist_consumer(*e);
  return r;
}

void shard_groups::persist_consumer(group_entry& e) {
  if (!e.consumer) return;
  consumer_group& g = *e.consumer;
  if (!g.empty()) {
    g.empty_since_wall_ms = 0;
  } else if (g.empty_since_wall_ms == 0) {
    g.empty_since_wall_ms = wall_now_ms();
  }
  std::string record = encode_consumer_record(g.snapshot(), g.empty_since_wall_ms);
  if (record == e.consumer_record) return;
  e.consumer_record = record;
  meta::write_batch b;
  b.put(meta::cf::groups, meta::group_key(e.id), std::move(record));
  _owner.writer().submit(std::move(b), [id = e.id](std::error_code ec) {
    if (ec) spdlog::error("group {}: cannot write its record: {}", id, ec.message());
  });
}

const consumer_group* shard_groups::find_consumer_group(const std::string& group) const {
  auto it = _groups.find(group);
  return it == _groups.end() ? nullptr : it->second.consumer.get();
}

void shard_groups::tick_consumer_groups(int64_t now_ms) {
  std::vector<std::string> drop;
  for (auto& [id, e] : _groups) {
    if (!e.consumer) continue;
    auto next = e.consumer->next_deadline();
    if (next && *next <= at(now_ms)) {
      for (const auto& m : e.consumer->expire(at(now_ms))) {
        spdlog::info("group {}: member {} expired (session or rebalance timeout)", id, m);
      }
      persist_consumer(e);
    }
    // An Empty consumer group without offsets holds nothing worth keeping.
    if (e.consumer->empty() && e.offsets.empty()) drop.push_back(id);
  }
  for (const auto& id : drop) {
    if (!_groups[id].consumer_record.empty()) {
      meta::write_batch b;
      b.del(meta::cf::groups, meta::group_key(id));
      _owner.writer().submit(std::move(b), [id](std::error_code ec) {
        if (ec) spdlog::error("group {}: cannot delete its record: {}", id, ec.message());
      });
    }
    _groups.erase(id);
  }
}

}  // namespace sluice::coordinator
