#include "src/broker/config_resources.h"

#include "src/base/config_keys.h"
#include "src/broker/broker.h"

namespace sluice::broker {

resource_result check_broker_alter(const config& cfg, int8_t type, const std::string& name,
                                   const std::vector<std::string>& keys) {
  resource_result r{type, name, kafka::error::none, {}};
  if (name.empty()) {
    r.error = kafka::error::invalid_request;
    r.message = "Sluice has no cluster-wide default broker configs: alter broker " +
                std::to_string(cfg.node_id) + " instead";
    return r;
  }
  if (name != std::to_string(cfg.node_id)) {
    r.error = kafka::error::invalid_request;
    r.message = "Unexpected broker id, expected " + std::to_string(cfg.node_id) +
                " or empty string, but received " + name;
    return r;
  }
  std::string unknown, static_keys;
  for (const auto& k : keys) {
    if (find_config_setting(k) != nullptr && is_dynamic_broker_config(k)) continue;
    auto& list = find_config_setting(k) == nullptr ? unknown : static_keys;
    list += (list.empty() ? "" : ", ") + k;
  }
  if (!unknown.empty()) {
    r.error = kafka::error::invalid_config;
    r.message = "Unknown broker configs: " + unknown;
  } else if (!static_keys.empty()) {
    r.error = kafka::error::invalid_request;
    r.message = "Cannot update these configs dynamically: " + static_keys +
                " (read-only: change the config file and restart)";
  }
  return r;
}

bool start_resource(const config& cfg, int8_t type, const std::string& name,
                    const std::vector<std::string>& keys, pending_resource& p) {
  p.early = {type, name, kafka::error::none, {}};
  if (type == kResourceBroker) {
    p.early = check_broker_alter(cfg, type, name, keys);
    return p.early.error == kafka::error::none;
  }
  if (type != kResourceTopic) {
    p.early.error = kafka::error::invalid_request;
    p.early.message = "Unsupported resource type " + std::to_string(type);
    return false;
  }
  return true;
}

void alter_resources(request_context& ctx, std::vector<pending_resource> resources,
                     std::function<void(std::vector<resource_result>)> done) {
  std::vector<alter_spec> specs;
  for (auto& p : resources) {
    if (p.change) specs.push_back(*p.change);
  }
  unsigned shard = ctx.conn.shard;
  broker& b = ctx.owner;
  auto finish = [resources = std::move(resources),
                 done = std::move(done)](std::vector<topic_outcome> outcomes) mutable {
    std::vector<resource_result> out;
    size_t o = 0;
    for (auto& p : resources) {
      if (!p.change) {
        out.push_back(std::move(p.early));
        continue;
      }
      auto& oc = outcomes[o++];
      out.push_back({p.early.type, oc.name, oc.error, std::move(oc.message)});
    }
    done(std::move(out));
  };
  if (specs.empty()) return finish({});
  b.topics().alter(std::move(specs), [&b, shard, finish = std::move(finish)](
                                         std::vector<topic_outcome> outcomes) mutable {
    b.post(shard, [finish = std::move(finish), outcomes = std::move(outcomes)]() mutable {
      finish(std::move(outcomes));
    });
  });
}

}  // namespace sluice::broker
