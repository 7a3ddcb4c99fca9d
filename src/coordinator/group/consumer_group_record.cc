#include "src/coordinator/group/consumer_group_record.h"

#include <algorithm>

#include "proto/sluice/meta.pb.h"

namespace sluice::coordinator {
namespace {

using pb_record = meta::GroupRecord;

void put(const topic_assignment& a,
         google::protobuf::RepeatedPtrField<pb_record::TopicPartitions>* out) {
  for (const auto& [t, parts] : a) {
    auto* tp = out->Add();
    tp->set_topic_id(std::string(t.begin(), t.end()));
    for (int32_t p : parts) tp->add_partitions(p);
  }
}

bool get_id(const std::string& bytes, topic_id& id) {
  if (bytes.size() != id.size()) return false;
  std::copy(bytes.begin(), bytes.end(), id.begin());
  return true;
}

bool get(const google::protobuf::RepeatedPtrField<pb_record::TopicPartitions>& in,
         topic_assignment& out) {
  for (const auto& tp : in) {
    topic_id id;
    if (!get_id(tp.topic_id(), id)) return false;
    auto& parts = out[id];
    parts.insert(tp.partitions().begin(), tp.partitions().end());
  }
  return true;
}

}  // namespace

std::string encode_consumer_record(const consumer_group_snapshot& s, int64_t empty_since_ms) {
  pb_record r;
  r.set_kind(pb_record::CONSUMER);
  r.set_protocol_type("consumer");
  r.set_empty_since_ms(empty_since_ms);
  r.set_group_epoch(s.group_epoch);
  r.set_assignment_epoch(s.assignment_epoch);
  for (const auto& sm : s.members) {
    const consumer_member& m = sm.m;
    auto* pm = r.add_consumer_members();
    pm->set_id(m.member_id);
    if (m.instance_id) pm->set_instance_id(*m.instance_id);
    if (m.rack_id) pm->set_rack_id(*m.rack_id);
    pm->set_client_id(m.client_id);
    pm->set_client_host(m.client_host);
    pm->set_rebalance_timeout_ms(m.rebalance_timeout_ms);
    for (const auto& n : m.subscribed_topic_names) pm->add_subscribed_topic_names(n);
    if (m.subscribed_topic_regex) pm->set_subscribed_topic_regex(*m.subscribed_topic_regex);
    if (m.server_assignor) pm->set_server_assignor(*m.server_assignor);
    pm->set_member_epoch(m.current.member_epoch);
    pm->set_previous_member_epoch(m.current.previous_member_epoch);
    pm->set_state(static_cast<int32_t>(m.current.state));
    put(m.current.assigned, pm->mutable_assigned());
    put(m.current.pending_revocation, pm->mutable_pending_revocation());
    put(sm.target, pm->mutable_target());
  }
  for (const auto& [name, meta] : s.subscription_metadata) {
    auto* t = r.add_subscription_metadata();
    t->set_name(name);
    t->set_topic_id(std::string(meta.first.begin(), meta.first.end()));
    t->set_partitions(meta.second);
  }
  return r.SerializeAsString();
}

bool is_consumer_record(std::string_view v) {
  pb_record r;
  return r.ParseFromArray(v.data(), static_cast<int>(v.size())) && r.kind() == pb_record::CONSUMER;
}

bool decode_consumer_record(std::string_view v, consumer_group_snapshot& s,
                            int64_t& empty_since_ms) {
  pb_record r;
  if (!r.ParseFromArray(v.data(), static_cast<int>(v.size())) || r.kind() != pb_record::CONSUMER) {
    return false;
  }
  empty_since_ms = r.empty_since_ms();
  s.group_epoch = r.group_epoch();
  s.assignment_epoch = r.assignment_epoch();
  for (const auto& pm : r.consumer_members()) {
    consumer_group_snapshot::member sm;
    consumer_member& m = sm.m;
    m.member_id = pm.id();
    if (pm.has_instance_id()) m.instance_id = pm.instance_id();
    if (pm.has_rack_id()) m.rack_id = pm.rack_id();
    m.client_id = pm.client_id();
    m.client_host = pm.client_host();
    m.rebalance_timeout_ms = pm.rebalance_timeout_ms();
    m.subscribed_topic_names.assign(pm.subscribed_topic_names().begin(),
                                    pm.subscribed_topic_names().end());
    if (pm.has_subscribed_topic_regex()) m.subscribed_topic_regex = pm.subscribed_topic_regex();
    if (pm.has_server_assignor()) m.server_assignor = pm.server_assignor();
    m.current.member_epoch = pm.member_epoch();
    m.current.previous_member_epoch = pm.previous_member_epoch();
    if (pm.state() < 0 || pm.state() > static_cast<int32_t>(member_state::unreleased_partitions)) {
      return false;
    }
    m.current.state = static_cast<member_state>(pm.state());
    if (!get(pm.assigned(), m.current.assigned) ||
        !get(pm.pending_revocation(), m.current.pending_revocation) ||
        !get(pm.target(), sm.target)) {
      return false;
    }
    s.members.push_back(std::move(sm));
  }
  for (const auto& t : r.subscription_metadata()) {
    topic_id id;
    if (!get_id(t.topic_id(), id)) return false;
    s.subscription_metadata[t.name()] = {id, t.partitions()};
  }
  return true;
}

}  // namespace sluice::coordinator
