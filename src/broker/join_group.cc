// JoinGroup (key 11, v0-9): classic group membership. The answer waits for the rebalance to
// complete on the group's owner shard (src/coordinator/group). v4+ new members get
// MEMBER_ID_REQUIRED first (KIP-394); v5+ static members (KIP-345); v9 skip_assignment
// (KIP-814).

#include "kafka/join_group.h"

#include "src/broker/broker.h"
#include "src/broker/group_requests.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::join_group_request;
using kafka::join_group_response;

void handle(request_context& ctx, join_group_request& req, responder<join_group_response> reply) {
  coordinator::join_request j;
  j.member_id = std::move(req.member_id);
  j.instance_id = std::move(req.group_instance_id);
  j.client_id = client_id_of(ctx);
  j.client_host = client_host_of(ctx);
  j.session_timeout_ms = req.session_timeout_ms;
  // v0 has no rebalance timeout: the session timeout serves as both.
  j.rebalance_timeout_ms = ctx.version() >= 1 ? req.rebalance_timeout_ms : req.session_timeout_ms;
  j.protocol_type = std::move(req.protocol_type);
  for (auto& p : req.protocols) j.protocols.push_back({std::move(p.name), std::move(p.metadata)});
  j.require_known_member_id = ctx.version() >= 4;
  j.static_leader_skip = ctx.version() >= 9;
  const int16_t version = ctx.version();
  ctx.owner.groups().call<coordinator::join_result>(
      ctx.conn.shard, req.group_id,
      [group = req.group_id, j = std::move(j)](
          coordinator::shard_groups& sg,
          std::function<void(coordinator::join_result)> done) mutable {
        sg.join(group, std::move(j), std::move(done));
      },
      [reply, version](coordinator::join_result r) {
        join_group_response resp;
        resp.error_code = kafka::code(r.error);
        resp.generation_id = r.generation;
        if (version >= 7) {
          resp.protocol_type = r.error == kafka::error::none
                                   ? std::optional<std::string>(r.protocol_type)
                                   : std::nullopt;
          resp.protocol_name = r.protocol_name;
        } else {
          resp.protocol_name = r.protocol_name.value_or("");
        }
        resp.leader = std::move(r.leader);
        resp.member_id = std::move(r.member_id);
        resp.skip_assignment = r.skip_assignment;
        for (auto& m : r.members) {
          auto& out = resp.members.emplace_back();
          out.member_id = std::move(m.member_id);
          out.group_instance_id = std::move(m.instance_id);
          out.metadata = std::move(m.metadata);
        }
        reply(std::move(resp));
      });
}

}  // namespace

extern const handler join_group_handler = {
    join_group_request::api_key, 0, 9,
    &typed_handle<join_group_request, join_group_response, &handle>};

}  // namespace sluice::broker
