#pragma once
// Topics: the broker-wide table every shard reads, and the one place that changes it.
//
// Contract:
// - Readers on any shard take `snapshot()`: an immutable map that never changes under them.
//   Readers take no lock the writer holds for long; a new snapshot replaces the old atomically.
// - Changes (create, later delete and alter) run one at a time on the control thread, which
//   writes the metadata store (RocksDB, fsynced) before publishing the new snapshot: a topic a
//   client has seen survives a crash. Completions run on the control thread; callers post them
//   back to their own shard.
//
// Thread safety: snapshot() from any thread; create() from any thread; load() and stop() from
// the main thread only.

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
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
};

using topic_map = std::map<std::string, std::shared_ptr<const topic_entry>, std::less<>>;

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

class topic_manager {
 public:
  topic_manager(const config& cfg, meta::store& store);
  ~topic_manager();

  // Reads every topic from the store into the first snapshot.
  std::error_code load();
  void stop();

  std::shared_ptr<const topic_map> snapshot() const { return _map.load(); }

  using create_done = std::function<void(std::vector<topic_outcome>)>;
  void create(std::vector<topic_spec> specs, create_done done);

 private:
  topic_outcome create_one(const topic_spec& spec, topic_map& next);

  const config& _cfg;
  meta::store& _store;
  std::atomic<std::shared_ptr<const topic_map>> _map;
  boost::asio::thread_pool _control{1};
};

}  // namespace sluice::broker
