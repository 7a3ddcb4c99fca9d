// DescribeProducers (key 61, v0): the idempotent and transactional producers a partition
// remembers (src/storage/producer_state.h), for operators: id, epoch, last sequence, time of the
// last batch, coordinator epoch and the first offset of an open transaction. Answered per
// partition on its owner shard; unknown partitions are UNKNOWN_TOPIC_OR_PARTITION.

#include "kafka/describe_producers.h"

#include <algorithm>

#include "src/broker/fan_out.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::describe_producers_request;
using kafka::describe_producers_response;
using partition_response = describe_producers_response::topic_response::partition_response;

void describe(partition& p, partition_response& out) {
  const storage::producer_state& s = p.producers;
  std::vector<int64_t> ids;
  for (const auto& [id, e] : s.producers()) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (int64_t id : ids) {
    const storage::producer_entry& e = *s.find(id);
    auto& a = out.active_producers.emplace_back();
    a.producer_id = id;
    a.producer_epoch = e.epoch;
    a.last_sequence = e.last_seq();
    a.last_timestamp = e.batches.empty() ? -1 : e.batches.back().timestamp;
    a.coordinator_epoch = e.coordinator_epoch;
    a.current_txn_start_offset = e.txn_first_offset;
  }
}

void handle(request_context& ctx, describe_producers_request& req,
            responder<describe_producers_response> reply) {
  auto g = fan_out<describe_producers_response>::start(ctx.owner, ctx.conn.shard, std::move(reply));
  auto topics = ctx.owner.topics().snapshot();
  g->value.topics.reserve(req.topics.size());
  for (const auto& t : req.topics) {
    auto& tr = g->value.topics.emplace_back();
    tr.name = t.name;
    tr.partitions.reserve(t.partition_indexes.size());
    for (int32_t index : t.partition_indexes) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = index;
      g->on_partition(find_partition(*topics, t.name, index), index, pr, &describe);
    }
  }
  g->seal();
}

}  // namespace

extern const handler describe_producers_handler = {
    describe_producers_request::api_key, 0, 0,
    &typed_handle<describe_producers_request, describe_producers_response, &handle>};

}  // namespace sluice::broker
