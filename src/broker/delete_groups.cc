// DeleteGroups (key 42, v0-2): deletes Empty groups with their committed offsets (durably,
// before answering); NON_EMPTY_GROUP for groups with members, GROUP_ID_NOT_FOUND for unknown.

#include "kafka/delete_groups.h"

#include <memory>

#include "src/broker/broker.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::delete_groups_request;
using kafka::delete_groups_response;

struct delete_state {
  delete_groups_response resp;
  size_t pending = 0;
};

void handle(request_context& ctx, delete_groups_request& req,
            responder<delete_groups_response> reply) {
  auto state = std::make_shared<delete_state>();
  state->resp.results.resize(req.groups_names.size());
  state->pending = req.groups_names.size();
  if (req.groups_names.empty()) return reply(std::move(state->resp));
  for (size_t i = 0; i < req.groups_names.size(); ++i) {
    state->resp.results[i].group_id = req.groups_names[i];
    ctx.owner.groups().call<kafka::error>(
        ctx.conn.shard, req.groups_names[i],
        [group = req.groups_names[i]](coordinator::shard_groups& sg,
                                      std::function<void(kafka::error)> done) {
          sg.delete_group(group, std::move(done));
        },
        [state, i, reply](kafka::error e) {
          state->resp.results[i].error_code = kafka::code(e);
          if (--state->pending == 0) reply(std::move(state->resp));
        });
  }
}

}  // namespace

extern const handler delete_groups_handler = {
    delete_groups_request::api_key, 0, 2,
    &typed_handle<delete_groups_request, delete_groups_response, &handle>};

}  // namespace sluice::broker
