// ListOffsets (key 2, v1-10): earliest (-2), latest (-1), max timestamp (-3, KIP-734), earliest
// local (-4) and offsets by timestamp (the segments' time indexes). Answered per partition on its
// owner shard.

#include "kafka/list_offsets.h"

#include <memory>

#include "src/broker/broker.h"
#include "src/broker/handler.h"
#include "src/broker/partitions.h"

namespace sluice::broker {
namespace {

using kafka::list_offsets_request;
using kafka::list_offsets_response;

struct offsets_state {
  explicit offsets_state(responder<list_offsets_response> r) : reply(std::move(r)) {}
  list_offsets_response resp;
  size_t pending = 1;
  responder<list_offsets_response> reply;
  void one_done() {
    if (--pending == 0) reply(std::move(resp));
  }
};

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
  broker& b = ctx.owner;
  auto state = std::make_shared<offsets_state>(std::move(reply));
  auto topics = b.topics().snapshot();
  const unsigned home = ctx.conn.shard;
  state->resp.topics.reserve(req.topics.size());
  for (const auto& t : req.topics) {
    auto& tr = state->resp.topics.emplace_back();
    tr.name = t.name;
    tr.partitions.reserve(t.partitions.size());
    auto it = topics->find(t.name);
    for (const auto& p : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = p.partition_index;
      if (it == topics->end() || p.partition_index < 0 ||
          p.partition_index >= it->second->partitions) {
        pr.error_code = kafka::code(kafka::error::unknown_topic_or_partition);
        continue;
      }
      ++state->pending;
      b.with_partition(
          home, it->second, p.partition_index,
          [index = p.partition_index, ts = p.timestamp](result<partition*> part) {
            list_offsets_response::list_offsets_topic_response::list_offsets_partition_response out;
            out.partition_index = index;
            if (!part) {
              out.error_code = kafka::code(lookup_error(part.error()));
            } else {
              lookup(*part.value(), ts, out);
            }
            return out;
          },
          [state, slot = &pr](auto out) {
            *slot = std::move(out);
            state->one_done();
          });
    }
  }
  state->one_done();
}

}  // namespace

extern const handler list_offsets_handler = {
    list_offsets_request::api_key, 1, 10,
    &typed_handle<list_offsets_request, list_offsets_response, &handle>};

}  // namespace sluice::broker
