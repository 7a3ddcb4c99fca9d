#include "src/protocol/compression.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace sluice::compression {
namespace {

constexpr codec kCodecs[] = {codec::none, codec::gzip, codec::snappy, codec::lz4, codec::zstd};

wire::bytes sample(size_t n, uint64_t seed = 1) {
  // Compressible but not trivial: words drawn from a small vocabulary.
  static const std::string words[] = {"kafka ", "sluice ", "record ",
                                      "batch ", "offset ", "\x01\x02"};
  std::mt19937_64 rng(seed);
  wire::bytes out;
  while (out.size() < n) {
    const auto& w = words[rng() % 6];
    out.insert(out.end(), w.begin(), w.end());
  }
  out.resize(n);
  return out;
}

std::string label(codec c) { return std::string(name(c)); }

TEST(Compression, RoundTripEveryCodec) {
  for (codec c : kCodecs) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{100}, size_t{65536}, size_t{300000}}) {
      auto in = sample(n);
      auto z = compress(c, in);
      ASSERT_TRUE(z) << label(c) << " " << n;
      auto out = decompress(c, z.value(), n);
      ASSERT_TRUE(out) << label(c) << " " << n << " " << out.error().message();
      EXPECT_EQ(out.value(), in) << label(c) << " " << n;
    }
  }
}

TEST(Compression, ExactLimitFitsOneByteLessDoesNot) {
  auto in = sample(100000);
  for (codec c : kCodecs) {
    auto z = compress(c, in).value();
    EXPECT_TRUE(decompress(c, z, in.size())) << label(c);
    auto r = decompress(c, z, in.size() - 1);
    ASSERT_FALSE(r) << label(c);
    EXPECT_EQ(r.error(), errc::too_large) << label(c);
  }
}

TEST(Compression, BombIsRejectedAtTheLimit) {
  wire::bytes zeros(100u << 20);  // 100 MiB of zeros compresses to a few KiB (or less)
  for (codec c : {codec::gzip, codec::snappy, codec::lz4, codec::zstd}) {
    auto z = compress(c, zeros).value();
    EXPECT_LT(z.size(), zeros.size() / 20) << label(c);
    auto r = decompress(c, z, 1u << 20);
    ASSERT_FALSE(r) << label(c);
    EXPECT_EQ(r.error(), errc::too_large) << label(c);
  }
}

TEST(Compression, RawSnappyAsLibrdkafkaWritesIsAccepted) {
  // librdkafka writes one raw snappy block: varint length, then tags. "hello" as one literal.
  const uint8_t raw[] = {5, 4 << 2, 'h', 'e', 'l', 'l', 'o'};
  auto r = decompress(codec::snappy, raw, 100);
  ASSERT_TRUE(r);
  EXPECT_EQ(std::string(r.value().begin(), r.value().end()), "hello");
  // A raw block claiming far more output than its size allows is rejected before allocating.
  const uint8_t liar[] = {0xff, 0xff, 0xff, 0x0f, 0};
  EXPECT_FALSE(decompress(codec::snappy, liar, SIZE_MAX));
  EXPECT_EQ(decompress(codec::snappy, liar, 1000).error(), errc::too_large);
}

TEST(Compression, XerialFramingMatchesJava) {
  auto in = sample(100000);
  auto z = compress(codec::snappy, in).value();
  const uint8_t header[] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
  ASSERT_GE(z.size(), sizeof header);
  EXPECT_TRUE(std::equal(header, header + sizeof header, z.begin()));
  // Two concatenated streams (SnappyInputStream accepts them; so do we).
  auto twice = z;
  twice.insert(twice.end(), z.begin(), z.end());
  auto r = decompress(codec::snappy, twice, SIZE_MAX);
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value().size(), 2 * in.size());
}

TEST(Compression, ConcatenatedGzipMembersAndZstdFrames) {
  auto a = sample(1000, 1), b = sample(2000, 2);
  for (codec c : {codec::gzip, codec::lz4, codec::zstd}) {
    auto za = compress(c, a).value(), zb = compress(c, b).value();
    za.insert(za.end(), zb.begin(), zb.end());
    auto r = decompress(c, za, SIZE_MAX);
    ASSERT_TRUE(r) << label(c);
    auto expect = a;
    expect.insert(expect.end(), b.begin(), b.end());
    EXPECT_EQ(r.value(), expect) << label(c);
  }
}

TEST(Compression, GarbageAndEmptyInputFail) {
  std::mt19937_64 rng(3);
  for (codec c : {codec::gzip, codec::snappy, codec::lz4, codec::zstd}) {
    EXPECT_FALSE(decompress(c, {}, 1000)) << label(c);
    for (int i = 0; i < 200; ++i) {
      wire::bytes junk(rng() % 200);
      for (auto& x : junk) x = static_cast<uint8_t>(rng());
      auto r = decompress(c, junk, 1 << 20);
      if (!r) {
        EXPECT_TRUE(r.error() == errc::decompression_failed || r.error() == errc::too_large);
      }
    }
    const uint8_t junk[] = "this is definitely not compressed data at all";
    auto r = decompress(c, junk, 1 << 20);
    ASSERT_FALSE(r) << label(c);
    EXPECT_EQ(r.error(), errc::decompression_failed) << label(c);
  }
}

TEST(Compression, EveryTruncationFails) {
  auto in = sample(5000);
  for (codec c : {codec::gzip, codec::snappy, codec::lz4, codec::zstd}) {
    auto z = compress(c, in).value();
    for (size_t n = 0; n < z.size(); ++n) {
      auto r = decompress(c, std::span<const uint8_t>(z.data(), n), 1 << 20);
      EXPECT_FALSE(r && r.value() == in) << label(c) << " cut at " << n;
      // Snappy-java streams may be cut between blocks and still parse; the result is then
      // shorter, never longer. Everything else must fail.
      if (c != codec::snappy) {
        EXPECT_FALSE(r) << label(c) << " cut at " << n;
      }
    }
  }
}

TEST(Compression, UnsupportedCodecIds) {
  const uint8_t data[] = {1, 2, 3};
  for (int id : {5, 6, 7}) {
    auto r = decompress(static_cast<codec>(id), data, 100);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), errc::unsupported_compression);
    EXPECT_EQ(compress(static_cast<codec>(id), data).error(), errc::unsupported_compression);
  }
}

TEST(Compression, NoneIsCappedToo) {
  const uint8_t data[] = {1, 2, 3};
  EXPECT_EQ(decompress(codec::none, data, 2).error(), errc::too_large);
  EXPECT_EQ(decompress(codec::none, data, 3).value().size(), 3u);
}

}  // namespace
}  // namespace sluice::compression
