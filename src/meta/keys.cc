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
