#pragma once
// Explicit big-endian loads and stores for wire and disk formats.
//
// Kafka's wire format and Sluice's on-disk formats are big-endian by specification. Never memcpy a
// host integer into a buffer: on x86-64 that writes little-endian, on s390x big-endian. Always go
// through these helpers (Boost.Endian underneath), which are correct on both.
//
// Callers guarantee `p` points at enough bytes; bounds are checked one level up (wire::reader).

#include <boost/endian/conversion.hpp>
#include <cstdint>
#include <cstring>

namespace sluice::be {

inline uint16_t load_u16(const uint8_t* p) { return boost::endian::load_big_u16(p); }
inline uint32_t load_u32(const uint8_t* p) { return boost::endian::load_big_u32(p); }
inline uint64_t load_u64(const uint8_t* p) { return boost::endian::load_big_u64(p); }
inline int16_t load_i16(const uint8_t* p) { return boost::endian::load_big_s16(p); }
inline int32_t load_i32(const uint8_t* p) { return boost::endian::load_big_s32(p); }
inline int64_t load_i64(const uint8_t* p) { return boost::endian::load_big_s64(p); }

inline void store_u16(uint8_t* p, uint16_t v) { boost::endian::store_big_u16(p, v); }
inline void store_u32(uint8_t* p, uint32_t v) { boost::endian::store_big_u32(p, v); }
inline void store_u64(uint8_t* p, uint64_t v) { boost::endian::store_big_u64(p, v); }
inline void store_i16(uint8_t* p, int16_t v) { boost::endian::store_big_s16(p, v); }
inline void store_i32(uint8_t* p, int32_t v) { boost::endian::store_big_s32(p, v); }
inline void store_i64(uint8_t* p, int64_t v) { boost::endian::store_big_s64(p, v); }

// IEEE 754 binary64, sent as its big-endian bit pattern (Kafka FLOAT64).
inline double load_f64(const uint8_t* p) {
  uint64_t bits = load_u64(p);
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}
inline void store_f64(uint8_t* p, double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  store_u64(p, bits);
}

}  // namespace sluice::be
