#pragma once
// Kafka record batches, magic v2 (KIP-98): header parsing, CRC, iteration, decoding, building.
// The byte layout is documented in docs/formats/record_batch.md.
//
// Contract:
// - Parsing never reads outside the given span and never allocates from an unchecked length:
//   record counts are checked against the bytes present before anything is reserved, compressed
//   payloads are decompressed with a caller-supplied cap (src/protocol/compression.h).
// - decode_records() is zero-copy for uncompressed batches: key/value/header spans point into the
//   caller's batch bytes, which must outlive the decoded_batch. For compressed batches they point
//   into a buffer the decoded_batch owns (moving a decoded_batch keeps them valid; copying is
//   disabled for that reason).
// - decode_records() does not verify the CRC; call crc_ok() (or validate_batch()) where the bytes
//   come from an untrusted source.
// - All integers are big-endian (src/base/byte_order.h); errors are values (src/base/errc.h).
//
// Thread safety: values and free functions; an iterator or builder is used by one thread at a time.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "src/base/errc.h"
#include "src/protocol/compression.h"
#include "src/protocol/wire.h"

namespace sluice::records {

using byte_span = std::span<const uint8_t>;
using nullable_span = std::optional<byte_span>;  // nullopt = null (length -1 on the wire)

// Offsets of header fields from the start of a batch.
inline constexpr size_t kLogOverhead = 12;  // baseOffset + batchLength: not counted in batchLength
inline constexpr size_t kMagicOffset = 16;
inline constexpr size_t kCrcOffset = 17;
inline constexpr size_t kAttributesOffset = 21;  // the CRC covers [21, end)
inline constexpr size_t kRecordsCountOffset = 57;
inline constexpr size_t kHeaderSize = 61;
inline constexpr int8_t kMagic = 2;
inline constexpr int64_t kNoTimestamp = -1;
inline constexpr int64_t kNoProducerId = -1;
inline constexpr int16_t kNoProducerEpoch = -1;
inline constexpr int32_t kNoSequence = -1;
inline constexpr int32_t kNoPartitionLeaderEpoch = -1;

enum class timestamp_type : uint8_t { create_time = 0, log_append_time = 1 };

namespace attr {
inline constexpr int16_t kCompressionMask = 0x07;
inline constexpr int16_t kTimestampType = 0x08;
inline constexpr int16_t kTransactional = 0x10;
inline constexpr int16_t kControl = 0x20;
inline constexpr int16_t kDeleteHorizon = 0x40;
}  // namespace attr

struct batch_header {
  int64_t base_offset = 0;
  int32_t batch_length = 0;  // bytes after this field, i.e. total size - kLogOverhead
  int32_t partition_leader_epoch = kNoPartitionLeaderEpoch;
  int8_t magic = kMagic;
  uint32_t crc = 0;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t base_timestamp = kNoTimestamp;
  int64_t max_timestamp = kNoTimestamp;
  int64_t producer_id = kNoProducerId;
  int16_t producer_epoch = kNoProducerEpoch;
  int32_t base_sequence = kNoSequence;
  int32_t records_count = 0;

  // Ids 5-7 come back as-is; decompress() rejects them with errc::unsupported_compression.
  compression::codec compression() const {
    return static_cast<compression::codec>(attributes & attr::kCompressionMask);
  }
  records::timestamp_type timestamp_type() const {
    return (attributes & attr::kTimestampType) ? timestamp_type::log_append_time
                                               : timestamp_type::create_time;
  }
  bool is_transactional() const { return attributes & attr::kTransactional; }
  bool is_control() const { return attributes & attr::kControl; }
  // KIP-534: base_timestamp holds the delete horizon of a compacted batch.
  bool has_delete_horizon() const { return attributes & attr::kDeleteHorizon; }
  int64_t last_offset() const { return base_offset + last_offset_delta; }
  size_t size_bytes() const { return kLogOverhead + static_cast<size_t>(batch_length); }
};

// Parses the fixed 61-byte header at the start of `s` (s may hold more, or only the header).
// Errors: truncated (< 61 bytes), unsupported_magic (magic != 2; checked first, from 17 bytes),
// invalid_length (batchLength < 49, or recordsCount < 0).
result<batch_header> parse_batch_header(byte_span s);

// CRC-32C of everything from attributes to the end of the batch (whole_batch must be exactly one
// batch: 12 + batchLength bytes).
uint32_t compute_crc(byte_span whole_batch);
// True iff `whole_batch` is exactly one well-formed v2 batch header + body whose CRC matches.
bool crc_ok(byte_span whole_batch);
// Header + exact size + CRC: what a broker checks before appending a produced batch.
result<batch_header> validate_batch(byte_span whole_batch);

// A batch that passed validate_batch(): holding one proves the CRC was verified on these bytes, so
// the log need not verify it again (one CRC pass per produced batch, not two). Only check_batch()
// makes one. The bytes may still be changed where the CRC does not reach (baseOffset) or where
// the changer recomputes it (LogAppendTime).
class checked_batch {
 public:
  std::span<uint8_t> bytes() const { return _bytes; }
  const batch_header& header() const { return _header; }

 private:
  friend result<checked_batch> check_batch(std::span<uint8_t> whole_batch);
  checked_batch(std::span<uint8_t> b, const batch_header& h) : _bytes(b), _header(h) {}
  std::span<uint8_t> _bytes;
  batch_header _header;
};
// validate_batch() on bytes the caller may later hand to the log.
result<checked_batch> check_batch(std::span<uint8_t> whole_batch);

struct batch_view {
  batch_header header;
  byte_span bytes;  // the whole batch, kLogOverhead + batch_length bytes
};

// Walks a concatenation of batches (a Produce/Fetch records field, a segment file).
//
//   batch_iterator it(blob);
//   while (auto* b = it.next()) { ... }
//   if (it.error() != errc::ok) -> corrupt; it.partial() -> incomplete trailing batch.
//
// A trailing batch cut short (Fetch responses may end with one) stops iteration with partial()
// true and no error; consumed() then is the size of the complete prefix. Corruption (batchLength
// < 49, magic != 2, or a batch larger than max_batch_bytes -> too_large) stops with error().
class batch_iterator {
 public:
  explicit batch_iterator(byte_span blob, size_t max_batch_bytes = SIZE_MAX)
      : _blob(blob), _max_batch_bytes(max_batch_bytes) {}

  // The next complete batch, or nullptr at the end (clean, partial or error).
  const batch_view* next();

  errc error() const { return _error; }
  bool partial() const { return _partial; }
  size_t consumed() const { return _pos; }  // bytes of complete batches yielded so far
  byte_span remaining() const { return _blob.subspan(_pos); }

 private:
  byte_span _blob;
  size_t _max_batch_bytes;
  size_t _pos = 0;
  batch_view _current;
  errc _error = errc::ok;
  bool _partial = false;
};

struct record_header {
  byte_span key;  // header keys are non-null strings
  nullable_span value;
};

struct record {
  int8_t attributes = 0;  // unused by Kafka so far
  int64_t timestamp_delta = 0;
  int32_t offset_delta = 0;
  nullable_span key;
  nullable_span value;
  uint32_t headers_begin = 0;  // index into decoded_batch::headers
  uint32_t headers_count = 0;
};

class decoded_batch {
 public:
  decoded_batch() = default;
  decoded_batch(decoded_batch&&) = default;
  decoded_batch& operator=(decoded_batch&&) = default;
  decoded_batch(const decoded_batch&) = delete;  // spans may point into _owned
  decoded_batch& operator=(const decoded_batch&) = delete;

  batch_header header;
  std::vector<record> records;
  std::vector<record_header> headers;  // all records' headers, flattened

  std::span<const record_header> headers_of(const record& r) const {
    return std::span<const record_header>(headers).subspan(r.headers_begin, r.headers_count);
  }
  int64_t offset_of(const record& r) const { return header.base_offset + r.offset_delta; }
  // LogAppendTime batches carry the broker's time in max_timestamp for every record.
  int64_t timestamp_of(const record& r) const {
    return header.timestamp_type() == timestamp_type::log_append_time
               ? header.max_timestamp
               : header.base_timestamp + r.timestamp_delta;
  }

 private:
  friend result<decoded_batch> decode_records(byte_span, size_t);
  wire::bytes _owned;  // decompressed records (compressed batches only)
};

// Decodes every record of one whole batch (exactly 12 + batchLength bytes). Compressed payloads
// are inflated up to max_uncompressed bytes (errc::too_large beyond). Errors: as
// parse_batch_header, truncated/invalid_length/invalid_varint for malformed records or a
// recordsCount that does not match, invalid_data for bytes left after the last record.
result<decoded_batch> decode_records(byte_span batch, size_t max_uncompressed);

struct header_input {
  byte_span key;
  nullable_span value;
};

// Builds one batch. Records get consecutive offset deltas unless added with add_at().
//
//   batch_builder b;
//   b.base_offset(100).compression(codec::lz4).add(ts, key, value);
//   SLUICE_TRY(bytes, b.build());
class batch_builder {
 public:
  batch_builder& base_offset(int64_t v) { return set(_h.base_offset, v); }
  batch_builder& partition_leader_epoch(int32_t v) { return set(_h.partition_leader_epoch, v); }
  batch_builder& producer(int64_t id, int16_t epoch, int32_t base_sequence) {
    _h.producer_id = id;
    _h.producer_epoch = epoch;
    _h.base_sequence = base_sequence;
    return *this;
  }
  batch_builder& transactional(bool on) { return flag(attr::kTransactional, on); }
  batch_builder& control(bool on) { return flag(attr::kControl, on); }
  // Sets timestamp type LogAppendTime; every record then reports `append_time`.
  batch_builder& log_append_time(int64_t append_time);
  // Base for record timestamp deltas; defaults to the first record's timestamp. Set it before
  // adding records (it is also the delete horizon when that attribute is used).
  batch_builder& base_timestamp(int64_t ts);
  batch_builder& compression(compression::codec c, int level = compression::default_level) {
    _codec = c;
    _level = level;
    return *this;
  }

  batch_builder& add(int64_t timestamp, nullable_span key, nullable_span value,
                     std::span<const header_input> headers = {});
  // Adds a record with an explicit offset delta (compaction leaves gaps); deltas must increase.
  batch_builder& add_at(int32_t offset_delta, int64_t timestamp, nullable_span key,
                        nullable_span value, std::span<const header_input> headers = {});

  size_t record_count() const { return static_cast<size_t>(_count); }
  // Bytes of uncompressed records so far (the batch is 61 bytes more, before compression).
  size_t records_size() const { return _records.size(); }

  // Pre-sizes the uncompressed records buffer (avoids regrowth on the hot path).
  batch_builder& reserve(size_t records_bytes) {
    _records.reserve(records_bytes);
    return *this;
  }
  // Forgets settings and records but keeps buffer capacity, so one builder can be reused.
  void clear();

  // The finished batch: lengths, lastOffsetDelta, maxTimestamp and CRC filled in.
  // Errors: invalid_data (no records, non-increasing add_at deltas), and compression errors.
  result<wire::bytes> build() const;
  // Same, appended to `out` (reused capacity; successive calls concatenate batches). On error
  // `out` is left as it was.
  errc build_into(wire::bytes& out) const;

 private:
  template <class T>
  batch_builder& set(T& field, T v) {
    field = v;
    return *this;
  }
  batch_builder& flag(int16_t bit, bool on) {
    _h.attributes = static_cast<int16_t>(on ? (_h.attributes | bit) : (_h.attributes & ~bit));
    return *this;
  }

  batch_header _h;
  compression::codec _codec = compression::codec::none;
  int _level = compression::default_level;
  std::optional<int64_t> _base_timestamp;
  std::optional<int64_t> _log_append_time;
  int64_t _max_timestamp = kNoTimestamp;
  int32_t _last_offset_delta = -1;
  int32_t _count = 0;
  bool _bad = false;  // an add_at() broke the ordering; build() fails
  wire::bytes _records;
};

// Transaction markers (control records, KIP-98).
enum class control_type : int16_t { abort = 0, commit = 1 };

struct transaction_marker {
  control_type type = control_type::abort;
  int32_t coordinator_epoch = 0;
};

// Control record key: version int16 (0), type int16.
wire::bytes encode_control_key(control_type type);
// Marker value: version int16 (0), coordinator_epoch int32.
wire::bytes encode_marker_value(int32_t coordinator_epoch);
// Reads a control key; newer versions are accepted (their prefix is the same), unknown types are
// errc::invalid_data, negative versions errc::unsupported_version.
result<control_type> parse_control_key(byte_span key);
result<transaction_marker> parse_transaction_marker(const record& r);

// One control batch holding one marker, as the transaction coordinator asks leaders to write.
result<wire::bytes> build_marker_batch(int64_t base_offset, int64_t producer_id,
                                       int16_t producer_epoch, int32_t partition_leader_epoch,
                                       const transaction_marker& marker, int64_t timestamp);

}  // namespace sluice::records
