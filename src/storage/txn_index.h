#pragma once
// The aborted-transactions index of one segment: `<base offset>.txnindex`, Kafka's format byte
// for byte (docs/formats/txn_index.md). One entry per ABORT marker the segment holds: producer
// id, first offset of the aborted transaction, the marker's offset and the last stable offset
// right after the marker. read_committed fetches collect the entries overlapping what they
// return, so clients skip aborted records; the index goes with its segment (roll, retention,
// compaction), so nothing about aborted transactions is kept in memory or grows without bound.
//
// Contract:
// - Entries are appended in marker order: last_offset strictly increases within a file.
// - open() keeps the longest prefix of whole, well-formed entries (version 0, producer id >= 0,
//   first <= last, last inside the segment's [base, next offset), increasing); a torn or bad tail
//   is truncated and, like a missing file, makes needs_rebuild() true: the owner must rebuild
//   the entries from the log (producer_state::load replays markers for that).
// - append() writes at the end; on failure the file is truncated back and the error returned.
//   Durable only after sync() (a roll and close() sync; the active segment's entries are rebuilt
//   by recovery).
// - collect(from, to) reads the file (entries are not kept in memory) from the first entry with
//   last_offset >= from (binary search) and adds entries with last_offset >= from and
//   first_offset < to; it answers true ("complete") once it has seen an
//   entry whose last_stable_offset >= to: every transaction that began before `to` had ended by
//   then, so later segments hold nothing more for the range (Kafka's rule).
//
// Thread safety: none; owned by its segment, used on the log's owner thread.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "src/base/errc.h"
#include "src/storage/file_io.h"

namespace sluice::storage {

struct aborted_txn {
  int64_t producer_id = -1;
  int64_t first_offset = -1;        // first offset of the aborted transaction in the partition
  int64_t last_offset = -1;         // the ABORT marker's offset
  int64_t last_stable_offset = -1;  // the partition's LSO once the marker was applied
  bool operator==(const aborted_txn&) const = default;
};

class txn_index {
 public:
  static constexpr size_t kEntrySize = 34;  // version int16 + four int64
  static std::string name(int64_t base_offset);

  // Creates an empty index, truncating any existing file.
  static result<txn_index> create(file_system& fs, const std::string& dir, int64_t base_offset);
  // Opens (creating when missing) and validates against the segment's offsets.
  static result<txn_index> open(file_system& fs, const std::string& dir, int64_t base_offset,
                                int64_t next_offset);
  // Every well-formed entry of the file at `path` (for compaction, which reads closed segments
  // from another thread through its own handle); errc::not_found when it does not exist.
  static result<std::vector<aborted_txn>> read_entries(file_system& fs, const std::string& path);
  static std::vector<uint8_t> encode(const std::vector<aborted_txn>& entries);

  txn_index(txn_index&&) = default;
  txn_index& operator=(txn_index&&) = default;

  std::error_code append(const aborted_txn& e);
  // Drops entries whose last_offset >= offset (before a rebuild from `offset`); clears
  // needs_rebuild().
  std::error_code truncate_from(int64_t offset);
  std::error_code sync();
  result<bool> collect(int64_t from, int64_t to, std::vector<aborted_txn>& out);
  result<std::vector<aborted_txn>> entries();

  size_t size() const { return _count; }
  bool needs_rebuild() const { return _needs_rebuild; }
  int64_t last_offset() const { return _last_offset; }

 private:
  explicit txn_index(std::unique_ptr<file> f) : _file(std::move(f)) {}

  std::unique_ptr<file> _file;
  size_t _count = 0;
  int64_t _last_offset = -1;  // of the last entry; -1 when empty
  bool _needs_rebuild = false;
  bool _dirty = false;  // written since the last sync
};

}  // namespace sluice::storage
