// AlterConfigs (key 33, v0-2): replaces a topic's whole override set (keys not named go back to
// their broker or Kafka default). The new set is validated like CreateTopics' configs
// (INVALID_CONFIG with a message), honours validate_only, and is written to the metadata store
// on the control thread before the new settings are published (topic_manager::alter). Broker
// resources (node id): the request is the broker's whole set of dynamic configs (keys not named
// go back to the static value), applied live (topic_manager.h); read-only keys are
// INVALID_REQUEST, and so are invalid values (as in Kafka); unknown keys INVALID_CONFIG
// (config_resources.h).

#include "kafka/alter_configs.h"

#include "src/broker/broker.h"
#include "src/broker/config_resources.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::alter_configs_request;
using kafka::alter_configs_response;

void handle(request_context& ctx, alter_configs_request& req,
            responder<alter_configs_response> reply) {
  std::vector<pending_resource> resources;
  for (const auto& r : req.resources) {
    auto& p = resources.emplace_back();
    std::vector<std::string> keys;
    for (const auto& c : r.configs) keys.push_back(c.name);
    if (!start_resource(ctx.cfg, r.resource_type, r.resource_name, keys, p)) continue;
    alter_spec spec{
        r.resource_name, false, {}, {}, req.validate_only, r.resource_type == kResourceBroker};
    for (const auto& c : r.configs) {
      if (!c.value) {
        p.early.error = kafka::error::invalid_request;
        p.early.message = "Null value not supported for: " + c.name;
        break;
      }
      spec.replace[c.name] = *c.value;
    }
    if (p.early.error == kafka::error::none) p.change = std::move(spec);
  }
  alter_and_reply(ctx, std::move(resources), std::move(reply));
}

}  // namespace

extern const handler alter_configs_handler = {
    alter_configs_request::api_key, 0, 2,
    &typed_handle<alter_configs_request, alter_configs_response, &handle>};

}  // namespace sluice::broker
