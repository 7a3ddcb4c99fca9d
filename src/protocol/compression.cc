#include "src/protocol/compression.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>

namespace sluice::compression {
namespace {

constexpr uint8_t kXerialMagic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
constexpr size_t kXerialHeaderSize = 16;        // magic, int32 version, int32 compatible version
constexpr size_t kXerialBlockSize = 32 * 1024;  // snappy-java's default block size

// Output buffer for streaming decoders. It grows geometrically up to max_output + 1 bytes: a
// decoder that still has output once that last byte is full proves the limit is exceeded, while a
// stream of exactly max_output bytes still fits.
class bounded_output {
 public:
  bounded_output(size_t max_output, size_t input_size)
      : _max(max_output), _cap(max_output == SIZE_MAX ? SIZE_MAX : max_output + 1) {
    // Typical ratios are 2-10x; start there and double rather than trusting any header.
    size_t hint = input_size > SIZE_MAX / 4 ? SIZE_MAX : std::max<size_t>(input_size * 4, 4096);
    _buf.resize(std::min(_cap, std::min<size_t>(hint, 1 << 20)));
  }

  // Free space to decode into; empty once the cap is reached.
  std::span<uint8_t> space() {
    if (_size == _buf.size()) {
      if (_buf.size() >= _cap) return {};
      size_t grow = _buf.size() > _cap / 2 ? _cap : std::max<size_t>(_buf.size() * 2, 4096);
      _buf.resize(std::min(grow, _cap));
    }
    return {_buf.data() + _size, _buf.size() - _size};
  }
  void commit(size_t n) { _size += n; }

  result<wire::bytes> finish() {
    if (_size > _max) return errc::too_large;
    _buf.resize(_size);
    return std::move(_buf);
  }

 private:
  size_t _max;
  size_t _cap;
  size_t _size = 0;
  wire::bytes _buf;
};

result<wire::bytes> gunzip(std::span<const uint8_t> in, size_t max_output) {
  if (in.size() > UINT_MAX) return errc::too_large;
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return errc::decompression_failed;  // gzip only
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  bounded_output out(max_output, in.size());
  for (;;) {
    auto space = out.space();
    if (space.empty()) return errc::too_large;
    uInt avail = static_cast<uInt>(std::min<size_t>(space.size(), UINT_MAX));
    zs.next_out = space.data();
    zs.avail_out = avail;
    int rc = inflate(&zs, Z_NO_FLUSH);
    out.commit(avail - zs.avail_out);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      // Another gzip member (Java's GZIPInputStream reads concatenated members too).
      if (zs.avail_in < 2 || zs.next_in[0] != 0x1f || zs.next_in[1] != 0x8b) {
        return errc::decompression_failed;
      }
      if (inflateReset(&zs) != Z_OK) return errc::decompression_failed;
    } else if (rc == Z_OK || rc == Z_BUF_ERROR) {
      // No input left and room for output, yet the stream has not ended: truncated.
      if (zs.avail_in == 0 && zs.avail_out > 0) return errc::decompression_failed;
    } else {
      return errc::decompression_failed;
    }
  }
  return out.finish();
}

result<wire::bytes> lz4_decompress(std::span<const uint8_t> in, size_t max_output) {
  LZ4F_dctx* raw = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION))) {
    return errc::decompression_failed;
  }
  std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> ctx(raw,
                                                                   LZ4F_freeDecompressionContext);
  const uint8_t* p = in.data();
  size_t left = in.size();
  bounded_output out(max_output, in.size());
  for (;;) {
    auto space = out.space();
    if (space.empty()) return errc::too_large;
    size_t dst = space.size();
    size_t src = left;
    size_t rc = LZ4F_decompress(ctx.get(), space.data(), &dst, p, &src, nullptr);
    if (LZ4F_isError(rc)) return errc::decompression_failed;
    p += src;
    left -= src;
    out.commit(dst);
    if (rc == 0) {  // frame complete; the context is ready for a following frame
      if (left == 0) break;
      continue;
    }
    if (left == 0 && dst < space.size()) return errc::decompression_failed;  // truncated
  }
  return out.finish();
}

result<wire::bytes> zstd_decompress(std::span<const uint8_t> in, size_t max_output) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!ctx) return errc::decompression_failed;
  // Bounds the decoder's window allocation (128 MiB, zstd's non-"ultra" maximum).
  ZSTD_DCtx_setParameter(ctx.get(), ZSTD_d_windowLogMax, 27);
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  bounded_output out(max_output, in.size());
  for (;;) {
    auto space = out.space();
    if (space.empty()) return errc::too_large;
    ZSTD_outBuffer dst{space.data(), space.size(), 0};
    size_t rc = ZSTD_decompressStream(ctx.get(), &dst, &src);
    if (ZSTD_isError(rc)) return errc::decompression_failed;
    out.commit(dst.pos);
    if (rc == 0) {  // frame complete and flushed
      if (src.pos == src.size) break;
      continue;
    }
    if (src.pos == src.size && dst.pos < dst.size) return errc::decompression_failed;
  }
  return out.finish();
}

// Appends one raw snappy block to `out`.
errc snappy_block(const uint8_t* p, size_t n, size_t max_output, wire::bytes& out) {
  size_t len = 0;
  if (!snappy::GetUncompressedLength(reinterpret_cast<const char*>(p), n, &len)) {
    return errc::decompression_failed;
  }
  // The declared length is only a claim: check it against the limit before allocating, and
  // against snappy's maximum expansion (a 3-byte copy op yields at most 64 bytes) so a few bytes
  // cannot make us allocate max_output.
  if (len > max_output - out.size()) return errc::too_large;
  if (len / 22 > n) return errc::decompression_failed;
  size_t old = out.size();
  out.resize(old + len);
  if (!snappy::RawUncompress(reinterpret_cast<const char*>(p), n,
                             reinterpret_cast<char*>(out.data() + old))) {
    return errc::decompression_failed;
  }
  return errc::ok;
}

bool is_xerial_header(const uint8_t* p, size_t n) {
  return n >= kXerialHeaderSize && std::memcmp(p, kXerialMagic, sizeof kXerialMagic) == 0;
}

result<wire::bytes> snappy_decompress(std::span<const uint8_t> in, size_t max_output) {
  wire::bytes out;
  if (!is_xerial_header(in.data(), in.size())) {
    // librdkafka writes a single raw block without framing.
    if (errc e = snappy_block(in.data(), in.size(), max_output, out); e != errc::ok) return e;
    return out;
  }
  size_t pos = 0;
  while (pos < in.size()) {
    const uint8_t* p = in.data() + pos;
    size_t left = in.size() - pos;
    if (is_xerial_header(p, left)) {  // first header, or a concatenated stream's header
      pos += kXerialHeaderSize;
      continue;
    }
    if (left < 4) return errc::decompression_failed;
    int32_t len = be::load_i32(p);
    if (len < 0 || static_cast<size_t>(len) > left - 4) return errc::decompression_failed;
    if (errc e = snappy_block(p + 4, static_cast<size_t>(len), max_output, out); e != errc::ok) {
      return e;
    }
    pos += 4 + static_cast<size_t>(len);
  }
  return out;
}

result<wire::bytes> gzip_compress(std::span<const uint8_t> in, int level) {
  if (in.size() > UINT_MAX / 2) return errc::too_large;
  z_stream zs{};
  if (deflateInit2(&zs, level == default_level ? Z_DEFAULT_COMPRESSION : level, Z_DEFLATED, 15 + 16,
                   8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return errc::invalid_config;
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, deflateEnd);
  wire::bytes out(deflateBound(&zs, static_cast<uLong>(in.size())));
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) return errc::invalid_data;
  out.resize(zs.total_out);
  return out;
}

result<wire::bytes> snappy_compress(std::span<const uint8_t> in) {
  // snappy-java framing: what the Java client writes, and every Kafka client can read.
  wire::bytes out(kXerialHeaderSize);
  std::memcpy(out.data(), kXerialMagic, sizeof kXerialMagic);
  be::store_i32(out.data() + 8, 1);   // version
  be::store_i32(out.data() + 12, 1);  // minimum compatible version
  for (size_t pos = 0; pos < in.size(); pos += kXerialBlockSize) {
    size_t n = std::min(kXerialBlockSize, in.size() - pos);
    size_t at = out.size();
    out.resize(at + 4 + snappy::MaxCompressedLength(n));
    size_t len = 0;
    snappy::RawCompress(reinterpret_cast<const char*>(in.data() + pos), n,
                        reinterpret_cast<char*>(out.data() + at + 4), &len);
    be::store_i32(out.data() + at, static_cast<int32_t>(len));
    out.resize(at + 4 + len);
  }
  return out;
}

result<wire::bytes> lz4_compress(std::span<const uint8_t> in, int level) {
  // Matches the Java client's frames: 64 KiB independent blocks, no content size.
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  prefs.compressionLevel = level == default_level ? 0 : level;
  wire::bytes out(LZ4F_compressFrameBound(in.size(), &prefs));
  size_t n = LZ4F_compressFrame(out.data(), out.size(), in.data(), in.size(), &prefs);
  if (LZ4F_isError(n)) return errc::invalid_data;
  out.resize(n);
  return out;
}

result<wire::bytes> zstd_compress(std::span<const uint8_t> in, int level) {
  wire::bytes out(ZSTD_compressBound(in.size()));
  size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(),
                           level == default_level ? 3 : level);
  if (ZSTD_isError(n)) return errc::invalid_data;
  out.resize(n);
  return out;
}

}  // namespace

std::string_view name(codec c) {
  switch (c) {
    case codec::none:
      return "none";
    case codec::gzip:
      return "gzip";
    case codec::snappy:
      return "snappy";
    case codec::lz4:
      return "lz4";
    case codec::zstd:
      return "zstd";
  }
  return "unknown";
}

result<wire::bytes> decompress(codec c, std::span<const uint8_t> input, size_t max_output) {
  switch (c) {
    case codec::none:
      if (input.size() > max_output) return errc::too_large;
      return wire::bytes(input.begin(), input.end());
    case codec::gzip:
      return gunzip(input, max_output);
    case codec::snappy:
      return snappy_decompress(input, max_output);
    case codec::lz4:
      return lz4_decompress(input, max_output);
    case codec::zstd:
      return zstd_decompress(input, max_output);
  }
  return errc::unsupported_compression;
}

result<wire::bytes> compress(codec c, std::span<const uint8_t> input, int level) {
  switch (c) {
    case codec::none:
      return wire::bytes(input.begin(), input.end());
    case codec::gzip:
      return gzip_compress(input, level);
    case codec::snappy:
      return snappy_compress(input);
    case codec::lz4:
      return lz4_compress(input, level);
    case codec::zstd:
      return zstd_compress(input, level);
  }
  return errc::unsupported_compression;
}

}  // namespace sluice::compression
