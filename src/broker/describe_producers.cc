// DescribeProducers (key 61, v0): the idempotent and transactional producers a partition
// remembers (src/storage/producer_state.h), for operators: id, epoch, last sequence, time of the
// last batch, coordinator epoch and the first offset of an open transaction. Answered per
// partition on its owner shard; unknown partitions are UNKNOWN_TOPIC_OR_PARTITION.

#include "kafka/describe_producers.h"

#include <algorithm>
#include <memory>

#include "src/broker/broker.h"
#include "src/broker/handler.h"
#include "src/broker/partitions.h"

namespace sluice::broker {
namespace {

using kafka::describe_producers_request;
using kafka::describe_producers_response;
using partition_response = describe_producers_response::topic_response::partition_response;

struct producers_state {
  explicit producers_state(responder<describe_producers_response> r) : reply(std::move(r)) {}
  describe_producers_response resp;
  size_t pending = 1;
  responder<describe_producers_response> reply;
  void one_done() {
    if (--pending == 0) reply(std::move(resp));
  }
};

partition_response describe(const storage::producer_state& s, int32_t index) {
  partition_response out;
  out.partition_index = index;
  std::vector<int64_t> ids;
  for (const auto& [id, e] : s.producers()) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (int64_t id : ids) {
    const storage::producer_entry& e = *s.find(id);
    auto& p = out.active_producers.emplace_back();
    p.producer_id = id;
    p.producer_epoch = e.epoch;
    p.last_sequence = e.last_seq();
    p.last_timestamp = e.batches.empty() ? -1 : e.batches.back().timestamp;
    p.coordinator_epoch = e.coordinator_epoch;
    p.current_txn_start_offset = e.txn_first_offset;
  }
  return out;
}

void handle(request_context& ctx, describe_producers_request& req,
            responder<describe_producers_response> reply) {
  broker& b = ctx.owner;
  auto state = std::make_shared<producers_state>(std::move(reply));
  auto topics = b.topics().snapshot();
  const unsigned home = ctx.conn.shard;
  // Completions write into these slots by pointer: reserve so they never move.
  state->resp.topics.reserve(req.topics.size());
  for (const auto& t : req.topics) {
    auto& tr = state->resp.topics.emplace_back();
    tr.name = t.name;
    tr.partitions.reserve(t.partition_indexes.size());
    auto it = topics->find(t.name);
    for (int32_t index : t.partition_indexes) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = index;
      if (it == topics->end() || index < 0 || index >= it->second->partitions) {
        pr.error_code = kafka::code(kafka::error::unknown_topic_or_partition);
        continue;
      }
      ++state->pending;
      b.with_partition(
          home, it->second, index,
          [index](result<partition*> part) {
            if (!part) {
              partition_response out;
              out.partition_index = index;
              out.error_code = kafka::code(part.error() == errc::not_found
                                               ? kafka::error::unknown_topic_or_partition
                                               : kafka::error::kafka_storage_error);
              return out;
            }
            return describe(part.value()->producers, index);
          },
          [state, slot = &pr](partition_response out) {
            *slot = std::move(out);
            state->one_done();
          });
    }
  }
  state->one_done();
}

}  // namespace

extern const handler describe_producers_handler = {
    describe_producers_request::api_key, 0, 0,
    &typed_handle<describe_producers_request, describe_producers_response, &handle>};

}  // namespace sluice::broker
