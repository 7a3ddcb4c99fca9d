// TxnOffsetCommit (key 28, v0-4): a transactional producer's consumer offsets, held pending in
// the group coordinator per producer id (src/coordinator/group/txn_offsets.cc, written synced)
// and made visible only when the transaction commits (dropped when it aborts). OffsetFetch with
// require_stable answers UNSTABLE_OFFSET_COMMIT for them meanwhile.
//
// The transaction coordinator checks the producer first, which fences zombies:
// INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED (INVALID_PRODUCER_EPOCH below v2), and
// INVALID_TXN_STATE when the group was not added with AddOffsetsToTxn to an ongoing
// transaction. v3+ member id and generation are checked like OffsetCommit's. Unknown partitions
// are UNKNOWN_TOPIC_OR_PARTITION.

#include "kafka/txn_offset_commit.h"

#include <memory>

#include "src/broker/broker.h"
#include "src/broker/group_requests.h"
#include "src/broker/handler.h"
#include "src/broker/txn_requests.h"

namespace sluice::broker {
namespace {

using kafka::txn_offset_commit_request;
using kafka::txn_offset_commit_response;
void handle(request_context& ctx, txn_offset_commit_request& req,
            responder<txn_offset_commit_response> reply) {
  auto topics = ctx.owner.topics().snapshot();
  auto resp = std::make_shared<txn_offset_commit_response>();
  coordinator::offset_commit_request c;
  c.member_id = req.member_id;
  c.instance_id = req.group_instance_id;
  c.generation = req.generation_id;
  c.api_version = ctx.version();
  auto slots = gather_offsets(*topics, req.topics, resp->topics, c);
  if (c.offsets.empty()) return reply(std::move(*resp));
  const bool old = ctx.version() < 2;
  auto fail_all = [reply, resp, slots, old](kafka::error e) {
    for (auto* s : slots) s->error_code = kafka::code(fenced_for(e, old));
    reply(std::move(*resp));
  };
  if (req.group_id.empty()) return fail_all(kafka::error::invalid_group_id);
  if (!ctx.owner.has_txns()) return fail_all(kafka::error::coordinator_not_available);
  broker& b = ctx.owner;
  const unsigned home = ctx.conn.shard;
  const int64_t pid = req.producer_id;
  b.txns().call<kafka::error>(
      home, req.transactional_id,
      [id = req.transactional_id, pid, epoch = req.producer_epoch, group = req.group_id](
          coordinator::shard_txns& s, std::function<void(kafka::error)> done) {
        done(s.verify_group(id, pid, epoch, group));
      },
      [&b, home, pid, group = req.group_id, c = std::move(c), reply, resp, slots,
       fail_all](kafka::error e) mutable {
        if (e != kafka::error::none) return fail_all(e);
        b.groups().call<std::vector<kafka::error>>(
            home, group,
            [group, pid, c = std::move(c)](
                coordinator::shard_groups& sg,
                std::function<void(std::vector<kafka::error>)> done) mutable {
              sg.txn_commit(group, pid, std::move(c), std::move(done));
            },
            answer_offsets(reply, resp, slots));
      });
}

}  // namespace

extern const handler txn_offset_commit_handler = {
    txn_offset_commit_request::api_key, 0, 4,
    &typed_handle<txn_offset_commit_request, txn_offset_commit_response, &handle>};

}  // namespace sluice::broker
