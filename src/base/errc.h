#pragma once
// Sluice's error codes and result type.
//
// Errors are values (RocksDB/Envoy style): functions on the data path return `result<T>` or
// `std::error_code`, never throw. A `result<T>` is [[nodiscard]]; the caller must check it.
// Kafka's own wire error codes live in src/protocol/kafka_error.h; these are internal.
//
// Thread safety: all types here are values; the error category is a process-wide singleton.

#include <boost/outcome/std_result.hpp>
#include <boost/outcome/try.hpp>
#include <system_error>

namespace sluice {

enum class errc : int {
  ok = 0,
  // Decoding (wire and disk formats).
  truncated = 1,          // fewer bytes than the format requires
  invalid_length = 2,     // negative or oversized length/count
  invalid_varint = 3,     // varint longer than its type allows
  crc_mismatch = 4,       // CRC-32C does not match the data
  unsupported_magic = 5,  // record batch magic other than 2
  unsupported_compression = 6,
  decompression_failed = 7,
  too_large = 8,     // output would exceed the caller's limit (e.g. decompression bomb)
  invalid_data = 9,  // structurally invalid (trailing bytes, bad enum, ...)
  unsupported_version = 10,
  unknown_api = 11,
  // Configuration and I/O.
  invalid_config = 20,
  io_error = 21,
  no_space = 22,
  not_found = 23,
};

const std::error_category& sluice_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), sluice_category()};
}

template <class T>
using result = boost::outcome_v2::std_result<T>;

using boost::outcome_v2::success;

}  // namespace sluice

template <>
struct std::is_error_code_enum<sluice::errc> : std::true_type {};

// SLUICE_TRY(var, expr): evaluate a result-returning expr; on error return it from the caller,
// otherwise bind its value to a new variable `var`.
#define SLUICE_TRY(...) BOOST_OUTCOME_TRY(__VA_ARGS__)
