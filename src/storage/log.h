#pragma once
// A partition log: a directory of segments (src/storage/segment.h) named by base offset, the
// last of which (the active segment) takes appends.
//
// Contract:
// - append() validates one whole v2 batch (header, size, CRC: a bad batch would otherwise make
//   recovery drop it and everything after), assigns it offsets [log_end_offset(), +count) by
//   rewriting its baseOffset in place, and writes it to the active segment. The active segment
//   rolls first when the batch would take it past segment_bytes. An append that fails leaves the
//   log as it was: readable, and later appends may succeed (e.g. after ENOSPC clears).
// - Appended data is durable only after flush() (fdatasync of the active segment). Rolling
//   fdatasyncs the old segment and its index, so after a crash only the active segment can have
//   a torn tail; open() recovers it (scan, validate CRCs, truncate the tail, rebuild the index).
// - read(offset, max_bytes) returns a byte range of one segment holding whole batches, the first
//   one containing `offset`; at least one batch even when it exceeds max_bytes (KIP-74). An
//   offset equal to log_end_offset() gives an empty range; outside [log_start_offset(),
//   log_end_offset()] is errc::not_found (Kafka's OFFSET_OUT_OF_RANGE).
// - A read_result's segment pointer stays valid until the next append/roll/close.
//
// Thread safety: none. A log is owned by one shard and touched only from its thread
// (docs/architecture.md); blocking calls (flush) are the caller's to move off the shard.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "src/base/errc.h"
#include "src/protocol/wire.h"
#include "src/storage/file_io.h"
#include "src/storage/segment.h"

namespace sluice::storage {

struct log_options {
  uint64_t segment_bytes = uint64_t{1} << 30;  // segment.bytes
  uint32_t index_interval_bytes = 4096;        // index.interval.bytes
};

class log {
 public:
  // Opens (creating if needed) the log in `dir`, recovering the active segment.
  static result<std::unique_ptr<log>> open(file_system& fs, std::string dir, log_options opts);

  struct append_result {
    int64_t base_offset;
    int64_t last_offset;
  };
  result<append_result> append(std::span<uint8_t> batch);

  struct read_result {
    segment* seg = nullptr;  // null for an empty read
    byte_range range;
  };
  result<read_result> read(int64_t offset, size_t max_bytes);
  // read() followed by a copy of the bytes.
  result<wire::bytes> read_bytes(int64_t offset, size_t max_bytes);

  std::error_code flush();
  // Starts a new active segment at log_end_offset() (no-op when the active one is empty).
  std::error_code roll();
  // flush() and write the active segment's index; call before dropping a log on shutdown.
  std::error_code close();

  int64_t log_start_offset() const { return _segments.front()->base_offset(); }
  int64_t log_end_offset() const { return _segments.back()->next_offset(); }
  size_t segment_count() const { return _segments.size(); }
  const std::string& dir() const { return _dir; }
  // What open() found and dropped in the active segment.
  const recovery_result& recovery() const { return _recovery; }

 private:
  log(file_system& fs, std::string dir, log_options opts)
      : _fs(&fs), _dir(std::move(dir)), _opts(opts) {}

  segment_options seg_opts() const { return {_opts.index_interval_bytes}; }

  file_system* _fs;
  std::string _dir;
  log_options _opts;
  std::vector<std::unique_ptr<segment>> _segments;  // by base offset; back() is active
  recovery_result _recovery;
};

}  // namespace sluice::storage
