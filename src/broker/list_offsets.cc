// ListOffsets (key 2, v1-10): earliest (-2), latest (-1), max timestamp (-3, KIP-734), earliest
// local (-4) and offsets by timestamp (the segments' time indexes). Answered per partition on its
// owner shard.

#include "kafka/list_offsets.h"

#include "src/broker/fan_out.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::list_offsets_request;
using kafka::list_offsets_response;

void lookup(
    partition& p, int64_t timestamp,
    list_offsets_response::list_offsets_topic_response::list_offsets_partition_response& out) {
  // -1 latest, -2 earliest, -3 max timestamp (KIP-734), -4 earliest local, T >= 0 by time.
  auto found = p.log().offset_for_time(timestamp);
  if (!found) {
    out.error_code =
        kafka::code(found.error() == errc::invalid_data ? kafka::error::invalid_request
                                                        : kafka::error::kafka_storage_error);
    return;
  }
  out.offset = found.value().offset;
  out.timestamp = found.value().timestamp;
  out.leader_epoch = 0;
}

void handle(request_context& ctx, list_offsets_request& req,
            responder<list_offsets_response> reply) {
  auto g = fan_out<list_offsets_response>::start(ctx.owner, ctx.conn.shard, std::move(reply));
  auto topics = ctx.owner.topics().snapshot();
  g->value.topics.reserve(req.topics.size());
  for (const auto& t : req.topics) {
    auto& tr = g->value.topics.emplace_back();
    tr.name = t.name;
    tr.partitions.reserve(t.partitions.size());
    for (const auto& p : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = p.partition_index;
      g->on_partition(find_partition(*topics, t.name, p.partition_index), p.partition_index, pr,
                      [ts = p.timestamp](partition& part, auto& out) { lookup(part, ts, out); });
    }
  }
  g->seal();
}

}  // namespace

extern const handler list_offsets_handler = {
    list_offsets_request::api_key, 1, 10,
    &typed_handle<list_offsets_request, list_offsets_response, &handle>};

}  // namespace sluice::broker
