// OffsetCommit (key 8, v0-9): committed offsets with their metadata string and leader epoch,
// checked against the group's generation and member (Kafka's rules, src/coordinator/group) and
// acknowledged only once the metadata store has synced them. Partitions of unknown topics get
// UNKNOWN_TOPIC_OR_PARTITION, as in Kafka.

#include "kafka/offset_commit.h"

#include <memory>

#include "src/broker/broker.h"
#include "src/broker/group_requests.h"
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
  coordinator::offset_commit_request c;
  c.member_id = req.member_id;
  c.instance_id = req.group_instance_id;
  c.generation = ctx.version() >= 1 ? req.generation_id_or_member_epoch : -1;
  c.api_version = ctx.version();
  auto slots = gather_offsets(*topics, req.topics, resp->topics, c);
  if (c.offsets.empty()) return reply(std::move(*resp));
  ctx.owner.groups().call<std::vector<kafka::error>>(
      ctx.conn.shard, req.group_id,
      [group = req.group_id, c = std::move(c)](
          coordinator::shard_groups& sg,
          std::function<void(std::vector<kafka::error>)> done) mutable {
        sg.commit(group, std::move(c), std::move(done));
      },
      answer_offsets(std::move(reply), std::move(resp), std::move(slots)));
}

}  // namespace

extern const handler offset_commit_handler = {
    offset_commit_request::api_key, 0, 9,
    &typed_handle<offset_commit_request, offset_commit_response, &handle>};

}  // namespace sluice::broker
