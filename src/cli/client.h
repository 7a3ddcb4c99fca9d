#pragma once
// The CLI's Kafka client layer over librdkafka (Debian 2.0.2): handles, metadata, admin calls,
// offsets, configs. Speaks only the Kafka protocol, so it works against any Kafka-compatible
// broker.
//
// Every call is bounded by `options::timeout`: librdkafka retries forever by default, so each
// blocking call gets the timeout and admin calls get it as their request/operation timeout.
// `connect` is every verb's first call: an unreachable broker fails there with a message saying
// so. Error names are Kafka's (UNKNOWN_TOPIC_OR_PARTITION), not librdkafka's abbreviations.
// Single-threaded use; librdkafka's own threads stay inside the handle.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/cli/failure.h"

namespace sluice::cli {

struct options {
  std::string brokers;
  std::chrono::milliseconds timeout{10000};
  std::vector<std::string> properties;  // -X key=value, passed to librdkafka
  bool verbose = false;                 // librdkafka logs on stderr
};

struct handle_deleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using handle = std::unique_ptr<rd_kafka_t, handle_deleter>;

struct event_deleter {
  void operator()(rd_kafka_event_t* ev) const { rd_kafka_event_destroy(ev); }
};
using event_ptr = std::unique_ptr<rd_kafka_event_t, event_deleter>;

struct partition_list_deleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using partition_list = std::unique_ptr<rd_kafka_topic_partition_list_t, partition_list_deleter>;

// Kafka's name for an error code; librdkafka's for its local (negative) codes.
std::string error_name(rd_kafka_resp_err_t err);
// "NAME: detail" (detail defaults to librdkafka's description).
failure kafka_failure(rd_kafka_resp_err_t err, const std::string& detail = {});

// librdkafka properties every handle gets: brokers, timeouts bounded by --timeout, then the -X
// overrides in order. Used for both the C handles and the C++ producer/consumers.
outcome<std::vector<std::pair<std::string, std::string>>> base_properties(const options& opt);
// A C conf with base_properties and logs silenced unless --verbose.
outcome<rd_kafka_conf_t*> make_conf(const options& opt);
// A C++ API conf with base_properties; librdkafka's logs and error events are dropped unless
// --verbose (the verbs report failures themselves).
outcome<std::unique_ptr<RdKafka::Conf>> make_cpp_conf(const options& opt);
// Sets one property on a C++ conf, failing with the property in the message.
outcome<void> set_property(RdKafka::Conf& conf, const std::string& key, const std::string& value);

// A producer-type handle used for metadata, admin calls and offset lookups.
outcome<handle> make_admin_handle(const options& opt);

struct partition_info {
  int32_t id = 0;
  int32_t leader = -1;
  std::vector<int32_t> replicas;
  std::vector<int32_t> isr;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
};
struct topic_info {
  std::string name;
  std::vector<partition_info> partitions;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
};
struct broker_info {
  int32_t id = 0;
  std::string host;
  int port = 0;
};
struct cluster_metadata {
  std::vector<broker_info> brokers;
  std::vector<topic_info> topics;
  int32_t controller_id = -1;
  std::string cluster_id;

  const topic_info* find(const std::string& topic) const;
};

// Metadata for all topics; the "cannot reach" failure for an unreachable broker.
outcome<cluster_metadata> connect(rd_kafka_t* rk, const options& opt);
// The topic's metadata, or UNKNOWN_TOPIC_OR_PARTITION.
outcome<const topic_info*> require_topic(const cluster_metadata& md, const std::string& topic);

// Starts one admin call on a private queue and waits (bounded) for its result event.
// `start` receives the admin options (timeouts already set) and the queue.
outcome<event_ptr> admin_call(
    rd_kafka_t* rk, const options& opt, rd_kafka_admin_op_t op,
    const std::function<void(rd_kafka_AdminOptions_t*, rd_kafka_queue_t*)>& start);

// ListOffsets for every partition of `topic`: `when` is a timestamp in ms, or
// RD_KAFKA_OFFSET_BEGINNING / RD_KAFKA_OFFSET_END for the watermarks. Result by partition.
outcome<std::map<int32_t, int64_t>> list_offsets(rd_kafka_t* rk, const options& opt,
                                                 const topic_info& topic, int64_t when);

struct watermark {
  int64_t low = -1;
  int64_t high = -1;
};
outcome<std::map<int32_t, watermark>> watermarks(rd_kafka_t* rk, const options& opt,
                                                 const topic_info& topic);

struct config_entry {
  std::string name;
  std::optional<std::string> value;  // null for sensitive entries
  std::string source;                // Kafka's source name, e.g. DYNAMIC_TOPIC_CONFIG
  bool read_only = false;
  bool is_default = false;
  bool sensitive = false;
};
outcome<std::vector<config_entry>> describe_configs(rd_kafka_t* rk, const options& opt,
                                                    rd_kafka_ResourceType_t type,
                                                    const std::string& name);
// Non-incremental AlterConfigs (librdkafka 2.0.2 lacks IncrementalAlterConfigs): `values` is the
// complete set of dynamic configs the resource keeps; anything left out reverts to its default.
outcome<void> alter_configs(rd_kafka_t* rk, const options& opt, rd_kafka_ResourceType_t type,
                            const std::string& name,
                            const std::map<std::string, std::string>& values);

// Splits "key=value"; fails with a message naming `what` when '=' is missing.
outcome<std::pair<std::string, std::string>> split_assignment(const std::string& s,
                                                              const std::string& what);

}  // namespace sluice::cli
