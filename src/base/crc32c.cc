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
// Hardware path: three independent CRC32 chains over consecutive blocks, recombined with
// "shift by N zero bytes" tables (Mark Adler's public-domain crc32c.c, zlib's crc32_combine
// idea). The CRC32 instruction has a latency of 3 cycles but a throughput of 1 per cycle, so a
// single chain uses a third of the unit; three chains keep it busy. No PCLMUL needed.
//
// Without the pre/post inversion the CRC is linear: for blocks A and B,
// crc(A ++ B) == shift_|B|(crc(A)) ^ crc_from_zero(B), where shift_N multiplies by x^(8N) mod P.
constexpr size_t kLong = 8192;  // bytes per stream in the large-block loop
constexpr size_t kShort = 256;  // bytes per stream in the small-block loop

// a(x) * b(x) mod P(x), both reflected (bit 31 is the x^0 coefficient).
constexpr uint32_t multmodp(uint32_t a, uint32_t b) {
  uint32_t p = 0;
  for (uint32_t m = 1u << 31; m != 0; m >>= 1) {
    if (a & m) p ^= b;
    b = (b & 1) ? (b >> 1) ^ kPoly : b >> 1;
  }
  return p;
}

// x^(8n) mod P(x), reflected: the operator that appends n zero bytes to a raw CRC register.
constexpr uint32_t x8nmodp(size_t n) {
  uint32_t result = 1u << 31;  // x^0
  uint32_t base = 1u << 23;    // x^8
  for (; n != 0; n >>= 1) {
    if (n & 1) result = multmodp(base, result);
    base = multmodp(base, base);
  }
  return result;
}

// zeros[k][b]: raw register b << 8k advanced over n zero bytes, so a shift is four lookups.
using zeros_table = std::array<std::array<uint32_t, 256>, 4>;
constexpr zeros_table make_zeros(size_t n) {
  const uint32_t op = x8nmodp(n);
  zeros_table z{};
  for (uint32_t k = 0; k < 4; ++k) {
    for (uint32_t b = 0; b < 256; ++b) z[k][b] = multmodp(op, b << (8 * k));
  }
  return z;
}
// Built at compile time: no initialisation order or thread-safety concerns at run time.
alignas(64) constexpr zeros_table kZerosLong = make_zeros(kLong);
alignas(64) constexpr zeros_table kZerosShort = make_zeros(kShort);

constexpr uint32_t shift(const zeros_table& z, uint32_t c) {
  return z[0][c & 0xff] ^ z[1][(c >> 8) & 0xff] ^ z[2][(c >> 16) & 0xff] ^ z[3][c >> 24];
}

// Compile-time cross-check of the tables against feeding zero bytes one at a time.
constexpr uint32_t zeros_bytewise(uint32_t c, size_t n) {
  for (; n != 0; --n) c = kTables[0][c & 0xff] ^ (c >> 8);
  return c;
}
static_assert(shift(kZerosShort, 0x12345678u) == zeros_bytewise(0x12345678u, kShort));
static_assert(shift(kZerosShort, 0xffffffffu) == zeros_bytewise(0xffffffffu, kShort));
static_assert(shift(kZerosLong, 0x89abcdefu) == zeros_bytewise(0x89abcdefu, kLong));

__attribute__((target("sse4.2"), always_inline)) inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);  // x86-64 only: the instruction consumes little-endian words
  return v;
}

// Three interleaved chains over blocks [p, p+block), [p+block, p+2 block), [p+2 block, p+3 block).
// Returns the register after all 3 * block bytes, given the register c0 before them.
template <size_t kBlock>
__attribute__((target("sse4.2"), always_inline)) inline uint64_t crc3(uint64_t c0, const uint8_t* p,
                                                                      const zeros_table& z) {
  uint64_t c1 = 0;
  uint64_t c2 = 0;
  const uint8_t* const end = p + kBlock;
  do {
    c0 = _mm_crc32_u64(c0, load64(p));
    c1 = _mm_crc32_u64(c1, load64(p + kBlock));
    c2 = _mm_crc32_u64(c2, load64(p + 2 * kBlock));
    p += 8;
  } while (p < end);
  uint32_t c = shift(z, static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c1);
  return shift(z, c) ^ static_cast<uint32_t>(c2);
}

__attribute__((target("sse4.2"))) uint32_t sse42_extend(uint32_t crc, const uint8_t* p, size_t n) {
  uint64_t c = ~crc;
  // Align so the 8-byte loads below do not straddle cache lines.
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), *p++);
    --n;
  }
  while (n >= 3 * kLong) {
    c = crc3<kLong>(c, p, kZerosLong);
    p += 3 * kLong;
    n -= 3 * kLong;
  }
  while (n >= 3 * kShort) {
    c = crc3<kShort>(c, p, kZerosShort);
    p += 3 * kShort;
    n -= 3 * kShort;
  }
  while (n >= 32) {
    c = _mm_crc32_u64(c, load64(p));
    c = _mm_crc32_u64(c, load64(p + 8));
    c = _mm_crc32_u64(c, load64(p + 16));
    c = _mm_crc32_u64(c, load64(p + 24));
    p += 32;
    n -= 32;
  }
  while (n >= 8) {
    c = _mm_crc32_u64(c, load64(p));
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
