#pragma once
// Topic-level configs: Kafka's names, types, defaults and validation, and how a topic's
// effective value is resolved.
//
// A topic stores only its overrides (store.h, topic_info::configs). Every other key falls back to
// the broker setting Kafka names as its synonym (retention.ms <- log.retention.ms, from
// sluice::config), or, when Sluice has no such broker setting, to Kafka's default. The one table
// of keys lives in topic_config.cc. Validation follows Kafka's ConfigDef: values are trimmed,
// booleans are case-insensitive, enums are case-sensitive, lists are comma-separated.
//
// Messages are one line naming the key, meant for the error message of INVALID_CONFIG.
//
// Thread safety: pure functions over an immutable table; call from any thread.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <sluice/config.h>

#include "src/base/errc.h"

namespace sluice::meta {

using config_map = std::map<std::string, std::string>;

enum class config_type { boolean, int32, int64, float64, string, list };

// Where an effective value came from; maps onto DescribeConfigs' ConfigSource.
enum class config_source {
  topic_override,  // TOPIC_CONFIG (1): set on the topic
  broker_config,   // STATIC_BROKER_CONFIG (4): the broker synonym, set away from its default
  default_config,  // DEFAULT_CONFIG (5): Kafka's default
};

struct topic_config_key {
  std::string_view name;
  config_type type;
  std::string_view default_value;  // Kafka's default, as text
  std::string_view broker_key;     // Kafka's broker synonym; "" when it has none
  std::string_view doc;
};

// Every topic config Sluice knows, in the table's order.
const std::vector<topic_config_key>& topic_config_keys();
const topic_config_key* find_topic_config(std::string_view name);

// "" when `value` is valid for `name`, else a one-line message naming the key (unknown keys too).
std::string validate_topic_config(std::string_view name, std::string_view value);

// Every entry, then the cross-key rules (min.compaction.lag.ms <= max.compaction.lag.ms).
std::string validate_topic_configs(const config_map& overrides);

struct resolved_config {
  std::string value;  // normalized text (trimmed; booleans lower-case)
  config_source source;
  std::string_view broker_key;  // the synonym consulted, "" when none
};

// Effective value of one key. errc::not_found for an unknown key; errc::invalid_config when the
// override is invalid (overrides are validated on the way in, so this means a damaged store).
result<resolved_config> resolve_topic_config(std::string_view name, const config_map& overrides,
                                             const config& broker);

enum class topic_compression { producer, uncompressed, gzip, snappy, lz4, zstd };

// A topic's effective configs, typed, for the storage layer.
struct topic_settings {
  bool cleanup_delete = true;    // cleanup.policy contains delete
  bool cleanup_compact = false;  // cleanup.policy contains compact
  topic_compression compression = topic_compression::producer;
  int64_t delete_retention_ms = 86400000;
  int64_t file_delete_delay_ms = 60000;
  int64_t flush_messages = INT64_MAX;
  int64_t flush_ms = INT64_MAX;
  int32_t index_interval_bytes = 4096;
  int64_t max_compaction_lag_ms = INT64_MAX;
  int32_t max_message_bytes = 1048588;
  bool message_downconversion_enable = true;
  bool log_append_time = false;  // message.timestamp.type == LogAppendTime
  int64_t message_timestamp_difference_max_ms = INT64_MAX;
  double min_cleanable_dirty_ratio = 0.5;
  int64_t min_compaction_lag_ms = 0;
  int32_t min_insync_replicas = 1;
  bool preallocate = false;
  int64_t retention_bytes = -1;      // < 0: no size limit
  int64_t retention_ms = 604800000;  // -1: no time limit
  int32_t segment_bytes = 1073741824;
  int32_t segment_index_bytes = 10485760;
  int64_t segment_jitter_ms = 0;
  int64_t segment_ms = 604800000;
  bool unclean_leader_election_enable = false;
};

// Resolves every key (override > broker synonym > Kafka default) into typed settings.
// errc::invalid_config when an override is unknown or invalid.
result<topic_settings> resolve_topic_settings(const config_map& overrides, const config& broker);

}  // namespace sluice::meta
