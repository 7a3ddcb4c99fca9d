#pragma once
// Kafka record batch compression codecs (attributes bits 0-2).
//
// Contract:
// - decompress() never trusts sizes declared inside the compressed data: it streams into an
//   output buffer that grows geometrically and fails with errc::too_large as soon as the output
//   would exceed `max_output` (decompression bombs cost at most max_output + a small constant).
// - Errors: errc::unsupported_compression for codec ids 5-7 (or anything > 4),
//   errc::decompression_failed for corrupt or truncated input, errc::too_large as above.
// - Formats, as Kafka clients write them:
//     gzip   (1) RFC 1952 gzip members (zlib); concatenated members are accepted.
//     snappy (2) compress writes the snappy-java ("xerial") framing the Java client writes:
//                "\x82SNAPPY\0", int32 BE version = 1, int32 BE compatible = 1, then
//                [int32 BE length, raw snappy block]*. decompress also accepts one plain raw
//                snappy block, which is what librdkafka writes (its reader accepts both).
//     lz4    (3) LZ4 frame format (lz4frame.h); concatenated frames are accepted.
//     zstd   (4) zstd frames, decoded with the streaming API; concatenated frames accepted.
// - codec::none returns a copy of the input (still capped by max_output).
//
// Thread safety: free functions without shared state; safe to call from any thread.

#include <climits>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "src/base/errc.h"
#include "src/protocol/wire.h"

namespace sluice::compression {

enum class codec : uint8_t { none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 };

// Level meaning "the codec's own default" (gzip 6, lz4 fast, zstd 3).
inline constexpr int default_level = INT32_MIN;

std::string_view name(codec c);

result<wire::bytes> decompress(codec c, std::span<const uint8_t> input, size_t max_output);
result<wire::bytes> compress(codec c, std::span<const uint8_t> input, int level = default_level);

}  // namespace sluice::compression
