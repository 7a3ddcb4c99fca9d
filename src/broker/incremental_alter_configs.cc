// IncrementalAlterConfigs (key 44, v0-1): applies SET, DELETE, APPEND and SUBTRACT to a topic's
// overrides. APPEND/SUBTRACT work on list configs (cleanup.policy) starting from the effective
// value; on other keys they are INVALID_CONFIG. The result is validated as a whole
// (INVALID_CONFIG with a message), honours validate_only, and is written to the metadata store
// on the control thread before the new settings are published (topic_manager::alter). Duplicate
// keys in one resource are INVALID_REQUEST, as in Kafka. Broker resources: Sluice has no dynamic
// broker configs, so any key is refused (config_resources.h).

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
    p.early = {r.resource_type, r.resource_name, kafka::error::none, {}};
    std::set<std::string> seen;
    for (const auto& c : r.configs) {
      if (!seen.insert(c.name).second) {
        p.early.error = kafka::error::invalid_request;
        p.early.message = "Error due to duplicate config keys: " + c.name;
      }
    }
    if (p.early.error != kafka::error::none) continue;
    if (r.resource_type == kResourceBroker) {
      p.early =
          check_broker_alter(ctx.cfg, r.resource_type, r.resource_name, {seen.begin(), seen.end()});
      continue;
    }
    if (r.resource_type != kResourceTopic) {
      p.early.error = kafka::error::invalid_request;
      p.early.message = "Unsupported resource type " + std::to_string(r.resource_type);
      continue;
    }
    alter_spec spec{r.resource_name, true, {}, {}, req.validate_only};
    for (const auto& c : r.configs) {
      spec.changes.push_back({c.name, static_cast<config_op>(c.config_operation), c.value});
    }
    p.change = std::move(spec);
  }
  alter_resources(
      ctx, std::move(resources), [reply = std::move(reply)](std::vector<resource_result> results) {
        incremental_alter_configs_response resp;
        for (auto& r : results) {
          auto& out = resp.responses.emplace_back();
          out.error_code = kafka::code(r.error);
          out.error_message =
              r.error == kafka::error::none ? std::nullopt : std::optional<std::string>(r.message);
          out.resource_type = r.type;
          out.resource_name = r.name;
        }
        reply(std::move(resp));
      });
}

}  // namespace

extern const handler incremental_alter_configs_handler = {
    incremental_alter_configs_request::api_key, 0, 1,
    &typed_handle<incremental_alter_configs_request, incremental_alter_configs_response, &handle>};

}  // namespace sluice::broker
