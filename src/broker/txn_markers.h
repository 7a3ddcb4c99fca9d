#pragma once
// Writing transaction markers (COMMIT/ABORT control batches) to partitions: the one path used by
// WriteTxnMarkers (tools) and by the transaction coordinator when a transaction ends.
//
// Contract: one control batch (records::build_marker_batch) per partition from the producer id
// and epoch given, appended on the partition's owner shard and reported once durable. It closes
// the producer's open transaction there (src/storage/producer_state.h): ABORT adds it to the
// segment's aborted-transactions index (src/storage/txn_index.h) read_committed fetches read;
// either way the last stable offset moves past it.
// A marker older than the producer's epoch is INVALID_PRODUCER_EPOCH; unknown partitions are
// UNKNOWN_TOPIC_OR_PARTITION; a failed append or sync KAFKA_STORAGE_ERROR. Writing the same
// marker again (same epoch) appends a second control batch, which consumers skip.
//
// Thread safety: call on shard `home`; `done` runs there, once, with one error per partition in
// the order given.

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "src/protocol/kafka_error.h"

namespace sluice::broker {

class broker;

struct marker_spec {
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  bool commit = false;
  int32_t coordinator_epoch = 0;
};

void write_txn_markers(broker& b, unsigned home, const marker_spec& spec,
                       const std::vector<std::pair<std::string, int32_t>>& partitions,
                       std::function<void(std::vector<kafka::error>)> done);

}  // namespace sluice::broker
