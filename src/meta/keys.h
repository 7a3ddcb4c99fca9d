#pragma once
// Binary RocksDB keys of the metadata store, one function per column family.
//
// Integers in keys are big-endian (sluice::be), so RocksDB's bytewise order is numeric order on
// every CPU (x86-64 and s390x alike) and a store copied between them iterates the same way. The
// grammars are in docs/formats/metadata.md; change them only together with that page.
//
// Thread safety: pure functions.

#include <cstdint>
#include <string>
#include <string_view>

#include "src/base/errc.h"

namespace sluice::meta {

// topics: the topic name bytes.
std::string topic_key(std::string_view topic);

// broker_config: be32 node id (node ids are >= 0, so byte order is numeric order).
std::string broker_config_key(int32_t node_id);

// producers: the producer id reservation record ("producer_id_block"). Per-producer and
// per-transactional-id keys, when they come, start with a different byte.
std::string producer_id_block_key();

// producers: one transactional id's state, 0x01 then the transactional id bytes; txn_prefix()
// is the common prefix, for loading them all.
std::string txn_key(std::string_view transactional_id);
std::string txn_prefix();
std::string_view txn_id_of(std::string_view txn_key);

// producers: an offset a TxnOffsetCommit holds pending until its transaction ends:
// 0x02 group NUL be64 producer id, topic NUL be32 partition (same rules as offset_key).
result<std::string> pending_offset_key(std::string_view group, int64_t producer_id,
                                       std::string_view topic, int32_t partition);
std::string pending_offset_prefix();
struct pending_offset_key_parts {
  std::string group;
  int64_t producer_id = -1;
  std::string topic;
  int32_t partition = 0;
};
result<pending_offset_key_parts> decode_pending_offset_key(std::string_view key);

// group_offsets: group NUL topic NUL be32 partition. NUL separates the strings, so neither may
// contain one (errc::invalid_data), and the partition must be >= 0 (errc::invalid_data).
result<std::string> offset_key(std::string_view group, std::string_view topic, int32_t partition);

// Prefix of every offset key of `group` (group NUL), for scanning one group's offsets.
std::string offset_group_prefix(std::string_view group);

struct offset_key_parts {
  std::string group;
  std::string topic;
  int32_t partition = 0;
};

// groups: the group id bytes.
std::string group_key(std::string_view group);

// Inverse of offset_key; errc::invalid_data for anything offset_key cannot produce.
result<offset_key_parts> decode_offset_key(std::string_view key);

}  // namespace sluice::meta
