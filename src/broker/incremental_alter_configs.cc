// IncrementalAlterConfigs (key 44, v0-1): applies SET, DELETE, APPEND and SUBTRACT to a topic's
// overrides. APPEND/SUBTRACT work on list configs (cleanup.policy) starting from the effective
// value; on other keys they are INVALID_CONFIG. The result is validated as a whole
// (INVALID_CONFIG with a message), honours validate_only, and is written to the metadata store
// on the control thread before the new settings are published (topic_manager::alter). Duplicate
// keys in one resource are INVALID_REQUEST, as in Kafka. Broker resources (node id): SET and
// DELETE of dynamic broker configs, applied live (topic_manager.h); read-only keys are
// INVALID_REQUEST, and so are invalid values (as in Kafka); unknown keys INVALID_CONFIG
// (config_resources.h).

#include "kafka/incremental_alter_configs.h"

#include <set>

#include "src/broker/broker.h"
#include "src/broker/config_resources.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::incremental_alter_configs_request;
using kafka::incremental_alter_configs_response;

void handle(request_context& ctx, incremental_alter_configs_request& req,
            responder<incremental_alter_configs_response> reply) {
  std::vector<pending_resource> resources;
  for (const auto& r : req.resources) {
    auto& p = resources.emplace_back();
    std::set<std::string> seen;
    std::string duplicate;
    for (const auto& c : r.configs) {
      if (!seen.insert(c.name).second) duplicate = c.name;
    }
    if (!duplicate.empty()) {
      p.early = {r.resource_type, r.resource_name, kafka::error::invalid_request,
                 "Error due to duplicate config keys: " + duplicate};
      continue;
    }
    if (!start_resource(ctx.cfg, r.resource_type, r.resource_name, {seen.begin(), seen.end()}, p)) {
      continue;
    }
    alter_spec spec{
        r.resource_name, true, {}, {}, req.validate_only, r.resource_type == kResourceBroker};
    for (const auto& c : r.configs) {
      spec.changes.push_back({c.name, static_cast<config_op>(c.config_operation), c.value});
    }
    p.change = std::move(spec);
  }
  alter_and_reply(ctx, std::move(resources), std::move(reply));
}

}  // namespace

extern const handler incremental_alter_configs_handler = {
    incremental_alter_configs_request::api_key, 0, 1,
    &typed_handle<incremental_alter_configs_request, incremental_alter_configs_response, &handle>};

}  // namespace sluice::broker
