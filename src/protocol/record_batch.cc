#include "src/protocol/record_batch.h"

#include <algorithm>

#include "src/base/crc32c.h"

namespace sluice::records {
namespace {

// Smallest encodings, used to reject counts before reserving: a record is its length varint plus
// attributes, timestampDelta, offsetDelta, keyLength, valueLength, headersCount (1 byte each); a
// header is keyLength + valueLength.
constexpr size_t kMinRecordBody = 6;
constexpr size_t kMinRecordSize = 1 + kMinRecordBody;
constexpr size_t kMinHeaderSize = 2;

size_t zigzag32_size(int32_t v) {
  return wire::uvarint_size((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31));
}
size_t zigzag64_size(int64_t v) {
  return wire::uvarint_size((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}
size_t nullable_size(const nullable_span& s) {
  return s ? zigzag32_size(static_cast<int32_t>(s->size())) + s->size() : 1;
}
void write_nullable(wire::writer& w, const nullable_span& s) {
  if (!s) {
    w.write_varint(-1);
    return;
  }
  w.write_varint(static_cast<int32_t>(s->size()));
  w.write_raw(s->data(), s->size());
}

// Varint length + bytes; -1 is null. Failures are recorded in the reader.
nullable_span read_nullable(wire::reader& r) {
  int32_t n = r.read_varint();
  if (!r.ok() || n == -1) return std::nullopt;
  if (n < -1) {
    r.fail(errc::invalid_length);
    return std::nullopt;
  }
  return r.read_span(static_cast<size_t>(n));
}

// Decodes `count` records filling all of `payload`.
errc decode_payload(byte_span payload, int32_t count, decoded_batch& out) {
  if (static_cast<size_t>(count) > payload.size() / kMinRecordSize) return errc::invalid_length;
  out.records.resize(static_cast<size_t>(count));
  wire::reader r(payload);
  for (auto& rec : out.records) {
    int32_t len = r.read_varint();
    if (!r.ok()) return r.error();
    if (len < static_cast<int32_t>(kMinRecordBody)) return errc::invalid_length;
    byte_span body = r.read_span(static_cast<size_t>(len));
    if (!r.ok()) return r.error();
    wire::reader b(body);
    rec.attributes = b.read_int8();
    rec.timestamp_delta = b.read_varlong();
    rec.offset_delta = b.read_varint();
    rec.key = read_nullable(b);
    rec.value = read_nullable(b);
    int32_t headers = b.read_varint();
    if (!b.ok()) return b.error();
    if (headers < 0 || static_cast<size_t>(headers) > b.remaining() / kMinHeaderSize) {
      return errc::invalid_length;
    }
    rec.headers_begin = static_cast<uint32_t>(out.headers.size());
    rec.headers_count = static_cast<uint32_t>(headers);
    for (int32_t i = 0; i < headers; ++i) {
      int32_t klen = b.read_varint();
      if (b.ok() && klen < 0) b.fail(errc::invalid_length);  // header keys are never null
      byte_span key = b.read_span(static_cast<size_t>(std::max(klen, 0)));
      nullable_span value = read_nullable(b);
      if (!b.ok()) return b.error();
      out.headers.push_back({key, value});
    }
    if (b.remaining() != 0) return errc::invalid_data;  // record length disagrees with fields
  }
  return r.remaining() == 0 ? errc::ok : errc::invalid_data;
}

}  // namespace

result<batch_header> parse_batch_header(byte_span s) {
  if (s.size() <= kMagicOffset) return errc::truncated;
  if (static_cast<int8_t>(s[kMagicOffset]) != kMagic) return errc::unsupported_magic;
  if (s.size() < kHeaderSize) return errc::truncated;
  const uint8_t* p = s.data();
  batch_header h;
  h.base_offset = be::load_i64(p);
  h.batch_length = be::load_i32(p + 8);
  h.partition_leader_epoch = be::load_i32(p + 12);
  h.magic = static_cast<int8_t>(p[16]);
  h.crc = be::load_u32(p + 17);
  h.attributes = be::load_i16(p + 21);
  h.last_offset_delta = be::load_i32(p + 23);
  h.base_timestamp = be::load_i64(p + 27);
  h.max_timestamp = be::load_i64(p + 35);
  h.producer_id = be::load_i64(p + 43);
  h.producer_epoch = be::load_i16(p + 51);
  h.base_sequence = be::load_i32(p + 53);
  h.records_count = be::load_i32(p + 57);
  if (h.batch_length < static_cast<int32_t>(kHeaderSize - kLogOverhead)) {
    return errc::invalid_length;
  }
  if (h.records_count < 0) return errc::invalid_length;
  return h;
}

uint32_t compute_crc(byte_span whole_batch) {
  if (whole_batch.size() < kAttributesOffset) return 0;
  return crc32c::value(whole_batch.data() + kAttributesOffset,
                       whole_batch.size() - kAttributesOffset);
}

result<batch_header> validate_batch(byte_span whole_batch) {
  SLUICE_TRY(h, parse_batch_header(whole_batch));
  if (whole_batch.size() < h.size_bytes()) return errc::truncated;
  if (whole_batch.size() > h.size_bytes()) return errc::invalid_data;
  if (compute_crc(whole_batch) != h.crc) return errc::crc_mismatch;
  return h;
}

bool crc_ok(byte_span whole_batch) { return validate_batch(whole_batch).has_value(); }

result<checked_batch> check_batch(std::span<uint8_t> whole_batch) {
  SLUICE_TRY(h, validate_batch(whole_batch));
  return checked_batch(whole_batch, h);
}

const batch_view* batch_iterator::next() {
  if (_error != errc::ok || _partial) return nullptr;
  size_t left = _blob.size() - _pos;
  if (left == 0) return nullptr;
  if (left < kLogOverhead) {
    _partial = true;
    return nullptr;
  }
  const uint8_t* p = _blob.data() + _pos;
  int32_t len = be::load_i32(p + 8);
  if (len < static_cast<int32_t>(kHeaderSize - kLogOverhead)) {
    _error = errc::invalid_length;
    return nullptr;
  }
  size_t total = kLogOverhead + static_cast<size_t>(len);
  if (total > _max_batch_bytes) {
    _error = errc::too_large;
    return nullptr;
  }
  if (left > kMagicOffset && static_cast<int8_t>(p[kMagicOffset]) != kMagic) {
    _error = errc::unsupported_magic;
    return nullptr;
  }
  if (left < total) {
    _partial = true;
    return nullptr;
  }
  auto h = parse_batch_header({p, total});
  if (!h) {
    _error = static_cast<errc>(h.error().value());
    return nullptr;
  }
  _current = {h.value(), {p, total}};
  _pos += total;
  return &_current;
}

result<decoded_batch> decode_records(byte_span batch, size_t max_uncompressed) {
  decoded_batch out;
  SLUICE_TRY(header, parse_batch_header(batch));
  out.header = header;
  if (batch.size() < out.header.size_bytes()) return errc::truncated;
  if (batch.size() > out.header.size_bytes()) return errc::invalid_data;
  byte_span payload = batch.subspan(kHeaderSize);
  if (out.header.compression() != compression::codec::none) {
    // Cheap early reject of a count no payload of the allowed size could hold.
    if (static_cast<size_t>(out.header.records_count) > max_uncompressed / kMinRecordSize) {
      return errc::invalid_length;
    }
    SLUICE_TRY(inflated,
               compression::decompress(out.header.compression(), payload, max_uncompressed));
    out._owned = std::move(inflated);
    payload = out._owned;
  }
  if (errc e = decode_payload(payload, out.header.records_count, out); e != errc::ok) return e;
  return out;
}

batch_builder& batch_builder::log_append_time(int64_t append_time) {
  _h.attributes |= attr::kTimestampType;
  _log_append_time = append_time;
  return *this;
}

batch_builder& batch_builder::base_timestamp(int64_t ts) {
  if (_count > 0) _bad = true;  // deltas already written against another base
  _base_timestamp = ts;
  return *this;
}

batch_builder& batch_builder::add(int64_t timestamp, nullable_span key, nullable_span value,
                                  std::span<const header_input> headers) {
  return add_at(_last_offset_delta + 1, timestamp, key, value, headers);
}

batch_builder& batch_builder::add_at(int32_t offset_delta, int64_t timestamp, nullable_span key,
                                     nullable_span value, std::span<const header_input> headers) {
  if (offset_delta <= _last_offset_delta) {
    _bad = true;
    return *this;
  }
  if (!_base_timestamp) _base_timestamp = timestamp;
  // Wrapping subtraction: deltas of absurd timestamps must not be UB.
  auto ts_delta = static_cast<int64_t>(static_cast<uint64_t>(timestamp) -
                                       static_cast<uint64_t>(*_base_timestamp));
  if (_count == 0 || timestamp > _max_timestamp) _max_timestamp = timestamp;

  size_t body = 1 + zigzag64_size(ts_delta) + zigzag32_size(offset_delta) + nullable_size(key) +
                nullable_size(value) + zigzag32_size(static_cast<int32_t>(headers.size()));
  for (const auto& h : headers) {
    body +=
        zigzag32_size(static_cast<int32_t>(h.key.size())) + h.key.size() + nullable_size(h.value);
  }
  wire::writer w(_records);
  w.write_varint(static_cast<int32_t>(body));
  w.write_int8(0);  // record attributes: unused
  w.write_varlong(ts_delta);
  w.write_varint(offset_delta);
  write_nullable(w, key);
  write_nullable(w, value);
  w.write_varint(static_cast<int32_t>(headers.size()));
  for (const auto& h : headers) {
    w.write_varint(static_cast<int32_t>(h.key.size()));
    w.write_raw(h.key.data(), h.key.size());
    write_nullable(w, h.value);
  }
  _last_offset_delta = offset_delta;
  ++_count;
  return *this;
}

void batch_builder::clear() {
  wire::bytes keep = std::move(_records);
  keep.clear();
  *this = batch_builder();
  _records = std::move(keep);
}

result<wire::bytes> batch_builder::build() const {
  wire::bytes out;
  if (errc e = build_into(out); e != errc::ok) return e;
  return out;
}

errc batch_builder::build_into(wire::bytes& out) const {
  if (_bad || _count == 0) return errc::invalid_data;
  wire::bytes compressed;
  byte_span payload = _records;
  if (_codec != compression::codec::none) {
    auto z = compression::compress(_codec, _records, _level);
    if (!z) return static_cast<errc>(z.error().value());
    compressed = std::move(z).value();
    payload = compressed;
  }
  size_t total = kHeaderSize + payload.size();
  if (total - kLogOverhead > static_cast<size_t>(INT32_MAX)) return errc::too_large;
  size_t start = out.size();
  out.reserve(start + total);
  out.resize(start + kHeaderSize);
  out.insert(out.end(), payload.begin(), payload.end());  // no zero-fill of the payload
  uint8_t* p = out.data() + start;
  auto attributes = static_cast<int16_t>((_h.attributes & ~attr::kCompressionMask) |
                                         static_cast<int16_t>(_codec));
  be::store_i64(p, _h.base_offset);
  be::store_i32(p + 8, static_cast<int32_t>(total - kLogOverhead));
  be::store_i32(p + 12, _h.partition_leader_epoch);
  p[16] = static_cast<uint8_t>(kMagic);
  be::store_i16(p + 21, attributes);
  be::store_i32(p + 23, _last_offset_delta);
  be::store_i64(p + 27, *_base_timestamp);
  be::store_i64(p + 35, _log_append_time ? *_log_append_time : _max_timestamp);
  be::store_i64(p + 43, _h.producer_id);
  be::store_i16(p + 51, _h.producer_epoch);
  be::store_i32(p + 53, _h.base_sequence);
  be::store_i32(p + 57, _count);
  be::store_u32(p + kCrcOffset, crc32c::value(p + kAttributesOffset, total - kAttributesOffset));
  return errc::ok;
}

wire::bytes encode_control_key(control_type type) {
  wire::bytes out(4);
  be::store_i16(out.data(), 0);
  be::store_i16(out.data() + 2, static_cast<int16_t>(type));
  return out;
}

wire::bytes encode_marker_value(int32_t coordinator_epoch) {
  wire::bytes out(6);
  be::store_i16(out.data(), 0);
  be::store_i32(out.data() + 2, coordinator_epoch);
  return out;
}

result<control_type> parse_control_key(byte_span key) {
  if (key.size() < 4) return errc::truncated;
  int16_t version = be::load_i16(key.data());
  if (version < 0) return errc::unsupported_version;
  if (version == 0 && key.size() != 4) return errc::invalid_data;
  int16_t type = be::load_i16(key.data() + 2);
  if (type != 0 && type != 1) return errc::invalid_data;
  return static_cast<control_type>(type);
}

result<transaction_marker> parse_transaction_marker(const record& r) {
  if (!r.key || !r.value) return errc::invalid_data;
  SLUICE_TRY(type, parse_control_key(*r.key));
  byte_span v = *r.value;
  if (v.size() < 6) return errc::truncated;
  int16_t version = be::load_i16(v.data());
  if (version < 0) return errc::unsupported_version;
  if (version == 0 && v.size() != 6) return errc::invalid_data;
  return transaction_marker{type, be::load_i32(v.data() + 2)};
}

result<wire::bytes> build_marker_batch(int64_t base_offset, int64_t producer_id,
                                       int16_t producer_epoch, int32_t partition_leader_epoch,
                                       const transaction_marker& marker, int64_t timestamp) {
  wire::bytes key = encode_control_key(marker.type);
  wire::bytes value = encode_marker_value(marker.coordinator_epoch);
  batch_builder b;
  b.base_offset(base_offset)
      .partition_leader_epoch(partition_leader_epoch)
      .producer(producer_id, producer_epoch, kNoSequence)
      .transactional(true)
      .control(true)
      .add(timestamp, byte_span(key), byte_span(value));
  return b.build();
}

}  // namespace sluice::records
