#pragma once
// The broker's settings, as one typed value.
//
// Keys use Apache Kafka's broker config names wherever Kafka has one, so operators' knowledge
// carries over. The single table of keys (name, default, range, doc) lives in
// src/base/config_keys.cc (used by the config loader and by DescribeConfigs); config/sluice.yaml
// documents every key with its default and a unit test keeps the two in step.
//
// Thread safety: built once at startup, then read-only and shared by every shard.

#include <cstdint>
#include <string>

namespace sluice {

struct listener {
  std::string host = "localhost";
  uint16_t port = 9092;
};

struct config {
  // Process.
  std::string data_dir = "./data";             // log.dir
  std::string log_level = "info";              // log.level
  int32_t node_id = 0;                         // node.id
  int32_t num_shards = 0;                      // sluice.shards (0 = one per core)
  listener listen;                             // listeners (PLAINTEXT://host:port)
  std::string advertised_host;                 // advertised.listeners host ("" = listen host)
  int32_t advertised_port = 0;                 // advertised.listeners port (0 = listen port)
  std::string http_listen = "127.0.0.1:9644";  // http.listen

  // Network.
  int64_t socket_request_max_bytes = 104857600;              // socket.request.max.bytes
  int64_t connections_max_idle_ms = 600000;                  // connections.max.idle.ms
  int32_t max_incremental_fetch_session_cache_slots = 1000;  // max.incremental.fetch...slots

  // Topics and logs.
  int32_t num_partitions = 1;                             // num.partitions
  bool auto_create_topics_enable = true;                  // auto.create.topics.enable
  int32_t default_replication_factor = 1;                 // default.replication.factor
  int64_t log_segment_bytes = 1073741824;                 // log.segment.bytes
  int64_t log_roll_ms = 604800000;                        // log.roll.ms
  int64_t log_retention_ms = 604800000;                   // log.retention.ms
  int64_t log_retention_bytes = -1;                       // log.retention.bytes
  int64_t log_retention_check_interval_ms = 300000;       // log.retention.check.interval.ms
  int32_t log_index_interval_bytes = 4096;                // log.index.interval.bytes
  int64_t log_flush_interval_messages = INT64_MAX;        // log.flush.interval.messages
  int64_t log_flush_interval_ms = INT64_MAX;              // log.flush.interval.ms
  std::string log_cleanup_policy = "delete";              // log.cleanup.policy
  int64_t log_cleaner_delete_retention_ms = 86400000;     // log.cleaner.delete.retention.ms
  std::string log_message_timestamp_type = "CreateTime";  // log.message.timestamp.type
  int64_t log_message_timestamp_difference_max_ms = INT64_MAX;
  int32_t message_max_bytes = 1048588;  // message.max.bytes
  int64_t fsync_min_interval_us = 0;    // sluice.fsync.min.interval.us (0 = back to back)

  // Groups and offsets.
  int32_t group_min_session_timeout_ms = 6000;          // group.min.session.timeout.ms
  int32_t group_max_session_timeout_ms = 1800000;       // group.max.session.timeout.ms
  int32_t group_initial_rebalance_delay_ms = 3000;      // group.initial.rebalance.delay.ms
  int32_t group_max_size = 2147483647;                  // group.max.size
  int32_t offsets_retention_minutes = 10080;            // offsets.retention.minutes
  int32_t group_consumer_session_timeout_ms = 45000;    // group.consumer.session.timeout.ms
  int32_t group_consumer_heartbeat_interval_ms = 5000;  // group.consumer.heartbeat.interval.ms

  // Transactions and idempotence.
  int32_t transaction_max_timeout_ms = 900000;         // transaction.max.timeout.ms
  int32_t transactional_id_expiration_ms = 604800000;  // transactional.id.expiration.ms
  int32_t producer_id_expiration_ms = 86400000;        // producer.id.expiration.ms
};

}  // namespace sluice
