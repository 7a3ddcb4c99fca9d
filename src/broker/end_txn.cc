// EndTxn (key 26, v0-5): commits or aborts a producer's ongoing transaction
// (src/coordinator/txn): PrepareCommit/PrepareAbort is written (synced), a marker goes to every
// partition of the transaction and the pending offsets of its groups are applied or dropped,
// then CompleteCommit/CompleteAbort is written; only then is the producer answered, so its next
// transaction never meets CONCURRENT_TRANSACTIONS from this one. Retrying an end that completed
// answers success; the opposite end INVALID_TXN_STATE; errors otherwise as AddPartitionsToTxn
// (PRODUCER_FENCED is INVALID_PRODUCER_EPOCH below v2). v5 (KIP-890) answers the producer id
// and epoch, unchanged: transaction version 2 (an epoch bump per transaction) is not advertised.

#include "kafka/end_txn.h"

#include "src/broker/broker.h"
#include "src/broker/handler.h"
#include "src/broker/txn_requests.h"

namespace sluice::broker {
namespace {

using kafka::end_txn_request;
using kafka::end_txn_response;

void handle(request_context& ctx, end_txn_request& req, responder<end_txn_response> reply) {
  auto answer = [reply, old = ctx.version() < 2, pid = req.producer_id,
                 epoch = req.producer_epoch](kafka::error e) {
    end_txn_response resp;
    resp.error_code = kafka::code(fenced_for(e, old));
    resp.producer_id = e == kafka::error::none ? pid : -1;
    resp.producer_epoch = e == kafka::error::none ? epoch : int16_t(-1);
    reply(std::move(resp));
  };
  if (!ctx.owner.has_txns()) return answer(kafka::error::coordinator_not_available);
  ctx.owner.txns().call<kafka::error>(
      ctx.conn.shard, req.transactional_id,
      [id = req.transactional_id, pid = req.producer_id, epoch = req.producer_epoch,
       commit = req.committed](coordinator::shard_txns& s, std::function<void(kafka::error)> done) {
        s.end(id, pid, epoch, commit, std::move(done));
      },
      std::move(answer));
}

}  // namespace

extern const handler end_txn_handler = {end_txn_request::api_key, 0, 5,
                                        &typed_handle<end_txn_request, end_txn_response, &handle>};

}  // namespace sluice::broker
