#pragma once
// What the transactional APIs' handlers share (transaction logic: src/coordinator/txn).
//
// Thread safety: pure functions.

#include "src/protocol/kafka_error.h"

namespace sluice::broker {

// PRODUCER_FENCED (KIP-588) is unknown to old clients: Kafka answers them INVALID_PRODUCER_EPOCH
// (InitProducerId below v4; AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit below
// v2).
inline kafka::error fenced_for(kafka::error e, bool old_version) {
  return e == kafka::error::producer_fenced && old_version ? kafka::error::invalid_producer_epoch
                                                           : e;
}

}  // namespace sluice::broker
