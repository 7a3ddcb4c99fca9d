// OffsetForLeaderEpoch (key 23, v2-4): Sluice has a single leader epoch, 0, so any epoch >= 0
// ends at the log end offset (answered as leader_epoch 0 on the partition's owner shard); a
// negative epoch is UNDEFINED (-1, -1). current_leader_epoch above 0 is UNKNOWN_LEADER_EPOCH
// (the client knows a newer leader than we are); unknown partitions are
// UNKNOWN_TOPIC_OR_PARTITION.

#include "kafka/offset_for_leader_epoch.h"

#include <memory>

#include "src/broker/broker.h"
#include "src/broker/handler.h"
#include "src/broker/partitions.h"

namespace sluice::broker {
namespace {

using kafka::offset_for_leader_epoch_request;
using kafka::offset_for_leader_epoch_response;
using epoch_end_offset =
    offset_for_leader_epoch_response::offset_for_leader_topic_result::epoch_end_offset;

struct epoch_state {
  explicit epoch_state(responder<offset_for_leader_epoch_response> r) : reply(std::move(r)) {}
  offset_for_leader_epoch_response resp;
  size_t pending = 1;
  responder<offset_for_leader_epoch_response> reply;
  void one_done() {
    if (--pending == 0) reply(std::move(resp));
  }
};

void handle(request_context& ctx, offset_for_leader_epoch_request& req,
            responder<offset_for_leader_epoch_response> reply) {
  broker& b = ctx.owner;
  const unsigned home = ctx.conn.shard;
  auto topics = b.topics().snapshot();
  auto state = std::make_shared<epoch_state>(std::move(reply));
  state->resp.topics.reserve(req.topics.size());
  for (const auto& t : req.topics) {
    auto& tr = state->resp.topics.emplace_back();
    tr.topic = t.topic;
    tr.partitions.reserve(t.partitions.size());
    auto it = topics->find(t.topic);
    for (const auto& p : t.partitions) {
      epoch_end_offset& pr = tr.partitions.emplace_back();
      pr.partition = p.partition;
      if (it == topics->end() || p.partition < 0 || p.partition >= it->second->partitions) {
        pr.error_code = kafka::code(kafka::error::unknown_topic_or_partition);
        continue;
      }
      if (p.current_leader_epoch > 0) {
        pr.error_code = kafka::code(kafka::error::unknown_leader_epoch);
        continue;
      }
      if (p.leader_epoch < 0) continue;  // UNDEFINED_EPOCH / UNDEFINED_EPOCH_OFFSET
      ++state->pending;
      b.with_partition(
          home, it->second, p.partition,
          [index = p.partition](result<partition*> part) {
            epoch_end_offset out;
            out.partition = index;
            if (!part) {
              out.error_code = kafka::code(lookup_error(part.error()));
            } else {
              out.leader_epoch = 0;
              out.end_offset = part.value()->log().log_end_offset();
            }
            return out;
          },
          [state, slot = &pr](epoch_end_offset out) {
            *slot = std::move(out);
            state->one_done();
          });
    }
  }
  state->one_done();
}

}  // namespace

extern const handler offset_for_leader_epoch_handler = {
    offset_for_leader_epoch_request::api_key, 2, 4,
    &typed_handle<offset_for_leader_epoch_request, offset_for_leader_epoch_response, &handle>};

}  // namespace sluice::broker
