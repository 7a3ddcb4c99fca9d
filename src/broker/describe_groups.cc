// DescribeGroups (key 15, v0-5): state, protocol and members of each group; member metadata
// and assignments only while Stable (as Kafka). Unknown groups are reported as Dead with no
// error (v0-5). v3+ with include_authorized_operations: every group operation (no ACLs yet).

#include "kafka/describe_groups.h"

#include "src/broker/fan_out.h"
#include "src/broker/group_requests.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::describe_groups_request;
using kafka::describe_groups_response;

void handle(request_context& ctx, describe_groups_request& req,
            responder<describe_groups_response> reply) {
  auto all = fan_out<describe_groups_response>::start(ctx.owner, ctx.conn.shard, std::move(reply));
  all->value.groups.resize(req.groups.size());
  for (size_t i = 0; i < req.groups.size(); ++i) {
    ctx.owner.groups().call<coordinator::group_description>(
        ctx.conn.shard, req.groups[i],
        [group = req.groups[i]](coordinator::shard_groups& sg,
                                std::function<void(coordinator::group_description)> done) {
          done(sg.describe(group));
        },
        all->answer([&g = all->value.groups[i], with_ops = req.include_authorized_operations](
                        auto&, coordinator::group_description d) {
          g.error_code = kafka::code(d.error);
          if (with_ops && d.error == kafka::error::none) {
            g.authorized_operations = kAllGroupOperations;
          }
          g.group_id = std::move(d.group_id);
          g.group_state = std::move(d.state);
          g.protocol_type = std::move(d.protocol_type);
          g.protocol_data = std::move(d.protocol_data);
          for (auto& m : d.members) {
            auto& o = g.members.emplace_back();
            o.member_id = std::move(m.member_id);
            o.group_instance_id = std::move(m.instance_id);
            o.client_id = std::move(m.client_id);
            o.client_host = std::move(m.client_host);
            o.member_metadata = std::move(m.metadata);
            o.member_assignment = std::move(m.assignment);
          }
        }));
  }
  all->seal();
}

}  // namespace

extern const handler describe_groups_handler = {
    describe_groups_request::api_key, 0, 5,
    &typed_handle<describe_groups_request, describe_groups_response, &handle>};

}  // namespace sluice::broker
