#include "src/base/crc32c.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string_view>
#include <vector>

namespace sluice::crc32c {
namespace {

uint32_t of(std::string_view s) {
  return value(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST(Crc32c, Rfc3720Vectors) {
  std::vector<uint8_t> buf(32);
  // RFC 3720 B.4: 32 bytes of zeros, of ones, incrementing, decrementing.
  std::memset(buf.data(), 0, 32);
  EXPECT_EQ(value(buf.data(), 32), 0x8A9136AAu);
  std::memset(buf.data(), 0xff, 32);
  EXPECT_EQ(value(buf.data(), 32), 0x62A8AB43u);
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(value(buf.data(), 32), 0x46DD794Eu);
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<uint8_t>(31 - i);
  EXPECT_EQ(value(buf.data(), 32), 0x113FDB5Cu);
  // iSCSI read command PDU (RFC 3720 B.4).
  const uint8_t pdu[48] = {0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                           0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
                           0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
                           0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(value(pdu, sizeof pdu), 0xD9963A56u);
}

TEST(Crc32c, StandardCheckValue) {
  EXPECT_EQ(of("123456789"), 0xE3069283u);
  EXPECT_EQ(of(""), 0u);
  EXPECT_EQ(value(nullptr, 0), 0u);
  EXPECT_EQ(of("a"), 0xC1D04330u);
}

TEST(Crc32c, ExtendIsConcatenation) {
  std::string_view s = "The quick brown fox jumps over the lazy dog";
  auto* p = reinterpret_cast<const uint8_t*>(s.data());
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    EXPECT_EQ(extend(value(p, cut), p + cut, s.size() - cut), of(s)) << cut;
    EXPECT_EQ(portable_extend(portable_extend(0, p, cut), p + cut, s.size() - cut), of(s));
  }
  EXPECT_EQ(of(s), 0x22620404u);
}

TEST(Crc32c, PortableMatchesHardwareEveryAlignmentAndLength) {
  if (!hardware_available()) GTEST_SKIP() << "no hardware CRC-32C on this CPU";
  std::mt19937_64 rng(42);
  std::vector<uint8_t> buf(300 + 16);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (size_t align = 0; align < 16; ++align) {
    for (size_t len = 0; len <= 300; ++len) {
      const uint8_t* p = buf.data() + align;
      uint32_t seed = static_cast<uint32_t>(rng());
      ASSERT_EQ(portable_extend(seed, p, len), hardware_extend(seed, p, len))
          << "align " << align << " len " << len;
      ASSERT_EQ(portable_extend(0, p, len), extend(0, p, len));
    }
  }
}

TEST(Crc32c, PortableMatchesHardwareLargeBuffer) {
  std::mt19937_64 rng(7);
  std::vector<uint8_t> buf(1 << 20);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  uint32_t expect = portable_extend(0, buf.data(), buf.size());
  EXPECT_EQ(value(buf.data(), buf.size()), expect);
  EXPECT_EQ(hardware_extend(0, buf.data(), buf.size()), expect);
}

// The hardware path interleaves three streams over blocks of 256 bytes (3 * 256 = 768 per
// round) and 8192 bytes (3 * 8192 = 24576 per round); cover lengths around those boundaries.
TEST(Crc32c, PortableMatchesHardwareAtBlockBoundaries) {
  std::mt19937_64 rng(99);
  std::vector<uint8_t> buf((1 << 20) + 3 + 16);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  const size_t lens[] = {255,   256,   257,   511,   512,   513,   767,     768,          769,
                         1535,  1536,  1537,  8191,  8192,  8193,  24575,   24576,        24577,
                         25343, 25344, 25345, 49151, 49152, 49153, 1 << 20, (1 << 20) + 3};
  for (size_t len : lens) {
    for (size_t align : {0, 1, 3, 7, 8, 13}) {
      const uint8_t* p = buf.data() + align;
      uint32_t seed = static_cast<uint32_t>(rng());
      uint32_t expect = portable_extend(seed, p, len);
      ASSERT_EQ(extend(seed, p, len), expect) << "align " << align << " len " << len;
      if (hardware_available()) {
        ASSERT_EQ(hardware_extend(seed, p, len), expect) << "align " << align << " len " << len;
      }
    }
  }
}

TEST(Crc32c, RandomSplitsThroughExtend) {
  std::mt19937_64 rng(2024);
  std::vector<uint8_t> buf(200000);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  const uint32_t whole = portable_extend(0, buf.data(), buf.size());
  ASSERT_EQ(value(buf.data(), buf.size()), whole);
  for (int round = 0; round < 50; ++round) {
    // Mix tiny, block-sized and multi-block pieces so every loop of the hardware path starts
    // and ends at arbitrary offsets.
    const size_t max_piece = (round % 3 == 0) ? 64 : (round % 3 == 1) ? 2000 : 60000;
    uint32_t c = 0;
    uint32_t hw = 0;
    size_t off = 0;
    while (off < buf.size()) {
      size_t piece = std::min<size_t>(rng() % (max_piece + 1), buf.size() - off);
      c = extend(c, buf.data() + off, piece);
      if (hardware_available()) hw = hardware_extend(hw, buf.data() + off, piece);
      off += piece;
    }
    ASSERT_EQ(c, whole) << "round " << round;
    if (hardware_available()) {
      ASSERT_EQ(hw, whole) << "round " << round;
    }
  }
}

}  // namespace
}  // namespace sluice::crc32c
