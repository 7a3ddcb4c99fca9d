#include "src/base/crc32c.h"

#include <array>
#include <boost/endian/conversion.hpp>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace sluice::crc32c {
namespace {

constexpr uint32_t kPoly = 0x82F63B78u;  // reflected Castagnoli

// kTables[k][b]: CRC contribution of byte b followed by k zero bytes (slicing-by-8).
using tables = std::array<std::array<uint32_t, 256>, 8>;
constexpr tables make_tables() {
  tables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1) ? kPoly : 0);
    t[0][i] = c;
  }
  for (size_t k = 1; k < 8; ++k) {
    for (size_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
  }
  return t;
}
constexpr tables kTables = make_tables();

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t sse42_extend(uint32_t crc, const uint8_t* p, size_t n) {
  uint64_t c = ~crc;
  // Align so the 8-byte loads below do not straddle cache lines.
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), *p++);
    --n;
  }
  while (n >= 32) {
    uint64_t v[4];
    std::memcpy(v, p, 32);  // x86-64 only: the instruction consumes little-endian words
    c = _mm_crc32_u64(c, v[0]);
    c = _mm_crc32_u64(c, v[1]);
    c = _mm_crc32_u64(c, v[2]);
    c = _mm_crc32_u64(c, v[3]);
    p += 32;
    n -= 32;
  }
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), *p++);
    --n;
  }
  return ~static_cast<uint32_t>(c);
}
#endif

using extend_fn = uint32_t (*)(uint32_t, const uint8_t*, size_t);

extend_fn choose() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("sse4.2")) return sse42_extend;
#endif
  return portable_extend;
}

}  // namespace

uint32_t portable_extend(uint32_t crc, const uint8_t* p, size_t n) {
  const auto& t = kTables;
  uint32_t c = ~crc;
  while (n >= 8) {
    // The CRC is reflected: the first byte is the least significant, whatever the host order.
    uint32_t lo = c ^ boost::endian::load_little_u32(p);
    uint32_t hi = boost::endian::load_little_u32(p + 4);
    c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
        t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    c = t[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    --n;
  }
  return ~c;
}

bool hardware_available() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("sse4.2");
#else
  return false;
#endif
}

uint32_t hardware_extend(uint32_t crc, const uint8_t* data, size_t n) {
#if defined(__x86_64__)
  if (hardware_available()) return sse42_extend(crc, data, n);
#endif
  return portable_extend(crc, data, n);
}

uint32_t extend(uint32_t crc, const uint8_t* data, size_t n) {
  static const extend_fn fn = choose();
  return fn(crc, data, n);
}

}  // namespace sluice::crc32c
