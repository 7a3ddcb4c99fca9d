// DescribeConfigs (key 32, v0-4): topic and broker configs with value, source (v1+), is_default
// (v0), synonyms (v1+, include_synonyms), config type and documentation (v3+,
// include_documentation).
//
// Topics (resource type 2) answer from the current topic snapshot, on the connection's shard:
// every key of meta's topic config table (or the requested ones), resolved override > broker
// synonym > Kafka default. Synonyms follow Kafka's order: the topic override, the broker
// setting when changed at runtime (DYNAMIC_BROKER_CONFIG), the broker setting when set away
// from its default at startup (STATIC_BROKER_CONFIG), then the default.
// Brokers (type 4, name = node id) list sluice::config's settings as they are now:
// DYNAMIC_BROKER_CONFIG for the dynamic overrides (topic_manager::broker_configs), else
// STATIC_BROKER_CONFIG when set away from the default, else DEFAULT_CONFIG; read-only unless
// is_dynamic_broker_config. The default broker resource ("") has no dynamic defaults, so it
// lists nothing, as in Kafka.
// Unknown topics are UNKNOWN_TOPIC_OR_PARTITION, other resource types INVALID_REQUEST, per
// resource. Requested keys Sluice does not know are left out, as Kafka does.

#include "kafka/describe_configs.h"

#include <algorithm>

#include "src/base/config_keys.h"
#include "src/broker/broker.h"
#include "src/broker/config_resources.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::describe_configs_request;
using kafka::describe_configs_response;
using result_t = describe_configs_response::describe_configs_result;
using entry_t = result_t::describe_configs_resource_result;

// Kafka's DescribeConfigsResponse ConfigSource and ConfigType.
constexpr int8_t kTopicConfig = 1;
constexpr int8_t kDynamicBrokerConfig = 2;
constexpr int8_t kStaticBrokerConfig = 4;
constexpr int8_t kDefaultConfig = 5;
constexpr int8_t kBoolean = 1, kString = 2, kInt = 3, kLong = 5, kDouble = 6, kList = 7;

int8_t kafka_type(meta::config_type t) {
  switch (t) {
    case meta::config_type::boolean:
      return kBoolean;
    case meta::config_type::int32:
      return kInt;
    case meta::config_type::int64:
      return kLong;
    case meta::config_type::float64:
      return kDouble;
    case meta::config_type::list:
      return kList;
    case meta::config_type::string:
      break;
  }
  return kString;
}

int8_t kafka_type(setting_type t) {
  switch (t) {
    case setting_type::boolean:
      return kBoolean;
    case setting_type::int32:
      return kInt;
    case setting_type::int64:
      return kLong;
    case setting_type::list:
      return kList;
    case setting_type::string:
      break;
  }
  return kString;
}

bool wanted(const describe_configs_request::describe_configs_resource& r, std::string_view key) {
  const auto& keys = r.configuration_keys;
  if (!keys || keys->empty()) return true;
  return std::find(keys->begin(), keys->end(), key) != keys->end();
}

void add_synonym(entry_t& e, std::string_view name, std::string value, int8_t source) {
  auto& s = e.synonyms.emplace_back();
  s.name = std::string(name);
  s.value = std::move(value);
  s.source = source;
}

void describe_topic(const request_context& ctx, const describe_configs_request& req,
                    const describe_configs_request::describe_configs_resource& r, result_t& out) {
  auto topics = ctx.owner.topics().snapshot();
  auto it = topics->find(r.resource_name);
  if (it == topics->end()) {
    out.error_code = kafka::code(kafka::error::unknown_topic_or_partition);
    out.error_message = "Topic '" + r.resource_name + "' does not exist.";
    return;
  }
  const topic_entry& t = *it->second;
  auto broker_cfg = ctx.owner.topics().broker_configs();
  for (const auto& key : meta::topic_config_keys()) {
    if (!wanted(r, key.name)) continue;
    auto resolved = meta::resolve_topic_config(key.name, t.configs, broker_cfg->effective);
    if (!resolved) continue;  // a damaged override; load() already logged it
    const auto& v = resolved.value();
    auto& e = out.configs.emplace_back();
    e.name = std::string(key.name);
    e.value = v.value;
    e.read_only = false;
    const bool dynamic = v.source != meta::config_source::topic_override &&
                         !key.broker_key.empty() &&
                         broker_cfg->overrides.contains(std::string(key.broker_key));
    e.config_source = v.source == meta::config_source::topic_override  ? kTopicConfig
                      : dynamic                                        ? kDynamicBrokerConfig
                      : v.source == meta::config_source::broker_config ? kStaticBrokerConfig
                                                                       : kDefaultConfig;
    e.is_default = v.source == meta::config_source::default_config && !dynamic;
    e.is_sensitive = false;
    e.config_type = kafka_type(key.type);
    e.documentation =
        req.include_documentation ? std::optional<std::string>(key.doc) : std::nullopt;
    if (!req.include_synonyms) continue;
    if (auto o = t.configs.find(std::string(key.name)); o != t.configs.end()) {
      add_synonym(e, key.name, o->second, kTopicConfig);
    }
    std::string_view default_name = key.name;
    if (!key.broker_key.empty()) {
      default_name = key.broker_key;
      if (auto d = broker_cfg->overrides.find(std::string(key.broker_key));
          d != broker_cfg->overrides.end()) {
        add_synonym(e, key.broker_key, d->second, kDynamicBrokerConfig);
      }
      if (find_config_setting(key.broker_key) != nullptr) {
        auto value = config_setting_value(ctx.cfg, key.broker_key);
        if (value != config_setting_default(key.broker_key)) {
          add_synonym(e, key.broker_key, value, kStaticBrokerConfig);
        }
      }
    }
    add_synonym(e, default_name, std::string(key.default_value), kDefaultConfig);
  }
}

void describe_broker(const request_context& ctx, const describe_configs_request& req,
                     const describe_configs_request::describe_configs_resource& r, result_t& out) {
  if (r.resource_name.empty()) return;  // no dynamic default broker configs
  if (r.resource_name != std::to_string(ctx.cfg.node_id)) {
    out.error_code = kafka::code(kafka::error::invalid_request);
    out.error_message = "Unexpected broker id, expected " + std::to_string(ctx.cfg.node_id) +
                        " or empty string, but received " + r.resource_name;
    return;
  }
  auto broker_cfg = ctx.owner.topics().broker_configs();
  for (const auto& s : config_settings()) {
    if (!wanted(r, s.name)) continue;
    auto value = config_setting_value(broker_cfg->effective, s.name);
    auto static_value = config_setting_value(ctx.cfg, s.name);
    auto dflt = config_setting_default(s.name);
    auto dynamic = broker_cfg->overrides.find(std::string(s.name));
    const bool is_dynamic = dynamic != broker_cfg->overrides.end();
    bool is_default = !is_dynamic && value == dflt;
    auto& e = out.configs.emplace_back();
    e.name = std::string(s.name);
    e.value = value;
    // Kafka marks configs that cannot change at runtime read-only.
    e.read_only = !is_dynamic_broker_config(s.name);
    e.config_source = is_dynamic   ? kDynamicBrokerConfig
                      : is_default ? kDefaultConfig
                                   : kStaticBrokerConfig;
    e.is_default = is_default;
    e.is_sensitive = false;
    e.config_type = kafka_type(s.type);
    e.documentation = req.include_documentation ? std::optional<std::string>(s.doc) : std::nullopt;
    if (!req.include_synonyms) continue;
    if (is_dynamic) add_synonym(e, s.name, dynamic->second, kDynamicBrokerConfig);
    if (static_value != dflt) add_synonym(e, s.name, static_value, kStaticBrokerConfig);
    add_synonym(e, s.name, dflt, kDefaultConfig);
  }
}

void handle(request_context& ctx, describe_configs_request& req,
            responder<describe_configs_response> reply) {
  describe_configs_response resp;
  for (const auto& r : req.resources) {
    auto& out = resp.results.emplace_back();
    out.resource_type = r.resource_type;
    out.resource_name = r.resource_name;
    out.error_code = 0;
    out.error_message = std::nullopt;
    if (r.resource_type == kResourceTopic) {
      describe_topic(ctx, req, r, out);
    } else if (r.resource_type == kResourceBroker) {
      describe_broker(ctx, req, r, out);
    } else {
      out.error_code = kafka::code(kafka::error::invalid_request);
      out.error_message = "Unsupported resource type " + std::to_string(r.resource_type);
    }
    if (out.error_code != 0) out.configs.clear();
  }
  reply(std::move(resp));
}

}  // namespace

extern const handler describe_configs_handler = {
    describe_configs_request::api_key, 0, 4,
    &typed_handle<describe_configs_request, describe_configs_response, &handle>};

}  // namespace sluice::broker
