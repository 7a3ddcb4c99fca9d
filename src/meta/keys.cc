#include "src/meta/keys.h"

#include "src/base/byte_order.h"

namespace sluice::meta {

std::string topic_key(std::string_view topic) { return std::string(topic); }

std::string broker_config_key(int32_t node_id) {
  std::string k(4, '\0');
  be::store_i32(reinterpret_cast<uint8_t*>(k.data()), node_id);
  return k;
}

std::string producer_id_block_key() { return "producer_id_block"; }

result<std::string> offset_key(std::string_view group, std::string_view topic, int32_t partition) {
  if (group.find('\0') != std::string_view::npos || topic.find('\0') != std::string_view::npos ||
      partition < 0) {
    return errc::invalid_data;
  }
  std::string k;
  k.reserve(group.size() + topic.size() + 6);
  k.append(group).push_back('\0');
  k.append(topic).push_back('\0');
  k.resize(k.size() + 4);
  be::store_i32(reinterpret_cast<uint8_t*>(k.data() + k.size() - 4), partition);
  return k;
}

std::string txn_key(std::string_view transactional_id) {
  std::string k(1, '\x01');
  k.append(transactional_id);
  return k;
}

std::string txn_prefix() { return std::string(1, '\x01'); }

std::string_view txn_id_of(std::string_view txn_key) { return txn_key.substr(1); }

result<std::string> pending_offset_key(std::string_view group, int64_t producer_id,
                                       std::string_view topic, int32_t partition) {
  auto tail = offset_key("", topic, partition);  // NUL topic NUL partition, checked
  if (!tail || group.find('\0') != std::string_view::npos) return errc::invalid_data;
  std::string k(1, '\x02');
  k.append(group).push_back('\0');
  k.resize(k.size() + 8);
  be::store_i64(reinterpret_cast<uint8_t*>(k.data() + k.size() - 8), producer_id);
  k.append(tail.value().substr(1));
  return k;
}

std::string pending_offset_prefix() { return std::string(1, '\x02'); }

result<pending_offset_key_parts> decode_pending_offset_key(std::string_view key) {
  if (key.empty() || key[0] != '\x02') return errc::invalid_data;
  key.remove_prefix(1);
  auto g = key.find('\0');
  if (g == std::string_view::npos || key.size() < g + 1 + 8) return errc::invalid_data;
  pending_offset_key_parts out;
  out.group = std::string(key.substr(0, g));
  out.producer_id = be::load_i64(reinterpret_cast<const uint8_t*>(key.data() + g + 1));
  // The rest is offset_key's topic NUL partition, which decode_offset_key checks after a group.
  std::string rest("g");
  rest.push_back('\0');
  rest.append(key.substr(g + 9));
  auto parts = decode_offset_key(rest);
  if (!parts) return errc::invalid_data;
  out.topic = std::move(parts.value().topic);
  out.partition = parts.value().partition;
  return out;
}

std::string group_key(std::string_view group) { return std::string(group); }

std::string offset_group_prefix(std::string_view group) {
  std::string k(group);
  k.push_back('\0');
  return k;
}

result<offset_key_parts> decode_offset_key(std::string_view key) {
  if (key.size() < 6) return errc::invalid_data;
  auto g = key.find('\0');
  if (g == std::string_view::npos) return errc::invalid_data;
  auto t = key.find('\0', g + 1);
  // The topic must end exactly 4 bytes before the end: no NUL inside either string.
  if (t == std::string_view::npos || t + 5 != key.size()) return errc::invalid_data;
  offset_key_parts parts;
  parts.group = std::string(key.substr(0, g));
  parts.topic = std::string(key.substr(g + 1, t - g - 1));
  parts.partition = be::load_i32(reinterpret_cast<const uint8_t*>(key.data() + t + 1));
  if (parts.partition < 0) return errc::invalid_data;
  return parts;
}

}  // namespace sluice::meta
