// DescribeTransactions (key 65, v0): the coordinator's state of each transactional id asked
// for: state name (Kafka's: Empty, Ongoing, PrepareCommit, ...), timeout, start time (-1 when no
// transaction is open), producer id and epoch, and the partitions of the open transaction.
// Unknown ids are TRANSACTIONAL_ID_NOT_FOUND.

#include "kafka/describe_transactions.h"

#include <optional>

#include "src/broker/fan_out.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::describe_transactions_request;
using kafka::describe_transactions_response;
using found = std::optional<coordinator::transaction>;

void handle(request_context& ctx, describe_transactions_request& req,
            responder<describe_transactions_response> reply) {
  auto g =
      fan_out<describe_transactions_response>::start(ctx.owner, ctx.conn.shard, std::move(reply));
  g->value.transaction_states.resize(req.transactional_ids.size());
  for (size_t i = 0; i < req.transactional_ids.size(); ++i) {
    auto& out = g->value.transaction_states[i];
    out.transactional_id = req.transactional_ids[i];
    if (!ctx.owner.has_txns()) {
      out.error_code = kafka::code(kafka::error::coordinator_not_available);
      continue;
    }
    ctx.owner.txns().call<found>(
        ctx.conn.shard, out.transactional_id,
        [id = out.transactional_id](coordinator::shard_txns& s, std::function<void(found)> done) {
          const coordinator::transaction* t = s.find(id);
          done(t == nullptr ? found() : found(*t));
        },
        g->answer([&out](auto&, found t) {
          if (!t) {
            out.error_code = kafka::code(kafka::error::transactional_id_not_found);
          } else {
            out.transaction_state = std::string(coordinator::txn_state_name(t->state));
            out.transaction_timeout_ms = t->timeout_ms;
            out.transaction_start_time_ms = t->start_ms;
            out.producer_id = t->producer_id;
            out.producer_epoch = t->epoch;
            for (const auto& [topic, p] : t->partitions) {  // ordered by topic
              if (out.topics.empty() || out.topics.back().topic != topic) {
                out.topics.emplace_back().topic = topic;
              }
              out.topics.back().partitions.push_back(p);
            }
          }
        }));
  }
  g->seal();
}

}  // namespace

extern const handler describe_transactions_handler = {
    describe_transactions_request::api_key, 0, 0,
    &typed_handle<describe_transactions_request, describe_transactions_response, &handle>};

}  // namespace sluice::broker
