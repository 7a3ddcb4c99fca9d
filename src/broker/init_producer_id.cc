// InitProducerId (key 22, v0-5) for idempotent producers (no transactional id).
//
// A new producer gets a fresh id at epoch 0 (src/broker/producer_ids.h). KIP-360 (v3+): a
// producer that presents the id and epoch it had gets the same id at epoch + 1, which fences its
// older epoch on every partition and restarts its sequences at 0; at the last usable epoch
// (INT16_MAX - 1) it gets a fresh id instead, as Kafka does. An id this broker never handed out
// gets a fresh id as well. Exactly one of producer id and epoch set is INVALID_REQUEST.
// With a transactional id the transaction coordinator answers (src/coordinator/txn): it keeps
// one producer id per transactional id and bumps its epoch, fencing the previous instance
// (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH below v4), aborts that instance's open transaction
// first (CONCURRENT_TRANSACTIONS meanwhile: the client retries), and checks
// transaction.timeout.ms against transaction.max.timeout.ms (INVALID_TRANSACTION_TIMEOUT). An
// empty transactional id is INVALID_REQUEST.

#include "kafka/init_producer_id.h"

#include <memory>

#include "src/broker/broker.h"
#include "src/broker/handler.h"
#include "src/broker/producer_ids.h"
#include "src/broker/txn_requests.h"

namespace sluice::broker {
namespace {

using kafka::init_producer_id_request;
using kafka::init_producer_id_response;

constexpr int16_t kLastEpoch = INT16_MAX - 1;

void handle(request_context& ctx, init_producer_id_request& req,
            responder<init_producer_id_response> reply) {
  init_producer_id_response resp;
  auto fail = [&](kafka::error e) {
    resp.error_code = kafka::code(e);
    resp.producer_id = -1;
    resp.producer_epoch = -1;
    reply(std::move(resp));
  };
  if ((req.producer_id < 0) != (req.producer_epoch < 0)) return fail(kafka::error::invalid_request);
  if (req.transactional_id.has_value()) {
    if (req.transactional_id->empty()) return fail(kafka::error::invalid_request);
    if (!ctx.owner.has_txns()) return fail(kafka::error::coordinator_not_available);
    const bool old = ctx.version() < 4;
    ctx.owner.txns().call<coordinator::init_pid_result>(
        ctx.conn.shard, *req.transactional_id,
        [id = *req.transactional_id, timeout = req.transaction_timeout_ms, pid = req.producer_id,
         epoch = req.producer_epoch](coordinator::shard_txns& st,
                                     std::function<void(coordinator::init_pid_result)> done) {
          st.init_producer(id, timeout, pid, epoch, std::move(done));
        },
        [reply = std::move(reply), old](coordinator::init_pid_result r) {
          init_producer_id_response resp;
          resp.error_code = kafka::code(fenced_for(r.error, old));
          resp.producer_id = r.error == kafka::error::none ? r.producer_id : -1;
          resp.producer_epoch = r.error == kafka::error::none ? r.epoch : int16_t(-1);
          reply(std::move(resp));
        });
    return;
  }
  producer_ids* ids = ctx.owner.producer_id_source();
  if (ids == nullptr) return fail(kafka::error::coordinator_not_available);
  if (req.producer_id >= 0 && req.producer_epoch < kLastEpoch && ids->issued(req.producer_id)) {
    resp.producer_id = req.producer_id;
    resp.producer_epoch = static_cast<int16_t>(req.producer_epoch + 1);
    return reply(std::move(resp));
  }
  broker& b = ctx.owner;
  const unsigned home = ctx.conn.shard;
  ids->allocate([&b, home, reply = std::move(reply)](result<int64_t> id) {
    b.post(home, [reply, id] {
      init_producer_id_response resp;
      if (!id) {
        resp.error_code = kafka::code(kafka::error::coordinator_not_available);
        resp.producer_id = -1;
        resp.producer_epoch = -1;
      } else {
        resp.producer_id = id.value();
        resp.producer_epoch = 0;
      }
      reply(std::move(resp));
    });
  });
}

}  // namespace

extern const handler init_producer_id_handler = {
    init_producer_id_request::api_key, 0, 5,
    &typed_handle<init_producer_id_request, init_producer_id_response, &handle>};

}  // namespace sluice::broker
