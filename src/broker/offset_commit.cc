// OffsetCommit (key 8, v0-9): committed offsets with their metadata string and leader epoch,
// checked against the group's generation and member (Kafka's rules, src/coordinator/group) and
// acknowledged only once the metadata store has synced them. Partitions of unknown topics get
// UNKNOWN_TOPIC_OR_PARTITION, as in Kafka.

#include "kafka/offset_commit.h"

#include <memory>

#include "src/broker/broker.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::offset_commit_request;
using kafka::offset_commit_response;

void handle(request_context& ctx, offset_commit_request& req,
            responder<offset_commit_response> reply) {
  auto topics = ctx.owner.topics().snapshot();
  // The response, with per-partition errors filled in where known now; `slots` point at the
  // partitions that go to the coordinator, in the order of its entries.
  auto resp = std::make_shared<offset_commit_response>();
  std::vector<
      offset_commit_response::offset_commit_response_topic::offset_commit_response_partition*>
      slots;
  coordinator::offset_commit_request c;
  c.member_id = req.member_id;
  c.instance_id = req.group_instance_id;
  c.generation = ctx.version() >= 1 ? req.generation_id_or_member_epoch : -1;
  c.api_version = ctx.version();
  resp->topics.reserve(req.topics.size());
  for (auto& t : req.topics) {
    auto& rt = resp->topics.emplace_back();
    rt.name = t.name;
    rt.partitions.reserve(t.partitions.size());
    auto it = topics->find(t.name);
    for (auto& p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.partition_index = p.partition_index;
      if (it == topics->end() || p.partition_index < 0 ||
          p.partition_index >= it->second->partitions) {
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
  if (c.offsets.empty()) return reply(std::move(*resp));
  ctx.owner.groups().call<std::vector<kafka::error>>(
      ctx.conn.shard, req.group_id,
      [group = req.group_id, c = std::move(c)](
          coordinator::shard_groups& sg,
          std::function<void(std::vector<kafka::error>)> done) mutable {
        sg.commit(group, std::move(c), std::move(done));
      },
      [reply, resp, slots = std::move(slots)](std::vector<kafka::error> errs) {
        for (size_t i = 0; i < slots.size() && i < errs.size(); ++i) {
          slots[i]->error_code = kafka::code(errs[i]);
        }
        reply(std::move(*resp));
      });
}

}  // namespace

extern const handler offset_commit_handler = {
    offset_commit_request::api_key, 0, 9,
    &typed_handle<offset_commit_request, offset_commit_response, &handle>};

}  // namespace sluice::broker
