// SyncGroup (key 14, v0-5): the leader hands out assignments; followers wait for theirs. v5
// checks the protocol type and name against the group's (INCONSISTENT_GROUP_PROTOCOL).

#include "kafka/sync_group.h"

#include "src/broker/broker.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::sync_group_request;
using kafka::sync_group_response;

void handle(request_context& ctx, sync_group_request& req, responder<sync_group_response> reply) {
  coordinator::sync_request s;
  s.member_id = std::move(req.member_id);
  s.instance_id = std::move(req.group_instance_id);
  s.generation = req.generation_id;
  s.protocol_type = std::move(req.protocol_type);
  s.protocol_name = std::move(req.protocol_name);
  for (auto& a : req.assignments)
    s.assignments.emplace_back(std::move(a.member_id), std::move(a.assignment));
  ctx.owner.groups().call<coordinator::sync_result>(
      ctx.conn.shard, req.group_id,
      [group = req.group_id, s = std::move(s)](
          coordinator::shard_groups& sg,
          std::function<void(coordinator::sync_result)> done) mutable {
        sg.sync(group, std::move(s), std::move(done));
      },
      [reply](coordinator::sync_result r) {
        sync_group_response resp;
        resp.error_code = kafka::code(r.error);
        resp.protocol_type = std::move(r.protocol_type);
        resp.protocol_name = std::move(r.protocol_name);
        resp.assignment = std::move(r.assignment);
        reply(std::move(resp));
      });
}

}  // namespace

extern const handler sync_group_handler = {
    sync_group_request::api_key, 0, 5,
    &typed_handle<sync_group_request, sync_group_response, &handle>};

}  // namespace sluice::broker
