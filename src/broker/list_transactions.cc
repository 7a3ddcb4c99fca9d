// ListTransactions (key 66, v0-1): every transactional id the coordinator knows, filtered by
// state names (exact, as Kafka; names it does not know come back in unknown_state_filters), by
// producer id, and (v1) by duration: only transactions open for longer than that many ms.

#include "kafka/list_transactions.h"

#include <algorithm>
#include <chrono>

#include "src/broker/broker.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::list_transactions_request;
using kafka::list_transactions_response;
using listing = std::vector<coordinator::transaction>;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void handle(request_context& ctx, list_transactions_request& req,
            responder<list_transactions_response> reply) {
  list_transactions_response resp;
  std::vector<coordinator::txn_state> states;
  for (const auto& f : req.state_filters) {
    if (auto s = coordinator::parse_txn_state(f)) {
      states.push_back(*s);
    } else {
      resp.unknown_state_filters.push_back(f);
    }
  }
  if (!ctx.owner.has_txns()) return reply(std::move(resp));
  // Only unknown names: nothing can match (Kafka answers an empty list too).
  if (states.empty() && !req.state_filters.empty()) return reply(std::move(resp));
  ctx.owner.txns().call_all<listing>(
      ctx.conn.shard, [](coordinator::shard_txns& s) { return s.all(); },
      [reply, resp = std::move(resp), states = std::move(states),
       pids = std::move(req.producer_id_filters),
       duration = ctx.version() >= 1 ? req.duration_filter : -1](std::vector<listing> all) mutable {
        const int64_t now = wall_ms();
        for (auto& shard : all) {
          for (auto& t : shard) {
            if (!states.empty() && std::find(states.begin(), states.end(), t.state) == states.end())
              continue;
            if (!pids.empty() && std::find(pids.begin(), pids.end(), t.producer_id) == pids.end())
              continue;
            if (duration >= 0 && (t.start_ms < 0 || now - t.start_ms <= duration)) continue;
            auto& o = resp.transaction_states.emplace_back();
            o.transactional_id = t.id;
            o.producer_id = t.producer_id;
            o.transaction_state = std::string(coordinator::txn_state_name(t.state));
          }
        }
        reply(std::move(resp));
      });
}

}  // namespace

extern const handler list_transactions_handler = {
    list_transactions_request::api_key, 0, 1,
    &typed_handle<list_transactions_request, list_transactions_response, &handle>};

}  // namespace sluice::broker
