#include "src/protocol/record_batch.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <string_view>

#include "src/base/crc32c.h"

namespace sluice::records {
namespace {

using compression::codec;

constexpr codec kCodecs[] = {codec::none, codec::gzip, codec::snappy, codec::lz4, codec::zstd};
constexpr size_t kCap = 1 << 20;

byte_span sv(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
std::string str(byte_span s) { return {reinterpret_cast<const char*>(s.data()), s.size()}; }

wire::bytes sample_batch(codec c = codec::none) {
  const header_input hdrs[] = {{sv("trace"), sv("abc")}, {sv("empty"), std::nullopt}};
  batch_builder b;
  b.base_offset(1000).partition_leader_epoch(7).producer(42, 3, 17).compression(c);
  b.add(1700000000000, sv("k0"), sv("v0"), hdrs);
  b.add(1700000000005, std::nullopt, sv("v1"));
  b.add(1699999999990, sv("k2"), std::nullopt);
  b.add(1700000000001, sv(""), sv(""));
  return b.build().value();
}

TEST(RecordBatch, BuildParseRoundTripEveryCodec) {
  for (codec c : kCodecs) {
    auto bytes = sample_batch(c);
    auto h = validate_batch(bytes);
    ASSERT_TRUE(h) << compression::name(c) << " " << h.error().message();
    EXPECT_EQ(h.value().base_offset, 1000);
    EXPECT_EQ(h.value().size_bytes(), bytes.size());
    EXPECT_EQ(h.value().partition_leader_epoch, 7);
    EXPECT_EQ(h.value().compression(), c);
    EXPECT_EQ(h.value().records_count, 4);
    EXPECT_EQ(h.value().last_offset_delta, 3);
    EXPECT_EQ(h.value().last_offset(), 1003);
    EXPECT_EQ(h.value().base_timestamp, 1700000000000);
    EXPECT_EQ(h.value().max_timestamp, 1700000000005);
    EXPECT_EQ(h.value().producer_id, 42);
    EXPECT_EQ(h.value().producer_epoch, 3);
    EXPECT_EQ(h.value().base_sequence, 17);
    EXPECT_FALSE(h.value().is_transactional());
    EXPECT_FALSE(h.value().is_control());
    EXPECT_EQ(h.value().timestamp_type(), timestamp_type::create_time);
    EXPECT_TRUE(crc_ok(bytes));

    auto d = decode_records(bytes, kCap);
    ASSERT_TRUE(d) << compression::name(c) << " " << d.error().message();
    const auto& batch = d.value();
    ASSERT_EQ(batch.records.size(), 4u);
    const auto& r0 = batch.records[0];
    EXPECT_EQ(batch.offset_of(r0), 1000);
    EXPECT_EQ(batch.timestamp_of(r0), 1700000000000);
    EXPECT_EQ(str(*r0.key), "k0");
    EXPECT_EQ(str(*r0.value), "v0");
    auto hs = batch.headers_of(r0);
    ASSERT_EQ(hs.size(), 2u);
    EXPECT_EQ(str(hs[0].key), "trace");
    EXPECT_EQ(str(*hs[0].value), "abc");
    EXPECT_EQ(str(hs[1].key), "empty");
    EXPECT_FALSE(hs[1].value);
    const auto& r1 = batch.records[1];
    EXPECT_FALSE(r1.key);
    EXPECT_EQ(str(*r1.value), "v1");
    EXPECT_EQ(batch.offset_of(r1), 1001);
    EXPECT_EQ(batch.timestamp_of(r1), 1700000000005);
    EXPECT_TRUE(batch.headers_of(r1).empty());
    EXPECT_FALSE(batch.records[2].value);
    EXPECT_EQ(batch.timestamp_of(batch.records[2]), 1699999999990);  // negative delta
    ASSERT_TRUE(batch.records[3].key);
    EXPECT_TRUE(batch.records[3].key->empty());
    EXPECT_TRUE(batch.records[3].value->empty());
  }
}

TEST(RecordBatch, UncompressedDecodeIsZeroCopy) {
  auto bytes = sample_batch();
  auto d = decode_records(bytes, kCap).value();
  const uint8_t* k = d.records[0].key->data();
  EXPECT_GE(k, bytes.data());
  EXPECT_LT(k, bytes.data() + bytes.size());
  // Moving a compressed decoded batch keeps its spans valid.
  auto z = sample_batch(codec::zstd);
  auto dz = decode_records(z, kCap).value();
  decoded_batch moved = std::move(dz);
  EXPECT_EQ(str(*moved.records[0].key), "k0");
}

TEST(RecordBatch, KnownLayoutAndCrc) {
  batch_builder b;
  b.base_offset(0).add(0, std::nullopt, sv("a"));
  auto bytes = b.build().value();
  // 61-byte header + one record: length 7, attrs 0, tsDelta 0, offDelta 0, key -1, value "a",
  // headers 0.
  const uint8_t rec[] = {14, 0, 0, 0, 1, 2, 'a', 0};
  ASSERT_EQ(bytes.size(), kHeaderSize + sizeof rec);
  EXPECT_TRUE(std::equal(rec, rec + sizeof rec, bytes.begin() + kHeaderSize));
  EXPECT_EQ(be::load_i32(bytes.data() + 8), static_cast<int32_t>(bytes.size() - 12));
  EXPECT_EQ(bytes[16], 2);
  EXPECT_EQ(be::load_u32(bytes.data() + 17), crc32c::value(bytes.data() + 21, bytes.size() - 21));
  EXPECT_EQ(be::load_i64(bytes.data() + 43), -1);  // no producer id
  EXPECT_EQ(be::load_i32(bytes.data() + 53), -1);  // no sequence
}

TEST(RecordBatch, ControlBatchesAndMarkers) {
  for (auto type : {control_type::abort, control_type::commit}) {
    auto bytes = build_marker_batch(500, 9, 2, 4, {type, 77}, 1234).value();
    auto d = decode_records(bytes, kCap).value();
    EXPECT_TRUE(d.header.is_control());
    EXPECT_TRUE(d.header.is_transactional());
    EXPECT_EQ(d.header.base_sequence, kNoSequence);
    EXPECT_EQ(d.header.producer_id, 9);
    ASSERT_EQ(d.records.size(), 1u);
    auto m = parse_transaction_marker(d.records[0]).value();
    EXPECT_EQ(m.type, type);
    EXPECT_EQ(m.coordinator_epoch, 77);
  }
  const uint8_t bad_type[] = {0, 0, 0, 9};
  EXPECT_FALSE(parse_control_key(bad_type));
  const uint8_t future[] = {0, 1, 0, 1, 0xaa};  // a newer key version with extra bytes
  EXPECT_EQ(parse_control_key(future).value(), control_type::commit);
  const uint8_t neg[] = {0xff, 0xff, 0, 1};
  EXPECT_EQ(parse_control_key(neg).error(), errc::unsupported_version);
}

TEST(RecordBatch, LogAppendTimeAndAttributes) {
  batch_builder b;
  b.log_append_time(999).transactional(true).add(5, sv("k"), sv("v")).add(3, sv("k"), sv("v"));
  auto d = decode_records(b.build().value(), kCap).value();
  EXPECT_EQ(d.header.timestamp_type(), timestamp_type::log_append_time);
  EXPECT_TRUE(d.header.is_transactional());
  EXPECT_EQ(d.header.max_timestamp, 999);
  EXPECT_EQ(d.timestamp_of(d.records[1]), 999);
}

TEST(RecordBatch, BuilderRejectsMisuse) {
  EXPECT_EQ(batch_builder().build().error(), errc::invalid_data);
  batch_builder b;
  b.add_at(5, 0, sv("a"), sv("b")).add_at(5, 0, sv("a"), sv("b"));
  EXPECT_EQ(b.build().error(), errc::invalid_data);
  batch_builder gaps;
  gaps.add_at(2, 0, sv("a"), sv("b")).add_at(9, 0, sv("a"), sv("b"));
  auto d = decode_records(gaps.build().value(), kCap).value();
  EXPECT_EQ(d.header.last_offset_delta, 9);
  EXPECT_EQ(d.records[1].offset_delta, 9);
}

TEST(RecordBatch, BuildIntoConcatenatesAndClearReuses) {
  batch_builder b;
  wire::bytes blob;
  for (int i = 0; i < 3; ++i) {
    b.clear();
    b.reserve(1024).base_offset(i * 10).compression(i == 1 ? codec::lz4 : codec::none);
    b.add(i, sv("k"), sv("v")).add(i + 1, sv("k"), sv("v"));
    ASSERT_EQ(b.build_into(blob), errc::ok);
  }
  batch_iterator it(blob);
  int n = 0;
  while (const batch_view* v = it.next()) {
    EXPECT_TRUE(crc_ok(v->bytes));
    EXPECT_EQ(v->header.base_offset, n * 10);
    EXPECT_EQ(v->header.base_timestamp, n);
    EXPECT_EQ(decode_records(v->bytes, kCap).value().records.size(), 2u);
    ++n;
  }
  EXPECT_EQ(n, 3);
  EXPECT_EQ(it.consumed(), blob.size());
  size_t before = blob.size();
  b.clear();
  EXPECT_EQ(b.build_into(blob), errc::invalid_data);  // empty: nothing appended
  EXPECT_EQ(blob.size(), before);
}

TEST(RecordBatch, CrcMismatchDetected) {
  auto bytes = sample_batch();
  for (size_t i = kAttributesOffset; i < bytes.size(); ++i) {
    auto copy = bytes;
    copy[i] ^= 0x10;
    EXPECT_FALSE(crc_ok(copy)) << i;
  }
  auto copy = bytes;
  copy[kCrcOffset] ^= 1;
  EXPECT_EQ(validate_batch(copy).error(), errc::crc_mismatch);
}

// check_batch is the one CRC pass of a produced batch (the log trusts what it returns).
TEST(RecordBatch, CheckBatchVerifiesTheCrcAndKeepsTheBytes) {
  auto bytes = sample_batch();
  auto c = check_batch(bytes);
  ASSERT_TRUE(c);
  EXPECT_EQ(c.value().bytes().data(), bytes.data());
  EXPECT_EQ(c.value().bytes().size(), bytes.size());
  EXPECT_EQ(c.value().header().records_count, validate_batch(bytes).value().records_count);
  bytes[kAttributesOffset + 30] ^= 1;
  EXPECT_EQ(check_batch(bytes).error(), errc::crc_mismatch);
  bytes.push_back(0);
  EXPECT_FALSE(check_batch(bytes));
}

TEST(RecordBatch, HeaderErrors) {
  auto bytes = sample_batch();
  auto copy = bytes;
  copy[kMagicOffset] = 1;
  EXPECT_EQ(parse_batch_header(copy).error(), errc::unsupported_magic);
  EXPECT_EQ(decode_records(copy, kCap).error(), errc::unsupported_magic);
  copy = bytes;
  be::store_i32(copy.data() + 8, 48);
  EXPECT_EQ(parse_batch_header(copy).error(), errc::invalid_length);
  be::store_i32(copy.data() + 8, -1);
  EXPECT_EQ(parse_batch_header(copy).error(), errc::invalid_length);
  copy = bytes;
  be::store_i32(copy.data() + kRecordsCountOffset, -1);
  EXPECT_EQ(parse_batch_header(copy).error(), errc::invalid_length);
  EXPECT_EQ(parse_batch_header(byte_span(bytes.data(), 60)).error(), errc::truncated);
  copy = bytes;
  copy.push_back(0);
  EXPECT_EQ(decode_records(copy, kCap).error(), errc::invalid_data);
  copy = bytes;
  copy[kAttributesOffset + 1] |= 6;  // codec 6
  EXPECT_EQ(decode_records(copy, kCap).error(), errc::unsupported_compression);
}

TEST(RecordBatch, EveryTruncationFailsCleanly) {
  for (codec c : kCodecs) {
    auto bytes = sample_batch(c);
    for (size_t n = 0; n < bytes.size(); ++n) {
      byte_span cut(bytes.data(), n);
      EXPECT_FALSE(decode_records(cut, kCap)) << n;
      EXPECT_FALSE(crc_ok(cut));
      // Truncating the batch *and* fixing up its length: the records no longer fit.
      if (n >= kHeaderSize) {
        wire::bytes fixed(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
        be::store_i32(fixed.data() + 8, static_cast<int32_t>(n - kLogOverhead));
        auto r = decode_records(fixed, kCap);
        EXPECT_FALSE(r) << compression::name(c) << " fixed-up cut at " << n;
      }
    }
  }
}

// Rewrites the records section (uncompressed) and fixes up count, length and CRC.
wire::bytes with_records(int32_t count, std::initializer_list<uint8_t> recs) {
  batch_builder b;
  b.add(0, std::nullopt, sv("x"));
  auto bytes = b.build().value();
  bytes.resize(kHeaderSize);
  bytes.insert(bytes.end(), recs.begin(), recs.end());
  be::store_i32(bytes.data() + 8, static_cast<int32_t>(bytes.size() - kLogOverhead));
  be::store_i32(bytes.data() + kRecordsCountOffset, count);
  be::store_u32(bytes.data() + kCrcOffset, compute_crc(bytes));
  return bytes;
}

TEST(RecordBatch, MalformedRecords) {
  // Valid baseline: length 7 (zigzag 14), attrs, ts 0, off 0, key null, value "a", 0 headers.
  EXPECT_TRUE(decode_records(with_records(1, {14, 0, 0, 0, 1, 2, 'a', 0}), kCap));
  // recordsCount lies (too many, too few, absurd).
  EXPECT_FALSE(decode_records(with_records(2, {14, 0, 0, 0, 1, 2, 'a', 0}), kCap));
  EXPECT_EQ(decode_records(with_records(0, {14, 0, 0, 0, 1, 2, 'a', 0}), kCap).error(),
            errc::invalid_data);
  EXPECT_EQ(decode_records(with_records(INT32_MAX, {14, 0, 0, 0, 1, 2, 'a', 0}), kCap).error(),
            errc::invalid_length);
  // Varint running off the end / over-long varint.
  EXPECT_FALSE(decode_records(with_records(1, {0x80, 0x80, 0x80}), kCap));
  auto r = decode_records(
      with_records(1, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}), kCap);
  EXPECT_EQ(r.error(), errc::invalid_varint);
  // Negative record length, and one shorter than its fields.
  EXPECT_EQ(decode_records(with_records(1, {3, 0, 0, 0, 1, 2, 'a', 0}), kCap).error(),
            errc::invalid_length);
  EXPECT_FALSE(decode_records(with_records(1, {12, 0, 0, 0, 1, 2, 'a', 0}), kCap));
  // Record longer than its fields: trailing bytes inside the record.
  EXPECT_EQ(decode_records(with_records(1, {16, 0, 0, 0, 1, 2, 'a', 0, 0}), kCap).error(),
            errc::invalid_data);
  // Key length -2, value length beyond the record, negative header count, null header key.
  EXPECT_EQ(decode_records(with_records(1, {14, 0, 0, 0, 3, 2, 'a', 0}), kCap).error(),
            errc::invalid_length);
  EXPECT_FALSE(decode_records(with_records(1, {14, 0, 0, 0, 1, 4, 'a', 0}), kCap));
  EXPECT_EQ(decode_records(with_records(1, {14, 0, 0, 0, 1, 2, 'a', 1}), kCap).error(),
            errc::invalid_length);
  EXPECT_EQ(decode_records(with_records(1, {18, 0, 0, 0, 1, 2, 'a', 2, 1, 1}), kCap).error(),
            errc::invalid_length);
  // Header count larger than the bytes could hold.
  EXPECT_EQ(decode_records(with_records(1, {14, 0, 0, 0, 1, 2, 'a', 100}), kCap).error(),
            errc::invalid_length);
}

TEST(RecordBatch, CompressedBombIsCapped) {
  batch_builder b;
  wire::bytes zeros(4 << 20);
  b.compression(codec::zstd).add(0, std::nullopt, byte_span(zeros));
  auto bytes = b.build().value();
  EXPECT_LT(bytes.size(), 4096u);
  EXPECT_EQ(decode_records(bytes, 1 << 20).error(), errc::too_large);
  EXPECT_TRUE(decode_records(bytes, 8 << 20));
}

TEST(RecordBatch, IteratorWalksConcatenatedBatches) {
  wire::bytes blob;
  std::vector<size_t> sizes;
  for (codec c : kCodecs) {
    auto b = sample_batch(c);
    sizes.push_back(b.size());
    blob.insert(blob.end(), b.begin(), b.end());
  }
  batch_iterator it(blob);
  size_t i = 0;
  while (const batch_view* v = it.next()) {
    ASSERT_LT(i, sizes.size());
    EXPECT_EQ(v->bytes.size(), sizes[i]);
    EXPECT_EQ(v->header.compression(), kCodecs[i]);
    EXPECT_TRUE(crc_ok(v->bytes));
    ++i;
  }
  EXPECT_EQ(i, sizes.size());
  EXPECT_EQ(it.error(), errc::ok);
  EXPECT_FALSE(it.partial());
  EXPECT_EQ(it.consumed(), blob.size());

  // Every cut inside the last batch reports a partial trailing batch, not corruption.
  size_t last_start = blob.size() - sizes.back();
  for (size_t n = last_start + 1; n < blob.size(); ++n) {
    batch_iterator cut(byte_span(blob.data(), n));
    size_t count = 0;
    while (cut.next()) ++count;
    EXPECT_EQ(count, sizes.size() - 1) << n;
    EXPECT_TRUE(cut.partial()) << n;
    EXPECT_EQ(cut.error(), errc::ok) << n;
    EXPECT_EQ(cut.consumed(), last_start);
    EXPECT_EQ(cut.remaining().size(), n - last_start);
  }
}

TEST(RecordBatch, IteratorErrors) {
  auto one = sample_batch();
  auto copy = one;
  be::store_i32(copy.data() + 8, -5);
  batch_iterator neg(copy);
  EXPECT_FALSE(neg.next());
  EXPECT_EQ(neg.error(), errc::invalid_length);
  EXPECT_FALSE(neg.partial());

  batch_iterator small(one, one.size() - 1);
  EXPECT_FALSE(small.next());
  EXPECT_EQ(small.error(), errc::too_large);

  copy = one;
  copy[kMagicOffset] = 0;
  batch_iterator magic(copy);
  EXPECT_FALSE(magic.next());
  EXPECT_EQ(magic.error(), errc::unsupported_magic);

  // Huge declared length on a short buffer: partial, never a read past the end.
  copy = one;
  be::store_i32(copy.data() + 8, INT32_MAX);
  batch_iterator huge(copy);
  EXPECT_FALSE(huge.next());
  EXPECT_TRUE(huge.partial());

  batch_iterator empty(byte_span{});
  EXPECT_FALSE(empty.next());
  EXPECT_FALSE(empty.partial());
  EXPECT_EQ(empty.error(), errc::ok);
}

TEST(RecordBatch, MutationFuzzNeverCrashes) {
  std::mt19937_64 rng(12345);
  std::vector<wire::bytes> seeds;
  for (codec c : kCodecs) seeds.push_back(sample_batch(c));
  seeds.push_back(build_marker_batch(1, 2, 3, 4, {control_type::commit, 5}, 6).value());
  size_t decoded = 0;
  for (int i = 0; i < 10000; ++i) {
    auto bytes = seeds[rng() % seeds.size()];
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
    }
    if (rng() % 4 == 0) bytes.resize(rng() % (bytes.size() + 1));
    (void)crc_ok(bytes);
    batch_iterator it(bytes);
    while (const batch_view* v = it.next()) {
      auto d = decode_records(v->bytes, 1 << 16);
      if (!d) continue;
      ++decoded;
      for (const auto& r : d.value().records) {
        // Touch every span so ASan would catch a bad one.
        size_t sum = 0;
        if (r.key)
          for (uint8_t x : *r.key) sum += x;
        if (r.value)
          for (uint8_t x : *r.value) sum += x;
        for (const auto& h : d.value().headers_of(r)) {
          for (uint8_t x : h.key) sum += x;
        }
        (void)sum;
        if (d.value().header.is_control()) (void)parse_transaction_marker(r);
      }
    }
  }
  EXPECT_GT(decoded, 0u);  // some mutations (e.g. in values) still decode
}

// Real client captures (tests/data/captures/<client>/NNN-0-Produce-vN.bin), when present: find
// each v2 batch by its magic byte and check that it validates and decodes.
TEST(RecordBatch, CapturedProduceRequests) {
  namespace fs = std::filesystem;
  fs::path root = fs::path(SLUICE_SOURCE_DIR) / "tests/data/captures";
  if (!fs::exists(root)) GTEST_SKIP() << "no captures in " << root;
  size_t found = 0;
  std::set<int> codecs_seen;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    std::string name = entry.path().filename().string();
    if (name.find("Produce") == std::string::npos || entry.path().extension() != ".bin") continue;
    std::ifstream f(entry.path(), std::ios::binary);
    wire::bytes frame((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    // The records field is preceded by its int32 (or compact uvarint) length; scan for a
    // plausible batch: magic 2 at +16, a batch length that fits, a matching CRC.
    for (size_t at = 0; at + kHeaderSize <= frame.size(); ++at) {
      if (frame[at + kMagicOffset] != kMagic) continue;
      int32_t len = be::load_i32(frame.data() + at + 8);
      if (len < 49 || at + kLogOverhead + static_cast<size_t>(len) > frame.size()) continue;
      byte_span batch(frame.data() + at, kLogOverhead + static_cast<size_t>(len));
      if (!crc_ok(batch)) continue;
      auto d = decode_records(batch, 64 << 20);
      EXPECT_TRUE(d) << entry.path() << " at " << at << ": " << d.error().message();
      if (d) {
        EXPECT_EQ(d.value().records.size(), static_cast<size_t>(d.value().header.records_count));
      }
      codecs_seen.insert(static_cast<int>(batch[kAttributesOffset + 1] & 7));
      ++found;
      at += batch.size() - 1;
    }
  }
  if (found == 0) GTEST_SKIP() << "no record batches found in captures";
  std::string seen;
  for (int c : codecs_seen) seen += std::string(compression::name(static_cast<codec>(c))) + " ";
  std::cout << "decoded " << found << " captured batches; codecs: " << seen << "\n";
}

}  // namespace
}  // namespace sluice::records
