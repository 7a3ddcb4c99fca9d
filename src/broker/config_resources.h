#pragma once
// What AlterConfigs and IncrementalAlterConfigs share: Kafka's resource types, the checks on a
// broker resource (only is_dynamic_broker_config keys may change at runtime), and running the
// topic and broker changes on the topic manager's control thread.
//
// Thread safety: alter_resources() from the connection's shard; `done` runs back on that shard.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "src/broker/handler.h"
#include "src/broker/topic_manager.h"

namespace sluice::broker {

inline constexpr int8_t kResourceTopic = 2;
inline constexpr int8_t kResourceBroker = 4;

struct resource_result {
  int8_t type = 0;
  std::string name;
  kafka::error error = kafka::error::none;
  std::string message;
};

// One resource of an alter request: either already answered (`early`) or a topic change.
struct pending_resource {
  resource_result early;
  std::optional<alter_spec> change;
};

// The early answer to altering broker resource `name` with `keys`: INVALID_REQUEST for another
// node's id or the cluster default (""), INVALID_CONFIG for unknown keys, INVALID_REQUEST for
// keys that are read-only; error none when the change may go ahead.
resource_result check_broker_alter(const config& cfg, int8_t type, const std::string& name,
                                   const std::vector<std::string>& keys);

// Starts one resource of an alter request: broker resources are checked at once
// (check_broker_alter with `keys`), other types but topics are INVALID_REQUEST. Returns true
// for a topic or an acceptable broker change, whose alter_spec (broker = type is BROKER) the
// caller then builds into `p.change`.
bool start_resource(const config& cfg, int8_t type, const std::string& name,
                    const std::vector<std::string>& keys, pending_resource& p);

// Applies the topic and broker changes (one topic_manager::alter call) and calls done with one
// result per resource, in request order, on the connection's shard.
void alter_resources(request_context& ctx, std::vector<pending_resource> resources,
                     std::function<void(std::vector<resource_result>)> done);

// alter_resources, answered with Resp: AlterConfigs and IncrementalAlterConfigs responses have
// the same shape (one entry per resource with error code, message, type and name).
template <class Resp>
void alter_and_reply(request_context& ctx, std::vector<pending_resource> resources,
                     responder<Resp> reply) {
  alter_resources(ctx, std::move(resources),
                  [reply = std::move(reply)](std::vector<resource_result> results) {
                    Resp resp;
                    for (auto& r : results) {
                      auto& out = resp.responses.emplace_back();
                      out.error_code = kafka::code(r.error);
                      out.error_message = r.error == kafka::error::none
                                              ? std::nullopt
                                              : std::optional<std::string>(std::move(r.message));
                      out.resource_type = r.type;
                      out.resource_name = std::move(r.name);
                    }
                    reply(std::move(resp));
                  });
}

}  // namespace sluice::broker
