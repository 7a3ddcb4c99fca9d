// OffsetForLeaderEpoch (key 23, v2-4): Sluice has a single leader epoch, 0, so any epoch >= 0
// ends at the log end offset (answered as leader_epoch 0 on the partition's owner shard); a
// negative epoch is UNDEFINED (-1, -1). current_leader_epoch above 0 is UNKNOWN_LEADER_EPOCH
// (the client knows a newer leader than we are); unknown partitions are
// UNKNOWN_TOPIC_OR_PARTITION.

#include "kafka/offset_for_leader_epoch.h"

#include "src/broker/fan_out.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::offset_for_leader_epoch_request;
using kafka::offset_for_leader_epoch_response;
using epoch_end_offset =
    offset_for_leader_epoch_response::offset_for_leader_topic_result::epoch_end_offset;

void handle(request_context& ctx, offset_for_leader_epoch_request& req,
            responder<offset_for_leader_epoch_response> reply) {
  auto g =
      fan_out<offset_for_leader_epoch_response>::start(ctx.owner, ctx.conn.shard, std::move(reply));
  auto topics = ctx.owner.topics().snapshot();
  g->value.topics.reserve(req.topics.size());
  for (const auto& t : req.topics) {
    auto& tr = g->value.topics.emplace_back();
    tr.topic = t.topic;
    tr.partitions.reserve(t.partitions.size());
    for (const auto& p : t.partitions) {
      epoch_end_offset& pr = tr.partitions.emplace_back();
      pr.partition = p.partition;
      auto topic = find_partition(*topics, t.topic, p.partition);
      if (topic && p.current_leader_epoch > 0) {
        pr.error_code = kafka::code(kafka::error::unknown_leader_epoch);
        continue;
      }
      if (topic && p.leader_epoch < 0) continue;  // UNDEFINED_EPOCH / UNDEFINED_EPOCH_OFFSET
      g->on_partition(std::move(topic), p.partition, pr, [](partition& part, auto& out) {
        out.leader_epoch = 0;
        out.end_offset = part.log().log_end_offset();
      });
    }
  }
  g->seal();
}

}  // namespace

extern const handler offset_for_leader_epoch_handler = {
    offset_for_leader_epoch_request::api_key, 2, 4,
    &typed_handle<offset_for_leader_epoch_request, offset_for_leader_epoch_response, &handle>};

}  // namespace sluice::broker
