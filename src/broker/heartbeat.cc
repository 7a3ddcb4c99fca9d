// Heartbeat (key 12, v0-4): keeps a classic member's session; REBALANCE_IN_PROGRESS tells it to
// rejoin.

#include "kafka/heartbeat.h"

#include "src/broker/broker.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::heartbeat_request;
using kafka::heartbeat_response;

void handle(request_context& ctx, heartbeat_request& req, responder<heartbeat_response> reply) {
  const std::string group = req.group_id;
  ctx.owner.groups().call<kafka::error>(
      ctx.conn.shard, group,
      [req = std::move(req)](coordinator::shard_groups& sg,
                             std::function<void(kafka::error)> done) {
        done(sg.heartbeat(req.group_id, req.member_id, req.group_instance_id, req.generation_id));
      },
      [reply](kafka::error e) {
        heartbeat_response resp;
        resp.error_code = kafka::code(e);
        reply(std::move(resp));
      });
}

}  // namespace

extern const handler heartbeat_handler = {
    heartbeat_request::api_key, 0, 4,
    &typed_handle<heartbeat_request, heartbeat_response, &handle>};

}  // namespace sluice::broker
