#pragma once
// The stored form of a KIP-848 consumer group: GroupRecord of kind CONSUMER in the `groups`
// column family (proto/sluice/meta.proto, docs/formats/metadata.md). Pure functions, any thread.

#include <cstdint>
#include <string>
#include <string_view>

#include "src/coordinator/group/consumer_group.h"

namespace sluice::coordinator {

std::string encode_consumer_record(const consumer_group_snapshot& s, int64_t empty_since_ms);
// True when `v` parses as a GroupRecord of kind CONSUMER.
bool is_consumer_record(std::string_view v);
// False when `v` is not a readable CONSUMER record (bad topic ids, unknown member states).
bool decode_consumer_record(std::string_view v, consumer_group_snapshot& s,
                            int64_t& empty_since_ms);

}  // namespace sluice::coordinator
