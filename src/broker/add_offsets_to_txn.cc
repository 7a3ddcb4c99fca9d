// AddOffsetsToTxn (key 25, v0-4): adds a consumer group to a producer's ongoing transaction, so
// that the offsets TxnOffsetCommit holds pending for it are committed or dropped with the
// transaction (src/coordinator/txn). Errors as AddPartitionsToTxn: INVALID_PRODUCER_ID_MAPPING,
// PRODUCER_FENCED (INVALID_PRODUCER_EPOCH below v2), CONCURRENT_TRANSACTIONS; an empty group id
// is INVALID_GROUP_ID.

#include "kafka/add_offsets_to_txn.h"

#include "src/broker/broker.h"
#include "src/broker/handler.h"
#include "src/broker/txn_requests.h"

namespace sluice::broker {
namespace {

using kafka::add_offsets_to_txn_request;
using kafka::add_offsets_to_txn_response;

void handle(request_context& ctx, add_offsets_to_txn_request& req,
            responder<add_offsets_to_txn_response> reply) {
  auto answer = [reply, old = ctx.version() < 2](kafka::error e) {
    add_offsets_to_txn_response resp;
    resp.error_code = kafka::code(fenced_for(e, old));
    reply(std::move(resp));
  };
  if (req.group_id.empty()) return answer(kafka::error::invalid_group_id);
  if (!ctx.owner.has_txns()) return answer(kafka::error::coordinator_not_available);
  ctx.owner.txns().call<kafka::error>(
      ctx.conn.shard, req.transactional_id,
      [id = req.transactional_id, pid = req.producer_id, epoch = req.producer_epoch,
       group = req.group_id](coordinator::shard_txns& s, std::function<void(kafka::error)> done) {
        s.add_offsets(id, pid, epoch, group, std::move(done));
      },
      std::move(answer));
}

}  // namespace

extern const handler add_offsets_to_txn_handler = {
    add_offsets_to_txn_request::api_key, 0, 4,
    &typed_handle<add_offsets_to_txn_request, add_offsets_to_txn_response, &handle>};

}  // namespace sluice::broker
