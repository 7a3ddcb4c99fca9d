// DeleteGroups (key 42, v0-2): deletes Empty groups with their committed offsets (durably,
// before answering); NON_EMPTY_GROUP for groups with members, GROUP_ID_NOT_FOUND for unknown.

#include "kafka/delete_groups.h"

#include "src/broker/fan_out.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::delete_groups_request;
using kafka::delete_groups_response;

void handle(request_context& ctx, delete_groups_request& req,
            responder<delete_groups_response> reply) {
  auto g = fan_out<delete_groups_response>::start(ctx.owner, ctx.conn.shard, std::move(reply));
  g->value.results.resize(req.groups_names.size());
  for (size_t i = 0; i < req.groups_names.size(); ++i) {
    auto& out = g->value.results[i];
    out.group_id = req.groups_names[i];
    ctx.owner.groups().call<kafka::error>(
        ctx.conn.shard, req.groups_names[i],
        [group = req.groups_names[i]](coordinator::shard_groups& sg,
                                      std::function<void(kafka::error)> done) {
          sg.delete_group(group, std::move(done));
        },
        g->answer([&out](auto&, kafka::error e) { out.error_code = kafka::code(e); }));
  }
  g->seal();
}

}  // namespace

extern const handler delete_groups_handler = {
    delete_groups_request::api_key, 0, 2,
    &typed_handle<delete_groups_request, delete_groups_response, &handle>};

}  // namespace sluice::broker
