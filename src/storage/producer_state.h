#pragma once
// Idempotent producer state of one partition (KIP-98; Kafka's ProducerStateManager).
//
// Contract:
// - Per producer id the table keeps the epoch and the metadata of the last kRetainedBatches
//   batches appended at that epoch (sequence range, offset range, max timestamp), plus the
//   transaction fields later issues use (coordinator epoch, first offset of the open
//   transaction; -1 when none).
// - check() decides what to do with a batch a client produced, before it is appended, with
//   Kafka 4's rules: a batch without a producer id is appended; an older epoch than the
//   producer's is INVALID_PRODUCER_EPOCH; a batch at the producer's epoch whose sequence range
//   equals one of the retained batches is a duplicate (answered with the original offsets, not
//   written again); a new epoch must start at sequence 0 and the same epoch must continue at
//   last sequence + 1 (wrapping after INT32_MAX), else OUT_OF_ORDER_SEQUENCE_NUMBER. A producer
//   the table does not know (never seen, expired, state lost) may start at any sequence: Kafka no
//   longer answers UNKNOWN_PRODUCER_ID since KIP-360.
// - apply() records a batch once it is in the log (with its assigned offsets). Recovery calls it
//   for every batch read back, so check() and apply() see the same rules.
// - Snapshots (docs/formats/producer_snapshot.md): `producer-state-<offset>.snapshot` in the
//   partition directory holds the state after applying every batch below <offset>. load() takes
//   the newest valid snapshot at or below the log end offset, then replays the log from there
//   (from the log start when there is none); snapshots above the log end (the log lost its tail)
//   or unreadable ones are ignored and removed. write_snapshot() writes to a temporary file,
//   fsyncs it only when asked (clean shutdown), renames it and keeps the two newest.
// - Expiry: remove_expired() forgets producers whose last append is older than
//   producer.id.expiration.ms and that have no open transaction.
// - Transactions (the partition's side of KIP-98): a transactional batch opens a transaction for
//   its producer (txn_first_offset) unless one is open; a marker (a control batch written by
//   WriteTxnMarkers) closes it. The last stable offset is the first offset of the oldest open
//   transaction (the log end when none). A marker older than the producer's epoch is
//   INVALID_PRODUCER_EPOCH. apply_marker() returns the aborted transaction an ABORT marker
//   closes; the caller adds it to the segment's aborted-transactions index
//   (log::append_aborted, src/storage/txn_index.h), which is where read_committed fetches find
//   it: this table keeps no history of aborted transactions. load() rebuilds those indexes for
//   the part of the log it replays, replaying from early enough to cover every index that is
//   missing or damaged.
//
// Thread safety: none. Owned with its partition's log, used on the owner shard only.

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "src/base/errc.h"
#include "src/protocol/record_batch.h"
#include "src/storage/file_io.h"
#include "src/storage/txn_index.h"

namespace sluice::storage {

class log;

inline constexpr size_t kRetainedBatches = 5;

struct producer_batch {
  int32_t first_seq = -1;
  int32_t last_seq = -1;
  int64_t first_offset = -1;
  int64_t last_offset = -1;
  int64_t timestamp = -1;  // the batch's max timestamp
  bool operator==(const producer_batch&) const = default;
};

struct producer_entry {
  int16_t epoch = records::kNoProducerEpoch;
  std::vector<producer_batch> batches;  // oldest first, at most kRetainedBatches
  int64_t last_update_ms = -1;          // broker time of the last append (expiry)
  int32_t coordinator_epoch = -1;
  int64_t txn_first_offset = -1;  // first offset of the open transaction; -1 when none
  int32_t last_seq() const {
    return batches.empty() ? records::kNoSequence : batches.back().last_seq;
  }
  bool operator==(const producer_entry&) const = default;
};

// The sequence of a batch's last record: base + last offset delta, wrapping past INT32_MAX to 0.
int32_t last_sequence(const records::batch_header& h);

class producer_state {
 public:
  enum class verdict { append, duplicate, invalid_epoch, out_of_order };
  struct decision {
    verdict what = verdict::append;
    producer_batch original;  // the retained batch, for a duplicate
    std::string message;      // why, for errors
  };

  decision check(const records::batch_header& h) const;
  // `h` as appended (base_offset assigned). Batches without a producer id are ignored; control
  // batches go to apply_marker().
  void apply(const records::batch_header& h, int64_t now_ms);
  // Whether a marker batch may be written for h's producer (its epoch is not older).
  decision check_marker(const records::batch_header& h) const;
  // `h` is a marker batch as appended, `type` its control record's type. For an ABORT marker that
  // closes an open transaction, the entry for the segment's txn index (its last stable offset
  // is the one after this marker); the caller must write it (log::append_aborted).
  [[nodiscard]] std::optional<aborted_txn> apply_marker(const records::batch_header& h,
                                                        records::control_type type, int64_t now_ms);
  // The first offset of the oldest open transaction, or -1 when none is open.
  int64_t first_unstable_offset() const;
  // Forgets producers idle for `expiration_ms` or longer; returns how many.
  size_t remove_expired(int64_t now_ms, int64_t expiration_ms);

  const producer_entry* find(int64_t producer_id) const;
  size_t size() const { return _producers.size(); }
  const std::unordered_map<int64_t, producer_entry>& producers() const { return _producers; }

  // Snapshot bytes (docs/formats/producer_snapshot.md) and their inverse (errc::invalid_data on
  // any damage: bad version, CRC, lengths).
  std::vector<uint8_t> encode() const;
  static result<producer_state> decode(std::span<const uint8_t> bytes);

  // Rebuilds the state of `lg` (whose directory holds the snapshots) as the contract says, and
  // the txn indexes of the segments it replays. `replayed` (optional) receives the number of
  // batches read back from the log.
  static result<producer_state> load(file_system& fs, log& lg, size_t* replayed = nullptr);
  // Writes producer-state-<offset>.snapshot for the state as of `offset` (normally the log end
  // offset) and removes all but the two newest snapshots.
  std::error_code write_snapshot(file_system& fs, const std::string& dir, int64_t offset,
                                 bool durable);
  static std::string snapshot_name(int64_t offset);

 private:
  std::unordered_map<int64_t, producer_entry> _producers;
};

}  // namespace sluice::storage
