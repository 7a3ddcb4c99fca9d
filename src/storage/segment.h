#pragma once
// One log segment: `<base offset, 20 digits>.log` holding record batches exactly in Kafka wire
// format v2 (so Fetch can send a byte range of it as is), `<base offset>.index`, a sparse
// offset index, `<base offset>.timeindex`, a sparse time index, and `<base offset>.txnindex`, the
// aborted transactions whose ABORT marker the segment holds (src/storage/txn_index.h). Formats:
// docs/formats/segment.md, docs/formats/txn_index.md.
//
// Contract:
// - append() takes one whole v2 batch, rewrites its baseOffset field in place to next_offset()
//   (the CRC covers attributes onwards, so it stays valid) and writes it at the end of .log.
//   On a failed write the .log is truncated back, so the segment stays as it was; if even that
//   fails the segment refuses further appends (errc::io_error) until it is reopened.
// - Index entries (relative base offset, position) are kept in memory and written to .index by
//   write_index(); the index of a segment that open_and_recover() rebuilds (the active one, and
//   after a crash those from the log's recovery point on) need not be durable. A batch gets an
//   entry once index_interval_bytes of batches were appended since the previous entry.
// - The time index gets an entry (max timestamp so far, base offset of the batch that reached
//   it) whenever the offset index gets one and the max timestamp grew since the last entry, as
//   Kafka does; timestamps strictly increase. Timestamps are the batch headers' maxTimestamp
//   (LogAppendTime batches carry the append time there). max_timestamp() is the segment's
//   largest; both are rebuilt with the offset index.
// - lookup(offset) is the position of the batch holding `offset`; read(offset, max) covers
//   whole batches from that one on, at least one even if it is larger than max (KIP-74).
// - Offsets outside [base_offset(), next_offset()) are errc::not_found.
// - recover() scans .log, validates every batch (header, size, CRC, increasing offsets),
//   truncates a torn or corrupt tail (fdatasync'ed) and rebuilds the index, which it writes
//   without fdatasync (close()'s write_index(), or the sync of a rolled segment's
//   durable_files(), makes it durable).
// - With opts.reserve_bytes > 0, append() reserves disk blocks ahead of the end of .log
//   (file::reserve: the file's size and bytes are unchanged, so readers, recovery and power
//   cuts see exactly what they would without it), in steps of size_bytes() / 8 clamped to
//   [64 KiB, reserve_bytes]. ext4 then skips its per-page delayed-allocation bookkeeping for
//   the appended bytes (docs/performance.md, storage section). A failed reservation is ignored:
//   the write itself reports ENOSPC. trim() frees blocks reserved past the end (roll, close).
//   opts.reserve_paused skips it while true (the log pauses it while a sync writes back rolled
//   segments: group_commit::rolled_syncs_in_flight()).
//
// Thread safety: none; a segment belongs to its log, which belongs to one shard.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "src/base/errc.h"
#include "src/protocol/record_batch.h"
#include "src/protocol/wire.h"
#include "src/storage/file_io.h"
#include "src/storage/txn_index.h"

namespace sluice::storage {

struct segment_options {
  uint32_t index_interval_bytes = 4096;
  uint64_t reserve_bytes = 0;  // largest step of blocks reserved ahead of the end; 0: none
  // While it returns true, append() reserves nothing (ext4 then allocates at writeback); empty:
  // never paused.
  std::function<bool()> reserve_paused = nullptr;
};

// A byte range of a segment's .log: whole batches.
struct byte_range {
  uint64_t position = 0;
  uint64_t length = 0;
};

struct index_entry {
  uint32_t relative_offset = 0;  // batch base offset - segment base offset
  uint32_t position = 0;         // byte position of the batch in .log
};

struct time_index_entry {
  int64_t timestamp = 0;         // max batch timestamp so far in the segment
  uint32_t relative_offset = 0;  // base offset of the batch that reached it - segment base offset
};

// A ListOffsets answer: a record offset and its timestamp; offset -1 when there is none.
struct timestamp_offset {
  int64_t offset = -1;
  int64_t timestamp = -1;
};

struct recovery_result {
  uint64_t valid_bytes = 0;      // the .log size after recovery
  uint64_t truncated_bytes = 0;  // bytes dropped from the tail
  size_t batches = 0;
};

class segment {
 public:
  static constexpr uint64_t kMaxSize = UINT32_MAX;  // index positions are u32

  // File names for a base offset: "00000000000000000042.log" / ".index".
  static std::string log_name(int64_t base_offset);
  static std::string index_name(int64_t base_offset);
  static std::string time_index_name(int64_t base_offset);
  // Cap for inflating one batch to find a record by timestamp.
  static constexpr size_t kMaxDecodeBytes = size_t{256} << 20;

  // Creates empty .log/.index files (existing ones are truncated).
  static result<std::unique_ptr<segment>> create(file_system& fs, const std::string& dir,
                                                 int64_t base_offset, segment_options opts);
  // Opens an existing segment. Loads .index if it is well-formed, otherwise rebuilds it from .log;
  // finds next_offset() by scanning from the last index entry. Use recover() instead for a
  // segment that may have a torn tail (the active one after a crash).
  static result<std::unique_ptr<segment>> open(file_system& fs, const std::string& dir,
                                               int64_t base_offset, segment_options opts);

  // Opens an existing segment and runs recover() on it.
  static result<std::unique_ptr<segment>> open_and_recover(file_system& fs, const std::string& dir,
                                                           int64_t base_offset,
                                                           segment_options opts,
                                                           recovery_result* out = nullptr);

  int64_t base_offset() const { return _base_offset; }
  int64_t next_offset() const { return _next_offset; }
  uint64_t size_bytes() const { return _size; }
  bool empty() const { return _size == 0; }
  const std::vector<index_entry>& index() const { return _index; }
  const std::vector<time_index_entry>& time_index() const { return _time_index; }
  // Largest batch maxTimestamp in the segment (-1 when empty or no batch has a timestamp), and
  // the base offset of the first batch that carries it (-1 likewise).
  int64_t max_timestamp() const { return _max_timestamp; }
  int64_t max_timestamp_batch() const { return _max_timestamp_batch; }
  // maxTimestamp of the first batch (-1 when empty or it has none).
  int64_t first_batch_timestamp() const { return _first_batch_timestamp; }

  struct appended {
    int64_t base_offset;
    int64_t last_offset;
    uint64_t position;
  };
  // `batch` must be exactly one v2 batch (header and size are checked here; the CRC is checked
  // by the caller, see log::append). errc::too_large if the segment would exceed kMaxSize.
  result<appended> append(std::span<uint8_t> batch);

  result<uint64_t> lookup(int64_t offset);
  result<byte_range> read(int64_t offset, size_t max_bytes);

  // The first record at or after `min_offset` whose timestamp is >= `timestamp` (offset -1 when
  // none): the time index gives the starting batch, then batches with maxTimestamp >= timestamp
  // are decoded.
  result<timestamp_offset> find_by_timestamp(int64_t timestamp, int64_t min_offset);
  // The first record holding max_timestamp() ({-1, -1} when there is none).
  result<timestamp_offset> find_max_timestamp();
  // Copies a byte range of .log (tests, and Fetch until it uses sendfile).
  result<wire::bytes> read_bytes(byte_range r);

  std::error_code flush();  // fdatasync of .log
  // Frees disk blocks reserved past the end of .log (a truncate to its size); a no-op unless
  // this segment may have some (it reserved since the last trim, or was opened from disk).
  std::error_code trim();
  // For a closed segment whose trim another thread does (a roll leaves it to the group-commit
  // sync): the size to truncate .log to, or nullopt when trim() would have nothing to do. The
  // segment counts as trimmed from here on.
  std::optional<uint64_t> take_trim();
  // Writes pending entries to .timeindex, fdatasyncs it, then the same for .index. In that
  // order, a durable offset entry implies the time entries made with it are durable too.
  // Without `sync` the entries are only written; whoever defers the syncs must keep that order
  // (durable_files()).
  std::error_code write_index(bool sync = true);
  // The files that make this (closed) segment durable, in the order to fdatasync them.
  std::vector<std::shared_ptr<file>> durable_files() const {
    return {_log, _time_index_file, _index_file};
  }

  // The segment's aborted-transactions index; its entries are written by the log
  // (log::append_aborted) and rebuilt by producer_state::load when needs_rebuild().
  txn_index& txn() { return *_txn; }
  // The base offset of the batch starting at `position` (a batch boundary), or next_offset() at
  // the end: the first offset after a byte range read() returned.
  result<int64_t> offset_at(uint64_t position);

  recovery_result last_recovery() const { return _recovery; }
  file& log_file() { return *_log; }
  // Shared so a background fdatasync (group_commit.h) keeps the descriptor open across a roll.
  std::shared_ptr<file> shared_log_file() const { return _log; }

 private:
  segment(file_system& fs, std::string dir, int64_t base_offset, segment_options opts)
      : _fs(&fs),
        _dir(std::move(dir)),
        _base_offset(base_offset),
        _opts(opts),
        _next_offset(base_offset) {}

  std::error_code open_files(bool truncate);
  // The header of the batch at `position` (< size_bytes(), a batch boundary). The last one read
  // is kept: a consumer's next fetch starts at the batch its previous read stopped before, so
  // lookup(), read() and offset_at() then need one pread per fetch instead of three. Batches
  // below _size never change, so the kept header stays true.
  result<records::batch_header> header_at(uint64_t position);
  // Walks batch headers from `position` (a batch boundary) to the end of .log, adding index
  // entries. With `validate`, checks every CRC and truncates the first bad or torn batch.
  std::error_code scan(uint64_t position, bool validate);
  // write_index(), with or without the fdatasyncs.
  std::error_code write_index_entries(bool sync);
  bool load_index(uint64_t log_size);
  bool load_time_index();
  void note_timestamp(int64_t max_timestamp, int64_t batch_base, uint64_t position);
  void maybe_index(uint64_t position, int64_t base_offset, uint64_t batch_size);
  // Reserves blocks from the reserved end to beyond `end` (see the contract).
  void reserve_ahead(uint64_t end);
  // Decodes the batch at `position` and returns its first record with offset >= min_offset and
  // a timestamp >= `timestamp` (== with `exact`); offset -1 when it has none.
  result<timestamp_offset> first_record_at(uint64_t position, uint64_t size, int64_t min_offset,
                                           int64_t timestamp, bool exact);

  file_system* _fs;
  std::string _dir;
  int64_t _base_offset;
  segment_options _opts;
  int64_t _next_offset;
  uint64_t _size = 0;
  uint64_t _bytes_since_entry = 0;
  std::shared_ptr<file> _log;
  std::shared_ptr<file> _index_file;  // shared: a deferred sync may hold them (log.h)
  std::shared_ptr<file> _time_index_file;
  std::optional<txn_index> _txn;
  bool _time_index_missing = false;  // no .timeindex on open: rebuild rather than trust empty
  std::vector<index_entry> _index;
  size_t _index_written = 0;  // entries already in .index
  std::vector<time_index_entry> _time_index;
  size_t _time_index_written = 0;  // entries already in .timeindex
  int64_t _max_timestamp = -1;
  int64_t _max_timestamp_batch = -1;
  int64_t _first_batch_timestamp = -1;
  bool _failed = false;
  uint64_t _reserved = 0;           // .log blocks are reserved up to here (in this process)
  bool _may_have_reserved = false;  // blocks past the end possible: trim() has work
  recovery_result _recovery;
  uint64_t _header_position = UINT64_MAX;  // where _header was read (UINT64_MAX: none yet)
  records::batch_header _header;
};

}  // namespace sluice::storage
