#pragma once
// Kafka wire primitives: a bounds-checked reader and an appending writer.
//
// Contract:
// - `reader` never reads past its span and never allocates more than the bytes it has left: a
//   length or array count that cannot fit in the remaining input fails before any allocation.
// - Errors are sticky (like an iostream's failbit): the first failure records an errc, every
//   later read returns a zero value. Decoders read straight through and check `ok()` once at
//   the end, so generated code has no error branches per field.
// - All integers are big-endian on the wire (src/base/byte_order.h); varints follow Kafka's
//   (protobuf's) unsigned LEB128 and zigzag encodings.
//
// Thread safety: a reader or writer is used by one thread at a time.

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/byte_order.h"
#include "src/base/errc.h"

namespace sluice::wire {

using bytes = std::vector<uint8_t>;
using uuid = std::array<uint8_t, 16>;

// A byte range of an open file, written to the socket with sendfile(2) instead of being copied
// into the message (Fetch responses send segment data this way). `owner` keeps `fd` open until
// the bytes are sent, even if the segment is deleted meanwhile.
struct file_range {
  std::shared_ptr<void> owner;
  int fd = -1;
  uint64_t offset = 0;
  uint32_t length = 0;
  bool operator==(const file_range& o) const {
    return fd == o.fd && offset == o.offset && length == o.length;
  }
};

// Where a file_range goes in an encoded message: after the first `at` bytes of the buffer.
struct splice {
  size_t at = 0;
  file_range range;
};

// The value of a `records` field: null, bytes in memory (decoded requests; small responses),
// bytes borrowed from a request frame (decoded by a borrowing reader, below: Produce), or a file
// range to sendfile (Fetch responses). It is a std::optional<bytes> with two more alternatives;
// view() gives the bytes in memory whichever way they are held.
struct records : std::optional<bytes> {
  using std::optional<bytes>::optional;
  using std::optional<bytes>::operator=;
  // Bytes inside a buffer that `owner` keeps alive. Mutable: the log assigns offsets in place
  // before it writes a produced batch, so the bytes are never copied on the way to disk.
  struct borrowed_bytes {
    std::span<uint8_t> data;
    std::shared_ptr<void> owner;
  };
  std::optional<file_range> file;          // when set, encoded instead of the bytes
  std::optional<borrowed_bytes> borrowed;  // when set, the bytes (the optional is empty)

  bool is_null() const { return !has_value() && !file && !borrowed; }
  size_t size() const { return file ? file->length : view().size(); }
  // The bytes in memory (owned or borrowed); empty for null or a file range.
  std::span<const uint8_t> view() const {
    if (borrowed) return borrowed->data;
    return has_value() ? std::span<const uint8_t>(value()) : std::span<const uint8_t>();
  }
  std::span<uint8_t> mutable_view() {
    if (borrowed) return borrowed->data;
    return has_value() ? std::span<uint8_t>(value()) : std::span<uint8_t>();
  }
  // Equal when both are null or hold the same bytes (however held), and the same file range.
  bool operator==(const records& o) const {
    const auto a = view();
    const auto b = o.view();
    return is_null() == o.is_null() && file == o.file &&
           std::equal(a.begin(), a.end(), b.begin(), b.end());
  }
};

// A tagged field we do not know (KIP-482): kept verbatim so decode -> encode preserves it.
struct tagged_field {
  uint32_t tag = 0;
  bytes data;
  bool operator==(const tagged_field&) const = default;
};
using tagged_fields = std::vector<tagged_field>;

class reader {
 public:
  reader(const uint8_t* data, size_t size) : _begin(data), _p(data), _end(data + size) {}
  explicit reader(std::span<const uint8_t> s) : reader(s.data(), s.size()) {}
  // A borrowing reader: `buf` is a mutable buffer kept alive by `owner`, and records fields read
  // from it point into it (records::borrowed) instead of being copied. The other fields are
  // copied as usual.
  reader(std::span<uint8_t> buf, std::shared_ptr<void> owner) : reader(buf.data(), buf.size()) {
    _mutable = buf.data();
    _owner = std::move(owner);
  }

  bool ok() const { return _err == errc::ok; }
  errc error() const { return _err; }
  size_t remaining() const { return static_cast<size_t>(_end - _p); }
  const uint8_t* position() const { return _p; }
  // Records the first error only; later reads return zero values.
  void fail(errc e) {
    if (_err == errc::ok) _err = e;
    _p = _end;
  }

  int8_t read_int8() { return need(1) ? static_cast<int8_t>(*_p++) : 0; }
  uint8_t read_uint8() { return need(1) ? *_p++ : 0; }
  bool read_bool() { return read_int8() != 0; }
  int16_t read_int16() { return fixed<int16_t>(be::load_i16); }
  uint16_t read_uint16() { return fixed<uint16_t>(be::load_u16); }
  int32_t read_int32() { return fixed<int32_t>(be::load_i32); }
  uint32_t read_uint32() { return fixed<uint32_t>(be::load_u32); }
  int64_t read_int64() { return fixed<int64_t>(be::load_i64); }
  double read_float64() { return fixed<double>(be::load_f64); }
  uuid read_uuid();

  uint32_t read_uvarint();   // at most 5 bytes
  uint64_t read_uvarlong();  // at most 10 bytes
  int32_t read_varint() {
    uint32_t v = read_uvarint();
    return static_cast<int32_t>((v >> 1) ^ (~(v & 1) + 1));
  }
  int64_t read_varlong() {
    uint64_t v = read_uvarlong();
    return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
  }

  // STRING / NULLABLE_STRING (int16 length) and COMPACT_ variants (uvarint length + 1).
  std::string read_string(bool compact);
  std::optional<std::string> read_nullable_string(bool compact);
  // BYTES / NULLABLE_BYTES (int32 length) and COMPACT_ variants.
  bytes read_bytes(bool compact);
  std::optional<bytes> read_nullable_bytes(bool compact);
  // RECORDS (nullable BYTES where `nullable`); borrowed from the buffer by a borrowing reader.
  records read_records(bool compact, bool nullable);
  // Array length: -1 for null (only legal when nullable). Fails if count * min_element_size
  // exceeds the remaining bytes, so callers may reserve(count) safely.
  int32_t read_array_length(bool compact, bool nullable, size_t min_element_size = 1);
  // Borrow n bytes without copying (valid as long as the underlying buffer).
  std::span<const uint8_t> read_span(size_t n);
  void skip(size_t n) { (void)read_span(n); }

  // Tagged field section of a flexible struct. Known tags are handed to `on_known(tag, sub)`,
  // which returns false for tags it does not know; those land in `unknown`.
  template <class F>
  void read_tagged_fields(tagged_fields& unknown, F&& on_known);
  void read_tagged_fields(tagged_fields& unknown) {
    read_tagged_fields(unknown, [](uint32_t, reader&) { return false; });
  }

 private:
  bool need(size_t n) {
    if (_err != errc::ok) return false;
    if (remaining() < n) {
      fail(errc::truncated);
      return false;
    }
    return true;
  }
  template <class T, class L>
  T fixed(L load) {
    if (!need(sizeof(T))) return T{};
    T v = load(_p);
    _p += sizeof(T);
    return v;
  }
  // Reads a length prefix; returns -1 for null, or fails and returns -2.
  int64_t read_length(bool compact, bool wide);

  const uint8_t* _begin;
  const uint8_t* _p;
  const uint8_t* _end;
  errc _err = errc::ok;
  uint8_t* _mutable = nullptr;  // == _begin, writable, for a borrowing reader
  std::shared_ptr<void> _owner;
};

class writer {
 public:
  writer() = default;
  explicit writer(bytes& out) : _out(&out) {}

  bytes& buffer() { return *_out; }
  size_t size() const { return _out->size(); }

  void write_int8(int8_t v) { _out->push_back(static_cast<uint8_t>(v)); }
  void write_uint8(uint8_t v) { _out->push_back(v); }
  void write_bool(bool v) { write_int8(v ? 1 : 0); }
  void write_int16(int16_t v) { be::store_i16(grow(2), v); }
  void write_uint16(uint16_t v) { be::store_u16(grow(2), v); }
  void write_int32(int32_t v) { be::store_i32(grow(4), v); }
  void write_uint32(uint32_t v) { be::store_u32(grow(4), v); }
  void write_int64(int64_t v) { be::store_i64(grow(8), v); }
  void write_float64(double v) { be::store_f64(grow(8), v); }
  void write_uuid(const uuid& u) { write_raw(u.data(), u.size()); }

  void write_uvarint(uint32_t v);
  void write_uvarlong(uint64_t v);
  void write_varint(int32_t v) {
    write_uvarint((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31));
  }
  void write_varlong(int64_t v) {
    write_uvarlong((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
  }

  void write_string(std::string_view s, bool compact);
  void write_nullable_string(const std::optional<std::string>& s, bool compact);
  void write_bytes(std::span<const uint8_t> b, bool compact);
  void write_nullable_bytes(const std::optional<bytes>& b, bool compact);
  void write_array_length(int32_t n, bool compact);  // n = -1 writes null
  // A records value: its length prefix, then the bytes or, for a file range, a splice.
  void write_records(const records& r, bool compact);
  // File ranges to send after the buffer's bytes at each splice's position, in order.
  const std::vector<splice>& splices() const { return _splices; }
  std::vector<splice> take_splices() { return std::move(_splices); }
  void write_raw(const uint8_t* p, size_t n) { _out->insert(_out->end(), p, p + n); }
  void write_tagged_fields(const tagged_fields& unknown);

  // Reserve 4 bytes now, fill them with the number of bytes written after them later.
  size_t begin_size32() {
    (void)grow(4);
    return size();
  }
  void end_size32(size_t mark) {
    be::store_i32(_out->data() + mark - 4, static_cast<int32_t>(size() - mark));
  }

 private:
  uint8_t* grow(size_t n) {
    size_t old = _out->size();
    _out->resize(old + n);
    return _out->data() + old;
  }
  bytes _own;
  bytes* _out = &_own;
  std::vector<splice> _splices;
};

// Number of bytes write_uvarint(v) produces.
inline size_t uvarint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

template <class F>
void reader::read_tagged_fields(tagged_fields& unknown, F&& on_known) {
  uint32_t count = read_uvarint();
  if (!ok()) return;
  if (count > remaining()) {
    fail(errc::invalid_length);
    return;
  }
  int64_t last = -1;
  for (uint32_t i = 0; i < count && ok(); ++i) {
    uint32_t tag = read_uvarint();
    uint32_t size = read_uvarint();
    if (!ok()) return;
    // KIP-482: tags are strictly ascending.
    if (static_cast<int64_t>(tag) <= last) return fail(errc::invalid_data);
    last = tag;
    std::span<const uint8_t> body = read_span(size);
    if (!ok()) return;
    reader sub(body);
    if (on_known(tag, sub)) {
      if (!sub.ok()) return fail(sub.error());
      if (sub.remaining() != 0) return fail(errc::invalid_data);
    } else {
      unknown.push_back({tag, bytes(body.begin(), body.end())});
    }
  }
}

}  // namespace sluice::wire
