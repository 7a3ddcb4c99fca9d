// ListGroups (key 16, v0-5): every group on every shard; v4+ filter by state, v5+ by type
// (case-insensitive, as Kafka).

#include "kafka/list_groups.h"

#include <algorithm>
#include <cctype>

#include "src/broker/broker.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::list_groups_request;
using kafka::list_groups_response;
using listing = std::vector<coordinator::group_listing>;

bool iequals(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool matches(const std::vector<std::string>& filter, const std::string& v) {
  return filter.empty() ||
         std::any_of(filter.begin(), filter.end(), [&](const auto& f) { return iequals(f, v); });
}

void handle(request_context& ctx, list_groups_request& req, responder<list_groups_response> reply) {
  ctx.owner.groups().call_all<listing>(
      ctx.conn.shard, [](coordinator::shard_groups& sg) { return sg.list(); },
      [reply, states = std::move(req.states_filter),
       types = std::move(req.types_filter)](std::vector<listing> all) {
        list_groups_response resp;
        for (auto& shard : all) {
          for (auto& g : shard) {
            if (!matches(states, g.state) || !matches(types, g.type)) continue;
            auto& o = resp.groups.emplace_back();
            o.group_id = std::move(g.group_id);
            o.protocol_type = std::move(g.protocol_type);
            o.group_state = std::move(g.state);
            o.group_type = std::move(g.type);
          }
        }
        reply(std::move(resp));
      });
}

}  // namespace

extern const handler list_groups_handler = {
    list_groups_request::api_key, 0, 5,
    &typed_handle<list_groups_request, list_groups_response, &handle>};

}  // namespace sluice::broker
