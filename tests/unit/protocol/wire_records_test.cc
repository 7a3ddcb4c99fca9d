// wire::records: a records field may hold a file range instead of bytes; the writer then emits
// the length prefix and a splice (where the connection sendfile()s the range), no data.
#include <gtest/gtest.h>

#include <memory>
#include <span>
#include <vector>

#include "kafka/fetch.h"
#include "src/protocol/wire.h"

namespace sluice::wire {
namespace {

TEST(WireRecords, FileRangeBecomesASpliceAfterItsLengthPrefix) {
  for (bool compact : {false, true}) {
    bytes out;
    writer w(out);
    w.write_int8(7);
    records r;
    r.file = file_range{nullptr, 42, 1000, 300};
    w.write_records(r, compact);
    w.write_int8(9);
    ASSERT_EQ(w.splices().size(), 1u);
    const size_t prefix = compact ? 2 : 4;  // uvarint(301) is two bytes
    EXPECT_EQ(w.splices()[0].at, 1 + prefix);
    EXPECT_EQ(w.splices()[0].range.fd, 42);
    EXPECT_EQ(w.splices()[0].range.length, 300u);
    ASSERT_EQ(out.size(), 1 + prefix + 1);  // the range itself is not in the buffer
    reader rd(out.data(), out.size());
    rd.read_int8();
    if (compact) {
      EXPECT_EQ(rd.read_uvarint(), 301u);
    } else {
      EXPECT_EQ(rd.read_int32(), 300);
    }
  }
}

TEST(WireRecords, FetchResponseSplicesEveryPartitionInOrder) {
  kafka::fetch_response resp;
  auto& t = resp.responses.emplace_back();
  t.topic = "t";
  for (int i = 0; i < 3; ++i) {
    auto& p = t.partitions.emplace_back();
    p.partition_index = i;
    p.records.file = file_range{nullptr, 10 + i, 0, static_cast<uint32_t>(100 * (i + 1))};
  }
  for (int16_t v : {4, 12, 16}) {
    bytes out;
    writer w(out);
    resp.encode(w, v);
    ASSERT_EQ(w.splices().size(), 3u) << v;
    for (int i = 0; i < 3; ++i) EXPECT_EQ(w.splices()[i].range.fd, 10 + i);
    EXPECT_LT(w.splices()[0].at, w.splices()[1].at);
    EXPECT_LT(w.splices()[1].at, w.splices()[2].at);
    EXPECT_LT(w.splices()[2].at, out.size() + 1);
  }
}

TEST(WireRecords, BytesAndNullEncodeAsBefore) {
  records r = bytes{1, 2, 3};
  bytes out;
  writer w(out);
  w.write_records(r, false);
  w.write_records(records(), false);
  EXPECT_TRUE(w.splices().empty());
  EXPECT_EQ(out, (bytes{0, 0, 0, 3, 1, 2, 3, 0xff, 0xff, 0xff, 0xff}));
}

// Produce records are not copied on decode: a borrowing reader hands out a view into the frame
// that keeps the frame alive, and writes through it reach the frame (the log patches baseOffset).
TEST(WireRecords, BorrowingReaderPointsIntoTheFrameAndKeepsItAlive) {
  for (bool compact : {false, true}) {
    bytes encoded;
    writer w(encoded);
    w.write_int8(7);
    w.write_records(records(bytes{1, 2, 3, 4}), compact);
    w.write_records(records(), compact);  // null
    auto frame = std::make_shared<std::vector<uint8_t>>(encoded);
    std::weak_ptr<std::vector<uint8_t>> alive = frame;
    records got;
    records null;
    {
      reader rd(std::span<uint8_t>(*frame), frame);
      frame.reset();
      EXPECT_EQ(rd.read_int8(), 7);
      got = rd.read_records(compact, true);
      null = rd.read_records(compact, true);
      ASSERT_TRUE(rd.ok());
    }
    ASSERT_TRUE(got.borrowed);
    EXPECT_FALSE(got.has_value());  // nothing copied
    EXPECT_FALSE(got.is_null());
    EXPECT_TRUE(null.is_null());
    ASSERT_FALSE(alive.expired()) << "the view must keep the frame";
    const size_t prefix = compact ? 1 : 4;
    EXPECT_EQ(got.view().data(), alive.lock()->data() + 1 + prefix);
    EXPECT_EQ(got, records(bytes{1, 2, 3, 4}));
    got.mutable_view()[0] = 9;
    EXPECT_EQ((*alive.lock())[1 + prefix], 9);
    // Encoding a borrowed value writes its bytes, as for owned ones.
    bytes again;
    writer w2(again);
    w2.write_records(got, compact);
    bytes expected;
    writer w3(expected);
    w3.write_records(records(bytes{9, 2, 3, 4}), compact);
    EXPECT_EQ(again, expected);
    got = records();
    EXPECT_TRUE(alive.expired());
  }
}

TEST(WireRecords, PlainReaderCopiesAndNullIsRefusedWhereNotNullable) {
  bytes encoded;
  writer w(encoded);
  w.write_records(records(bytes{5, 6}), false);
  w.write_int32(-1);
  reader rd(encoded.data(), encoded.size());
  records r = rd.read_records(false, false);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r.borrowed);
  EXPECT_EQ(*r, (bytes{5, 6}));
  EXPECT_TRUE(rd.ok());
  (void)rd.read_records(false, false);
  EXPECT_FALSE(rd.ok());
}

}  // namespace
}  // namespace sluice::wire
