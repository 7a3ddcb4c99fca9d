#pragma once
// Topics: the broker-wide table every shard reads, and the one place that changes it.
//
// Contract:
// - Readers on any shard take `snapshot()`: an immutable map that never changes under them.
//   Readers take no lock the writer holds for long; a new snapshot replaces the old atomically.
// - Changes (create, alter configs, later delete) run one at a time on the control thread, which
//   writes the metadata store (RocksDB, fsynced) before publishing the new snapshot: a topic a
//   client has seen survives a crash. Completions run on the control thread; callers post them
//   back to their own shard.
//
// - Deleting removes the topic from the store, then publishes a snapshot without it; the
//   partitions' logs are the caller's to drop on their owner shards (shard_partitions::drop).
// - Adding partitions only ever increases the count; it is persisted before it is published.
//
// - Dynamic broker configs (AlterConfigs/IncrementalAlterConfigs on the BROKER resource): the
//   log.* defaults topics fall back to, and message.max.bytes (is_dynamic_broker_config). Nothing
//   reads them but topic settings resolution, so a change is applied live by re-resolving every
//   topic on the control thread and publishing the new settings as a topic config change does.
//   The overrides are stored (broker_config column family) before they are published, and
//   applied again by load().
//
// Thread safety: snapshot() and broker_configs() from any thread; create(), alter(), remove() and
// add_partitions() from any thread; load() and stop() from the main thread only.

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sluice/config.h>

#include "src/meta/store.h"
#include "src/meta/topic_config.h"
#include "src/protocol/kafka_error.h"
#include "src/protocol/wire.h"

namespace sluice::broker {

struct topic_entry {
  std::string name;
  wire::uuid id{};
  int32_t partitions = 0;
  meta::config_map configs;  // topic-level overrides
  meta::topic_settings settings;
  // Bumped by every config change; open partitions adopt an entry with a newer one.
  uint64_t config_version = 0;
  // Which creation of this name, in this process: a topic deleted and re-created gets a higher
  // one, so shards tell a stale request (holding the old entry) from a newer topic.
  uint64_t incarnation = 0;
};

using topic_map = std::map<std::string, std::shared_ptr<const topic_entry>, std::less<>>;

// The topic of a partition a request names; null when the topic is unknown or the index out of
// range.
inline std::shared_ptr<const topic_entry> find_partition(const topic_map& topics,
                                                         std::string_view name, int32_t index) {
  auto it = topics.find(name);
  if (it == topics.end() || index < 0 || index >= it->second->partitions) return nullptr;
  return it->second;
}

struct topic_spec {
  std::string name;
  int32_t partitions = -1;          // -1: num.partitions
  int16_t replication_factor = -1;  // -1 or 1: Sluice keeps one replica
  meta::config_map configs;
  bool validate_only = false;
};

struct topic_outcome {
  std::string name;
  kafka::error error = kafka::error::none;
  std::string message;                       // for error_message fields
  std::shared_ptr<const topic_entry> topic;  // the created (or, validate-only, would-be) topic
};

// One config change of an IncrementalAlterConfigs request.
enum class config_op : int8_t { set = 0, remove = 1, append = 2, subtract = 3 };

struct config_change {
  std::string name;
  config_op op = config_op::set;
  std::optional<std::string> value;
};

// A change of one topic's overrides: AlterConfigs replaces them all (`replace`), while
// IncrementalAlterConfigs applies `changes` to the current ones. With `broker` set, the
// resource is the broker (`name` its node id) and the overrides are dynamic broker configs.
struct alter_spec {
  std::string name;
  bool incremental = false;
  meta::config_map replace;
  std::vector<config_change> changes;
  bool validate_only = false;
  bool broker = false;
};

// The broker settings Sluice can change at runtime (Kafka's names).
bool is_dynamic_broker_config(std::string_view key);

// The broker's settings as they are now: the startup config with the dynamic overrides applied.
struct broker_config_state {
  config effective;
  meta::config_map overrides;  // DYNAMIC_BROKER_CONFIG
};

// A topic to delete: by name, or by id.
struct topic_ref {
  std::string name;
  wire::uuid id{};
  bool by_id = false;
};

struct partitions_spec {
  std::string name;
  int32_t count = 0;  // the new total
  bool validate_only = false;
};

class topic_manager {
 public:
  topic_manager(const config& cfg, meta::store& store);
  ~topic_manager();

  // Reads every topic from the store into the first snapshot.
  std::error_code load();
  void stop();

  std::shared_ptr<const topic_map> snapshot() const { return _map.load(); }
  std::shared_ptr<const broker_config_state> broker_configs() const {
    return _broker_configs.load();
  }

  using create_done = std::function<void(std::vector<topic_outcome>)>;
  void create(std::vector<topic_spec> specs, create_done done);

  // Changes topic configs: validates the new override set (INVALID_CONFIG with a message),
  // writes it to the store and publishes entries with re-resolved settings. Outcomes carry the
  // new (or, validate-only, would-be) entry.
  using alter_done = std::function<void(std::vector<topic_outcome>)>;
  void alter(std::vector<alter_spec> specs, alter_done done);

  // Outcomes in request order; a deleted topic's outcome carries its (last) entry.
  // Errors: UNKNOWN_TOPIC_OR_PARTITION (name), UNKNOWN_TOPIC_ID (id), KAFKA_STORAGE_ERROR.
  void remove(std::vector<topic_ref> refs, create_done done);
  // Outcomes in request order, carrying the new (or, validate-only, would-be) entry.
  // Errors: UNKNOWN_TOPIC_OR_PARTITION, INVALID_PARTITIONS (not an increase), KAFKA_STORAGE_ERROR.
  void add_partitions(std::vector<partitions_spec> specs, create_done done);

 private:
  topic_outcome create_one(const topic_spec& spec, topic_map& next);
  topic_outcome alter_one(const alter_spec& spec, topic_map& next);
  topic_outcome alter_broker_one(const alter_spec& spec, topic_map& next);
  // load(): applies the stored dynamic broker configs to _effective.
  std::error_code load_broker_configs();
  topic_outcome remove_one(const topic_ref& ref, topic_map& next);
  topic_outcome add_partitions_one(const partitions_spec& spec, topic_map& next);

  const config& _cfg;  // as started (file and flags)
  config _effective;   // _cfg with the dynamic broker configs; load() and the control thread
  meta::store& _store;
  std::atomic<std::shared_ptr<const topic_map>> _map;
  std::atomic<std::shared_ptr<const broker_config_state>> _broker_configs;
  uint64_t _next_incarnation = 1;  // load() and the control thread only
  boost::asio::thread_pool _control{1};
};

}  // namespace sluice::broker
