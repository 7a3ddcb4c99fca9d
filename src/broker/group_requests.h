#pragma once
// What the group handlers share: the member's client id and host as Kafka reports them, the
// authorized operations of a group, and the coordinator's byte strings. The group logic itself
// lives in src/coordinator/group.
//
// Thread safety: pure functions.

#include <cstdint>
#include <string>

#include "src/broker/handler.h"

namespace sluice::broker {

// authorized_operations of a group (DescribeGroups v3+, ConsumerGroupDescribe): a bit per Kafka
// AclOperation code allowed, READ (3), DELETE (6), DESCRIBE (8) being every operation Kafka
// defines on a group. Sluice has no ACLs yet, so all of them.
inline constexpr int32_t kAllGroupOperations = (1 << 3) | (1 << 6) | (1 << 8);

inline std::string client_id_of(const request_context& ctx) {
  return ctx.header.client_id.value_or("");
}

// Kafka's form: "/" and the peer address without the port.
inline std::string client_host_of(const request_context& ctx) {
  const std::string& p = ctx.conn.peer;
  auto colon = p.rfind(':');
  std::string host = colon == std::string::npos ? p : p.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return "/" + host;
}

}  // namespace sluice::broker
