#pragma once
// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used by Kafka record batches v2.
//
// Contract:
// - `value(p, n)` is the CRC of n bytes; `extend(crc, p, n)` continues a CRC over more bytes, so
//   extend(value(a), b) == value(a ++ b). Both take and return the finished (inverted) CRC, like
//   LevelDB's crc32c::Extend, so callers never see the pre/post inversion.
// - On x86-64 CPUs with SSE4.2 the CRC32 instruction is used (chosen once at runtime; no special
//   compile flags), as three interleaved streams recombined with compile-time tables (>= 768-byte
//   inputs). Elsewhere (s390x, aarch64 without a dedicated path) a slicing-by-8 table
//   implementation runs; it reads bytes individually, so it is correct on either byte order.
// - `p` may be null when n == 0. Any alignment is fine.
//
// Thread safety: pure functions; the one-time CPU dispatch is a thread-safe static.

#include <cstddef>
#include <cstdint>
#include <span>

namespace sluice::crc32c {

uint32_t extend(uint32_t crc, const uint8_t* data, size_t n);
inline uint32_t value(const uint8_t* data, size_t n) { return extend(0, data, n); }
inline uint32_t value(std::span<const uint8_t> s) { return extend(0, s.data(), s.size()); }

// Both implementations, exposed for tests and benchmarks.
uint32_t portable_extend(uint32_t crc, const uint8_t* data, size_t n);
// True if this CPU has a hardware path (SSE4.2 on x86-64).
bool hardware_available();
// The hardware path; only call when hardware_available() (falls back to portable otherwise).
uint32_t hardware_extend(uint32_t crc, const uint8_t* data, size_t n);

}  // namespace sluice::crc32c
