#pragma once
// `partition.metadata`: the topic id marker Kafka keeps in every partition directory
// (docs/formats/segment.md). It ties a directory to one incarnation of its topic, so a
// directory left from a deleted topic is never served as the new topic's data.
//
// Contract: ensure_partition_metadata(fs, dir, id) writes the file when it is missing
// (tmp + fdatasync + rename) and otherwise checks it: a file naming another topic id, or not in
// Kafka's format, is errc::invalid_data. kafka_uuid_string is Kafka's Uuid.toString
// (URL-safe base64 without padding, 22 characters).
//
// Thread safety: functions of their arguments; the caller owns the directory (owner shard).

#include <string>
#include <system_error>

#include "src/protocol/wire.h"
#include "src/storage/file_io.h"

namespace sluice::broker {

std::string kafka_uuid_string(const wire::uuid& id);
std::string partition_metadata_text(const wire::uuid& topic_id);
std::error_code ensure_partition_metadata(storage::file_system& fs, const std::string& dir,
                                          const wire::uuid& topic_id);

}  // namespace sluice::broker
