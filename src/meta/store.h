#pragma once
// The metadata store: one RocksDB database at <data_dir>/meta.
//
// Contract:
// - Column families (created when missing, all opened on every start): topics, broker_config,
//   group_offsets, groups, producers, acls, users (plus RocksDB's unused "default"). Families
//   this version does not know (written by a newer broker) are opened too and left alone, so a
//   downgrade still starts.
// - Keys are binary (src/meta/keys.h, big-endian integers); values are serialized protobuf
//   (proto/sluice/meta.proto). Layouts: docs/formats/metadata.md.
// - Every write that returns success is durable: it is fsynced (WriteOptions::sync) before the
//   call returns. Reads see every write that returned before them.
// - Errors are values: errc::not_found for a missing key, errc::invalid_data for a value that
//   does not parse, errc::no_space / errc::io_error from the disk. Nothing throws.
//
// Threading: the RocksDB handle is thread-safe, and so is every const and non-const method here
// except open/destruction, which the owner does once. Calls block on disk (writes fsync), so
// shard threads never call them directly: the broker calls at startup (load topics) and from the
// background pool for blocking work (docs/architecture.md), then posts results to the shard.

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "src/base/errc.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace sluice::meta {

// Column families. The order is the index into store's handle table; names are in store.cc.
enum class cf : int {
  topics = 0,
  broker_config,
  group_offsets,
  groups,
  producers,
  acls,
  users,
};
inline constexpr int kColumnFamilyCount = 7;

// RocksDB's name of a column family ("topics", "group_offsets", ...).
std::string_view cf_name(cf family);

using config_map = std::map<std::string, std::string>;

struct topic_info {
  std::string name;
  std::array<uint8_t, 16> id{};  // Kafka topic id (UUID bytes)
  int32_t partition_count = 0;
  config_map configs;  // topic-level overrides only
  int64_t created_ms = 0;

  friend bool operator==(const topic_info&, const topic_info&) = default;
};

// A group of puts and deletes over any column families, applied atomically by store::write.
class write_batch {
 public:
  void put(cf family, std::string key, std::string value);
  void del(cf family, std::string key);
  // Moves every operation of `other` after this batch's own (group commit: many batches, one
  // synced write).
  void append(write_batch&& other);
  bool empty() const { return _ops.empty(); }
  size_t size() const { return _ops.size(); }

 private:
  friend class store;
  struct op {
    cf family;
    std::string key;
    std::string value;
    bool is_delete;
  };
  std::vector<op> _ops;
};

class store {
 public:
  // Opens (creating when missing) <data_dir>/meta; creates data_dir too if needed.
  static result<std::unique_ptr<store>> open(const std::string& data_dir);
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // Topics. put replaces any record of the same name. errc::invalid_data for an empty name.
  std::error_code put_topic(const topic_info& t);
  result<topic_info> get_topic(std::string_view name) const;
  std::error_code delete_topic(std::string_view name);  // deleting a missing topic is success
  result<std::vector<topic_info>> list_topics() const;  // ordered by name (bytewise)

  // Dynamic broker config overrides of one node; an empty map when none were ever set.
  result<config_map> get_broker_config(int32_t node_id) const;
  // Replaces the node's overrides (an empty map deletes the record).
  std::error_code set_broker_config(int32_t node_id, const config_map& overrides);

  // Producer ids (InitProducerId): the first id not yet reserved by any broker run; 0 when
  // none was ever reserved. Reserving writes the new value (fsynced) before ids below it are
  // handed out, so a restart never hands out an id twice.
  result<int64_t> get_producer_id_reserved() const;
  std::error_code set_producer_id_reserved(int64_t next_unreserved);

  // Generic access for the column families filled by later issues (offsets, producers, ...).
  // `sync` = false is for data that may be lost on a crash (it is rebuilt); the default keeps
  // the durability promise above.
  std::error_code write(const write_batch& batch, bool sync = true);
  result<std::string> get(cf family, std::string_view key) const;
  // Calls fn(key, value) for every key starting with `prefix`, in key order, until fn returns
  // false. The views are valid only during the call.
  std::error_code scan(cf family, std::string_view prefix,
                       const std::function<bool(std::string_view, std::string_view)>& fn) const;

  const std::string& path() const { return _path; }

 private:
  store() = default;
  rocksdb::ColumnFamilyHandle* handle(cf family) const;

  std::string _path;
  std::unique_ptr<rocksdb::DB> _db;
  // All open handles: the known families first, in cf order, then unknown ones.
  std::vector<rocksdb::ColumnFamilyHandle*> _handles;
};

}  // namespace sluice::meta
