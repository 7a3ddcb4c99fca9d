// AddPartitionsToTxn (key 24, v0-5): adds partitions to a producer's ongoing transaction
// (src/coordinator/txn), durably, before the producer writes to them. v0-3 carry one
// transaction; v4+ a batch, each with verify_only (answer whether the partitions are already
// in the transaction, INVALID_TXN_STATE if not, and change nothing), as Kafka's brokers use it.
//
// Kafka's per-partition answers: an unknown partition is UNKNOWN_TOPIC_OR_PARTITION and the
// others of that transaction OPERATION_NOT_ATTEMPTED; otherwise every partition gets the
// coordinator's answer (INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED — INVALID_PRODUCER_EPOCH
// below v2 — CONCURRENT_TRANSACTIONS while the previous transaction completes).

#include "kafka/add_partitions_to_txn.h"

#include "src/broker/fan_out.h"
#include "src/broker/handler.h"
#include "src/broker/txn_requests.h"

namespace sluice::broker {
namespace {

using kafka::add_partitions_to_txn_request;
using kafka::add_partitions_to_txn_response;
using topic_req = add_partitions_to_txn_request::add_partitions_to_txn_topic;
using topic_result = add_partitions_to_txn_response::add_partitions_to_txn_topic_result;

struct txn_ask {
  std::string id;
  int64_t producer_id = -1;
  int16_t epoch = -1;
  bool verify_only = false;
  std::vector<coordinator::topic_partition> partitions;
};

// Fills `out` with one result per partition of `topics`: `err` for all (per_partition null), or
// per_partition's answers in order.
void fill(std::vector<topic_result>& out, const std::vector<topic_req>& topics, kafka::error err,
          const std::vector<kafka::error>* per_partition = nullptr) {
  out.clear();
  size_t i = 0;
  for (const auto& t : topics) {
    auto& tr = out.emplace_back();
    tr.name = t.name;
    for (int32_t p : t.partitions) {
      auto& pr = tr.results_by_partition.emplace_back();
      pr.partition_index = p;
      pr.partition_error_code = kafka::code(per_partition != nullptr ? (*per_partition)[i++] : err);
    }
  }
}

void handle(request_context& ctx, add_partitions_to_txn_request& req,
            responder<add_partitions_to_txn_response> reply) {
  const bool old = ctx.version() < 2;
  auto g =
      fan_out<add_partitions_to_txn_response>::start(ctx.owner, ctx.conn.shard, std::move(reply));
  std::vector<std::vector<topic_result>*> slots;  // one per transaction
  // The transactions asked about, as (ask, its topics) pairs.
  std::vector<std::pair<txn_ask, const std::vector<topic_req>*>> asks;
  if (ctx.version() <= 3) {
    asks.push_back({{req.v3_and_below_transactional_id,
                     req.v3_and_below_producer_id,
                     req.v3_and_below_producer_epoch,
                     false,
                     {}},
                    &req.v3_and_below_topics});
    slots.push_back(&g->value.results_by_topic_v3_and_below);
  } else {
    g->value.results_by_transaction.resize(req.transactions.size());
    for (size_t i = 0; i < req.transactions.size(); ++i) {
      const auto& t = req.transactions[i];
      asks.push_back(
          {{t.transactional_id, t.producer_id, t.producer_epoch, t.verify_only, {}}, &t.topics});
      g->value.results_by_transaction[i].transactional_id = t.transactional_id;
      slots.push_back(&g->value.results_by_transaction[i].topic_results);
    }
  }
  auto topics = ctx.owner.topics().snapshot();
  for (size_t i = 0; i < asks.size(); ++i) {
    auto& [ask, req_topics] = asks[i];
    std::vector<kafka::error> known;
    bool any_unknown = false;
    for (const auto& t : *req_topics) {
      for (int32_t p : t.partitions) {
        const bool ok = find_partition(*topics, t.name, p) != nullptr;
        any_unknown |= !ok;
        known.push_back(ok ? kafka::error::operation_not_attempted
                           : kafka::error::unknown_topic_or_partition);
        ask.partitions.emplace_back(t.name, p);
      }
    }
    if (any_unknown) {
      fill(*slots[i], *req_topics, kafka::error::none, &known);
      continue;
    }
    if (!ctx.owner.has_txns()) {
      fill(*slots[i], *req_topics, kafka::error::coordinator_not_available);
      continue;
    }
    // The request dies when this returns: the answer is shaped from a copy of its topics.
    auto deliver = g->answer(
        [slot = slots[i], req_topics = *req_topics, old](auto&, std::vector<kafka::error> errs) {
          for (auto& e : errs) e = fenced_for(e, old);
          fill(*slot, req_topics, kafka::error::none, &errs);
        });
    const std::string id = ask.id;  // `ask` moves into the call below
    ctx.owner.txns().call<std::vector<kafka::error>>(
        ctx.conn.shard, id,
        [ask = std::move(ask)](coordinator::shard_txns& s,
                               std::function<void(std::vector<kafka::error>)> done) {
          if (ask.verify_only) {
            std::vector<kafka::error> out;
            for (const auto& tp : ask.partitions) {
              out.push_back(s.verify_partition(ask.id, ask.producer_id, ask.epoch, tp));
            }
            return done(std::move(out));
          }
          const size_t n = ask.partitions.size();
          s.add_partitions(ask.id, ask.producer_id, ask.epoch, ask.partitions,
                           [done, n](kafka::error e) { done(std::vector<kafka::error>(n, e)); });
        },
        std::move(deliver));
  }
  g->seal();
}

}  // namespace

extern const handler add_partitions_to_txn_handler = {
    add_partitions_to_txn_request::api_key, 0, 5,
    &typed_handle<add_partitions_to_txn_request, add_partitions_to_txn_response, &handle>};

}  // namespace sluice::broker
