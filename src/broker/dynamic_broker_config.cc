// Dynamic broker configs: which settings may change at runtime, loading the stored overrides,
// and the control thread's side of AlterConfigs/IncrementalAlterConfigs on the BROKER resource
// (topic_manager.h says how they are applied).

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

#include "src/base/config_keys.h"
#include "src/broker/topic_manager.h"

namespace sluice::broker {

namespace {

// The broker synonyms of topic configs (src/meta/topic_config.cc): read only when a topic's
// settings are resolved, so re-resolving the topics applies them. Kafka lists the same keys as
// dynamic per-broker and cluster-wide log configs.
constexpr std::array<std::string_view, 12> kDynamic = {
    "log.cleaner.delete.retention.ms",
    "log.cleanup.policy",
    "log.flush.interval.messages",
    "log.flush.interval.ms",
    "log.index.interval.bytes",
    "log.message.timestamp.difference.max.ms",
    "log.message.timestamp.type",
    "log.retention.bytes",
    "log.retention.ms",
    "log.roll.ms",
    "log.segment.bytes",
    "message.max.bytes",
};

std::string joined(const std::vector<std::string>& keys) {
  std::string s;
  for (const auto& k : keys) s += (s.empty() ? "" : ", ") + k;
  return s;
}

}  // namespace

bool is_dynamic_broker_config(std::string_view key) {
  return std::find(kDynamic.begin(), kDynamic.end(), key) != kDynamic.end();
}

std::error_code topic_manager::load_broker_configs() {
  auto stored = _store.get_broker_config(_cfg.node_id);
  if (!stored) return stored.error();
  meta::config_map kept;
  for (const auto& [k, v] : stored.value()) {
    // A key that stopped being dynamic, or a value this version refuses, is dropped with a
    // warning rather than keeping the broker from starting.
    std::string why = is_dynamic_broker_config(k) ? apply_config_setting(_effective, k, v)
                                                  : k + ": not a dynamic broker config";
    if (!why.empty()) {
      spdlog::warn("ignoring stored dynamic broker config: {}", why);
      continue;
    }
    kept[k] = v;
  }
  if (!kept.empty()) spdlog::info("applied {} dynamic broker configs", kept.size());
  _broker_configs.store(
      std::make_shared<const broker_config_state>(broker_config_state{_effective, kept}));
  return {};
}

topic_outcome topic_manager::alter_broker_one(const alter_spec& spec, topic_map& next) {
  topic_outcome r{spec.name, kafka::error::none, {}, nullptr};
  auto fail = [&](kafka::error e, std::string msg) {
    r.error = e;
    r.message = std::move(msg);
    return r;
  };
  auto current = _broker_configs.load();
  meta::config_map overrides = spec.incremental ? current->overrides : spec.replace;
  std::vector<std::string> named;
  if (spec.incremental) {
    for (const auto& ch : spec.changes) {
      named.push_back(ch.name);
      switch (ch.op) {
        case config_op::set:
          if (!ch.value) {
            return fail(kafka::error::invalid_request, "Null value not supported for: " + ch.name);
          }
          overrides[ch.name] = *ch.value;
          break;
        case config_op::remove:
          overrides.erase(ch.name);
          break;
        default:
          return fail(kafka::error::invalid_config,
                      "Only SET and DELETE are supported on broker configs: " + ch.name);
      }
    }
  } else {
    for (const auto& [k, v] : spec.replace) named.push_back(k);
  }
  // Kafka's checks and errors: unknown keys INVALID_CONFIG, static ones INVALID_REQUEST.
  std::vector<std::string> unknown, read_only;
  for (const auto& k : named) {
    if (find_config_setting(k) == nullptr) {
      unknown.push_back(k);
    } else if (!is_dynamic_broker_config(k)) {
      read_only.push_back(k);
    }
  }
  if (!unknown.empty()) {
    return fail(kafka::error::invalid_config, "Unknown broker configs: " + joined(unknown));
  }
  if (!read_only.empty()) {
    return fail(kafka::error::invalid_request,
                "Cannot update these configs dynamically: " + joined(read_only) +
                    " (read-only: change the config file and restart)");
  }
  // A value the setting refuses is INVALID_REQUEST, as Kafka answers for broker resources
  // (its ConfigAdminManager, KAFKA-13609), unlike INVALID_CONFIG for topics.
  config effective = _cfg;
  for (const auto& [k, v] : overrides) {
    if (auto why = apply_config_setting(effective, k, v); !why.empty()) {
      return fail(kafka::error::invalid_request, why);
    }
  }
  // Every topic must still resolve with the new defaults before anything is written.
  std::vector<std::pair<topic_map::iterator, meta::topic_settings>> resolved;
  for (auto it = next.begin(); it != next.end(); ++it) {
    auto settings = meta::resolve_topic_settings(it->second->configs, effective);
    if (!settings) {
      return fail(kafka::error::invalid_config,
                  "topic " + it->first + ": " + settings.error().message());
    }
    resolved.emplace_back(it, settings.value());
  }
  if (spec.validate_only) return r;

  if (auto ec = _store.set_broker_config(_cfg.node_id, overrides)) {
    spdlog::error("altering broker configs: metadata store: {}", ec.message());
    return fail(kafka::error::kafka_storage_error, "Metadata store write failed: " + ec.message());
  }
  for (auto& [it, settings] : resolved) {
    auto e = std::make_shared<topic_entry>(*it->second);
    e->settings = settings;
    e->config_version = e->config_version + 1;
    it->second = std::move(e);
  }
  _effective = effective;
  _broker_configs.store(
      std::make_shared<const broker_config_state>(broker_config_state{effective, overrides}));
  spdlog::info("altered dynamic broker configs ({} set)", overrides.size());
  return r;
}

}  // namespace sluice::broker
