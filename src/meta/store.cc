#include "src/meta/store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <filesystem>

#include "proto/sluice/meta.pb.h"
#include "src/meta/keys.h"

namespace sluice::meta {
namespace {

constexpr std::array<std::string_view, kColumnFamilyCount> kNames = {
    "topics", "broker_config", "group_offsets", "groups", "producers", "acls", "users"};

std::error_code to_error(const rocksdb::Status& s) {
  if (s.ok()) return {};
  if (s.IsNotFound()) return errc::not_found;
  if (s.IsNoSpace()) return errc::no_space;
  if (s.IsCorruption() || s.IsInvalidArgument()) return errc::invalid_data;
  return errc::io_error;
}

rocksdb::Slice slice(std::string_view v) { return {v.data(), v.size()}; }

std::string encode(const topic_info& t) {
  TopicRecord r;
  r.set_name(t.name);
  r.set_id(t.id.data(), t.id.size());
  r.set_partition_count(t.partition_count);
  for (const auto& [k, v] : t.configs) (*r.mutable_configs())[k] = v;
  r.set_created_ms(t.created_ms);
  return r.SerializeAsString();
}

result<topic_info> decode_topic(std::string_view bytes) {
  TopicRecord r;
  if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) || r.id().size() != 16) {
    return errc::invalid_data;
  }
  topic_info t;
  t.name = r.name();
  std::copy(r.id().begin(), r.id().end(), t.id.begin());
  t.partition_count = r.partition_count();
  t.configs.insert(r.configs().begin(), r.configs().end());
  t.created_ms = r.created_ms();
  return t;
}

rocksdb::WriteOptions write_options(bool sync) {
  rocksdb::WriteOptions o;
  o.sync = sync;
  return o;
}

}  // namespace

std::string_view cf_name(cf family) { return kNames[static_cast<size_t>(family)]; }

void write_batch::put(cf family, std::string key, std::string value) {
  _ops.push_back({family, std::move(key), std::move(value), false});
}

void write_batch::append(write_batch&& other) {
  if (_ops.empty()) {
    _ops = std::move(other._ops);
  } else {
    for (auto& o : other._ops) _ops.push_back(std::move(o));
  }
  other._ops.clear();
}

void write_batch::del(cf family, std::string key) {
  _ops.push_back({family, std::move(key), {}, true});
}

result<std::unique_ptr<store>> store::open(const std::string& data_dir) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::path(data_dir) / "meta";
  std::filesystem::create_directories(dir, ec);
  if (ec) return ec == std::errc::no_space_on_device ? errc::no_space : errc::io_error;

  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.keep_log_file_num = 4;  // RocksDB's info LOG files; the default keeps 1000

  // Open every family on disk (RocksDB refuses to open without all of them), plus ours.
  std::vector<std::string> names(kNames.begin(), kNames.end());
  names.push_back(rocksdb::kDefaultColumnFamilyName);  // RocksDB requires it; we leave it empty
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(options, dir.string(), &existing).ok()) {
    for (auto& n : existing) {
      if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (auto& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());

  auto s = std::unique_ptr<store>(new store());
  s->_path = dir.string();
  rocksdb::DB* db = nullptr;
  auto status = rocksdb::DB::Open(options, s->_path, descriptors, &s->_handles, &db);
  if (!status.ok()) return to_error(status);
  s->_db.reset(db);
  return s;
}

store::~store() {
  if (!_db) return;
  for (auto* h : _handles) _db->DestroyColumnFamilyHandle(h);
  _db->Close();
}

rocksdb::ColumnFamilyHandle* store::handle(cf family) const {
  return _handles[static_cast<size_t>(family)];
}

std::error_code store::put_topic(const topic_info& t) {
  if (t.name.empty()) return errc::invalid_data;
  return to_error(_db->Put(write_options(true), handle(cf::topics), topic_key(t.name), encode(t)));
}

result<topic_info> store::get_topic(std::string_view name) const {
  SLUICE_TRY(bytes, get(cf::topics, topic_key(name)));
  return decode_topic(bytes);
}

std::error_code store::delete_topic(std::string_view name) {
  return to_error(_db->Delete(write_options(true), handle(cf::topics), topic_key(name)));
}

result<std::vector<topic_info>> store::list_topics() const {
  std::vector<topic_info> out;
  std::error_code bad;
  auto ec = scan(cf::topics, {}, [&](std::string_view, std::string_view value) {
    auto t = decode_topic(value);
    if (!t) {
      bad = t.error();
      return false;
    }
    out.push_back(std::move(t).value());
    return true;
  });
  if (ec) return ec;
  if (bad) return bad;
  return out;
}

result<config_map> store::get_broker_config(int32_t node_id) const {
  auto bytes = get(cf::broker_config, broker_config_key(node_id));
  if (!bytes) {
    if (bytes.error() == errc::not_found) return config_map{};
    return bytes.error();
  }
  BrokerConfigRecord r;
  if (!r.ParseFromString(bytes.value())) return errc::invalid_data;
  return config_map(r.overrides().begin(), r.overrides().end());
}

std::error_code store::set_broker_config(int32_t node_id, const config_map& overrides) {
  auto key = broker_config_key(node_id);
  if (overrides.empty()) {
    return to_error(_db->Delete(write_options(true), handle(cf::broker_config), key));
  }
  BrokerConfigRecord r;
  for (const auto& [k, v] : overrides) (*r.mutable_overrides())[k] = v;
  return to_error(
      _db->Put(write_options(true), handle(cf::broker_config), key, r.SerializeAsString()));
}

result<int64_t> store::get_producer_id_reserved() const {
  auto bytes = get(cf::producers, producer_id_block_key());
  if (!bytes) {
    if (bytes.error() == errc::not_found) return int64_t{0};
    return bytes.error();
  }
  ProducerIdBlockRecord r;
  if (!r.ParseFromString(bytes.value()) || r.next_unreserved() < 0) return errc::invalid_data;
  return r.next_unreserved();
}

std::error_code store::set_producer_id_reserved(int64_t next_unreserved) {
  if (next_unreserved < 0) return errc::invalid_data;
  ProducerIdBlockRecord r;
  r.set_next_unreserved(next_unreserved);
  return to_error(_db->Put(write_options(true), handle(cf::producers), producer_id_block_key(),
                           r.SerializeAsString()));
}

std::error_code store::write(const write_batch& batch, bool sync) {
  rocksdb::WriteBatch wb;
  for (const auto& op : batch._ops) {
    auto st = op.is_delete ? wb.Delete(handle(op.family), op.key)
                           : wb.Put(handle(op.family), op.key, op.value);
    if (!st.ok()) return to_error(st);
  }
  return to_error(_db->Write(write_options(sync), &wb));
}

result<std::string> store::get(cf family, std::string_view key) const {
  std::string value;
  auto st = _db->Get(rocksdb::ReadOptions(), handle(family), slice(key), &value);
  if (!st.ok()) return to_error(st);
  return value;
}

std::error_code store::scan(
    cf family, std::string_view prefix,
    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(_db->NewIterator(rocksdb::ReadOptions(), handle(family)));
  for (it->Seek(slice(prefix)); it->Valid(); it->Next()) {
    auto k = it->key();
    std::string_view key(k.data(), k.size());
    if (!key.starts_with(prefix)) break;
    auto v = it->value();
    if (!fn(key, std::string_view(v.data(), v.size()))) break;
  }
  return to_error(it->status());
}

}  // namespace sluice::meta
