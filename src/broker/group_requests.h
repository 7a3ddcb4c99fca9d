#pragma once
// What the group handlers share: the member's client id and host as Kafka reports them, the
// authorized operations of a group, the coordinator's byte strings, and the gathering of
// offsets to commit (OffsetCommit, TxnOffsetCommit). The group logic itself
// lives in src/coordinator/group.
//
// Thread safety: pure functions.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "src/broker/handler.h"
#include "src/broker/topic_manager.h"
#include "src/coordinator/group/group_manager.h"

namespace sluice::broker {

// authorized_operations of a group (DescribeGroups v3+, ConsumerGroupDescribe): a bit per Kafka
// AclOperation code allowed, READ (3), DELETE (6), DESCRIBE (8) being every operation Kafka
// defines on a group. Sluice has no ACLs yet, so all of them.
inline constexpr int32_t kAllGroupOperations = (1 << 3) | (1 << 6) | (1 << 8);

inline std::string client_id_of(const request_context& ctx) {
  return ctx.header.client_id.value_or("");
}

// Kafka's form: "/" and the peer address without the port.
inline std::string client_host_of(const request_context& ctx) {
  const std::string& p = ctx.conn.peer;
  auto colon = p.rfind(':');
  std::string host = colon == std::string::npos ? p : p.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return "/" + host;
}

// OffsetCommit and TxnOffsetCommit requests: one response partition per requested partition
// (UNKNOWN_TOPIC_OR_PARTITION where the topic table has none), and the rest as entries of `c`.
// Returns the response partitions those entries answer, in the entries' order.
template <class ReqTopics, class RespTopics>
auto gather_offsets(const topic_map& topics, const ReqTopics& req_topics, RespTopics& resp_topics,
                    coordinator::offset_commit_request& c) {
  using resp_partition = typename decltype(RespTopics::value_type::partitions)::value_type;
  std::vector<resp_partition*> slots;
  resp_topics.reserve(req_topics.size());
  for (const auto& t : req_topics) {
    auto& rt = resp_topics.emplace_back();
    rt.name = t.name;
    rt.partitions.reserve(t.partitions.size());
    for (const auto& p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.partition_index = p.partition_index;
      if (!find_partition(topics, t.name, p.partition_index)) {
        rp.error_code = kafka::code(kafka::error::unknown_topic_or_partition);
        continue;
      }
      slots.push_back(&rp);
      c.offsets.push_back(
          {t.name,
           p.partition_index,
           {p.committed_offset, p.committed_leader_epoch, p.committed_metadata.value_or(""), 0}});
    }
  }
  return slots;
}

// The completion of a commit gathered with gather_offsets: the coordinator's error for each
// entry into its response partition, then the reply.
template <class Resp, class Slot>
auto answer_offsets(responder<Resp> reply, std::shared_ptr<Resp> resp, std::vector<Slot*> slots) {
  return [reply = std::move(reply), resp = std::move(resp),
          slots = std::move(slots)](std::vector<kafka::error> errs) {
    for (size_t i = 0; i < slots.size() && i < errs.size(); ++i) {
      slots[i]->error_code = kafka::code(errs[i]);
    }
    reply(std::move(*resp));
  };
}

}  // namespace sluice::broker
