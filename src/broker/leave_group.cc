// LeaveGroup (key 13, v0-5): one member (v0-2) or a batch of members by id or instance id
// (v3+, KIP-345). v0-2 report the member's error as the request's.

#include "kafka/leave_group.h"

#include "src/broker/broker.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::leave_group_request;
using kafka::leave_group_response;
using who_list = std::vector<std::pair<std::string, std::optional<std::string>>>;

void handle(request_context& ctx, leave_group_request& req, responder<leave_group_response> reply) {
  who_list who;
  if (ctx.version() < 3) {
    who.emplace_back(std::move(req.member_id), std::nullopt);
  } else {
    for (auto& m : req.members)
      who.emplace_back(std::move(m.member_id), std::move(m.group_instance_id));
  }
  const int16_t version = ctx.version();
  ctx.owner.groups().call<coordinator::leave_result>(
      ctx.conn.shard, req.group_id,
      [group = req.group_id, who](coordinator::shard_groups& sg,
                                  std::function<void(coordinator::leave_result)> done) {
        done(sg.leave(group, who));
      },
      [reply, version, who](coordinator::leave_result r) {
        leave_group_response resp;
        resp.error_code = kafka::code(r.error);
        if (version < 3) {
          if (r.error == kafka::error::none && !r.members.empty()) {
            resp.error_code = kafka::code(r.members.front());
          }
          return reply(std::move(resp));
        }
        for (size_t i = 0; i < r.members.size() && i < who.size(); ++i) {
          auto& m = resp.members.emplace_back();
          m.member_id = who[i].first;
          m.group_instance_id = who[i].second;
          m.error_code = kafka::code(r.members[i]);
        }
        reply(std::move(resp));
      });
}

}  // namespace

extern const handler leave_group_handler = {
    leave_group_request::api_key, 0, 5,
    &typed_handle<leave_group_request, leave_group_response, &handle>};

}  // namespace sluice::broker
