#include "src/protocol/wire.h"

#include <algorithm>
#include <cstring>

namespace sluice::wire {

uuid reader::read_uuid() {
  uuid u{};
  if (need(16)) {
    std::memcpy(u.data(), _p, 16);
    _p += 16;
  }
  return u;
}

uint32_t reader::read_uvarint() {
  uint64_t v = read_uvarlong();
  if (v > UINT32_MAX) {
    fail(errc::invalid_varint);
    return 0;
  }
  return static_cast<uint32_t>(v);
}

uint64_t reader::read_uvarlong() {
  uint64_t v = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (!need(1)) return 0;
    uint8_t b = *_p++;
    if (shift == 63 && b > 1) break;  // would overflow 64 bits
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  fail(errc::invalid_varint);
  return 0;
}

int64_t reader::read_length(bool compact, bool wide) {
  int64_t n;
  if (compact) {
    n = static_cast<int64_t>(read_uvarint()) - 1;
  } else {
    n = wide ? read_int32() : read_int16();
  }
  if (!ok()) return -2;
  if (n < -1) {
    fail(errc::invalid_length);
    return -2;
  }
  if (n > static_cast<int64_t>(remaining())) {
    fail(errc::truncated);
    return -2;
  }
  return n;
}

std::span<const uint8_t> reader::read_span(size_t n) {
  if (!need(n)) return {};
  std::span<const uint8_t> s(_p, n);
  _p += n;
  return s;
}

std::string reader::read_string(bool compact) {
  int64_t n = read_length(compact, false);
  if (n == -1) {
    fail(errc::invalid_length);  // null where a non-nullable string is required
    return {};
  }
  if (n < 0) return {};
  auto s = read_span(static_cast<size_t>(n));
  return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

std::optional<std::string> reader::read_nullable_string(bool compact) {
  int64_t n = read_length(compact, false);
  if (n < 0) return std::nullopt;
  auto s = read_span(static_cast<size_t>(n));
  return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

bytes reader::read_bytes(bool compact) {
  int64_t n = read_length(compact, true);
  if (n == -1) {
    fail(errc::invalid_length);
    return {};
  }
  if (n < 0) return {};
  auto s = read_span(static_cast<size_t>(n));
  return bytes(s.begin(), s.end());
}

std::optional<bytes> reader::read_nullable_bytes(bool compact) {
  int64_t n = read_length(compact, true);
  if (n < 0) return std::nullopt;
  auto s = read_span(static_cast<size_t>(n));
  return bytes(s.begin(), s.end());
}

records reader::read_records(bool compact, bool nullable) {
  int64_t n = read_length(compact, true);
  if (n == -1 && !nullable) fail(errc::invalid_length);
  if (n < 0) return records();
  auto s = read_span(static_cast<size_t>(n));
  if (!ok()) return records();
  if (_owner == nullptr) return records(bytes(s.begin(), s.end()));
  records r;
  r.borrowed = records::borrowed_bytes{{_mutable + (s.data() - _begin), s.size()}, _owner};
  return r;
}

int32_t reader::read_array_length(bool compact, bool nullable, size_t min_element_size) {
  int64_t n = compact ? static_cast<int64_t>(read_uvarint()) - 1 : read_int32();
  if (!ok()) return 0;
  if (n == -1) {
    if (!nullable) fail(errc::invalid_length);
    return nullable ? -1 : 0;
  }
  if (n < -1 || static_cast<uint64_t>(n) * std::max<size_t>(min_element_size, 1) > remaining()) {
    fail(n < -1 ? errc::invalid_length : errc::truncated);
    return 0;
  }
  return static_cast<int32_t>(n);
}

void writer::write_uvarint(uint32_t v) { write_uvarlong(v); }

void writer::write_uvarlong(uint64_t v) {
  while (v >= 0x80) {
    _out->push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  _out->push_back(static_cast<uint8_t>(v));
}

void writer::write_string(std::string_view s, bool compact) {
  if (compact) {
    write_uvarint(static_cast<uint32_t>(s.size() + 1));
  } else {
    write_int16(static_cast<int16_t>(s.size()));
  }
  write_raw(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

void writer::write_nullable_string(const std::optional<std::string>& s, bool compact) {
  if (!s) {
    if (compact) {
      write_uvarint(0);
    } else {
      write_int16(-1);
    }
    return;
  }
  write_string(*s, compact);
}

void writer::write_bytes(std::span<const uint8_t> b, bool compact) {
  if (compact) {
    write_uvarint(static_cast<uint32_t>(b.size() + 1));
  } else {
    write_int32(static_cast<int32_t>(b.size()));
  }
  write_raw(b.data(), b.size());
}

void writer::write_nullable_bytes(const std::optional<bytes>& b, bool compact) {
  if (!b) {
    if (compact) {
      write_uvarint(0);
    } else {
      write_int32(-1);
    }
    return;
  }
  write_bytes(*b, compact);
}

void writer::write_array_length(int32_t n, bool compact) {
  if (compact) {
    write_uvarint(static_cast<uint32_t>(n + 1));
  } else {
    write_int32(n);
  }
}

void writer::write_records(const records& r, bool compact) {
  if (r.borrowed) return write_bytes(r.borrowed->data, compact);
  if (!r.file) return write_nullable_bytes(r, compact);
  if (compact) {
    write_uvarint(r.file->length + 1);
  } else {
    write_int32(static_cast<int32_t>(r.file->length));
  }
  _splices.push_back({size(), *r.file});
}

void writer::write_tagged_fields(const tagged_fields& unknown) {
  write_uvarint(static_cast<uint32_t>(unknown.size()));
  for (const auto& f : unknown) {
    write_uvarint(f.tag);
    write_uvarint(static_cast<uint32_t>(f.data.size()));
    write_raw(f.data.data(), f.data.size());
  }
}

}  // namespace sluice::wire
