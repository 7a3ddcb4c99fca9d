// Hand-assembled wire bytes for a few messages: pins the encoding details the randomized
// round-trip cannot (byte layout, compact vs classic lengths, null markers, tagged fields).
#include <gtest/gtest.h>

#include "kafka/api.h"
#include "kafka/api_versions.h"
#include "kafka/describe_topic_partitions.h"
#include "kafka/headers.h"
#include "kafka/metadata.h"

namespace sluice::kafka {
namespace {

template <class T>
wire::bytes encode(const T& msg, int16_t version) {
  wire::bytes buf;
  wire::writer w(buf);
  msg.encode(w, version);
  return buf;
}

template <class T>
T decode_all(const wire::bytes& in, int16_t version) {
  wire::reader r(in);
  T out;
  out.decode(r, version);
  EXPECT_TRUE(r.ok()) << static_cast<int>(r.error());
  EXPECT_EQ(r.remaining(), 0u);
  return out;
}

TEST(KafkaKnownBytes, RequestHeaderV2KeepsClassicClientId) {
  request_header h;
  h.request_api_key = 18;
  h.request_api_version = 3;
  h.correlation_id = 7;
  h.client_id = "abc";
  // client_id stays int16-length-prefixed in the flexible header; then an empty tag section.
  wire::bytes want = {0, 18, 0, 3, 0, 0, 0, 7, 0, 3, 'a', 'b', 'c', 0};
  EXPECT_EQ(encode(h, 2), want);
  EXPECT_EQ(decode_all<request_header>(want, 2), h);
  h.client_id.reset();
  EXPECT_EQ(encode(h, 1), (wire::bytes{0, 18, 0, 3, 0, 0, 0, 7, 0xff, 0xff}));
}

TEST(KafkaKnownBytes, ApiVersionsRequestV3) {
  api_versions_request req;
  req.client_software_name = "sluice";
  req.client_software_version = "1.0";
  wire::bytes want = {7, 's', 'l', 'u', 'i', 'c', 'e', 4, '1', '.', '0', 0};
  EXPECT_EQ(encode(req, 3), want);
  EXPECT_EQ(decode_all<api_versions_request>(want, 3), req);
  // v0-2 have no fields at all.
  EXPECT_TRUE(encode(req, 2).empty());
}

TEST(KafkaKnownBytes, MetadataRequestV1NullTopics) {
  metadata_request req;
  req.topics.reset();  // null = all topics (v1+)
  wire::bytes want = {0xff, 0xff, 0xff, 0xff};
  EXPECT_EQ(encode(req, 1), want);
  EXPECT_FALSE(decode_all<metadata_request>(want, 1).topics.has_value());
  // v0 cannot express null: encode writes an empty array, decode rejects -1.
  EXPECT_EQ(encode(req, 0), (wire::bytes{0, 0, 0, 0}));
  wire::reader r(want);
  metadata_request out;
  out.decode(r, 0);
  EXPECT_FALSE(r.ok());
}

TEST(KafkaKnownBytes, UnknownTaggedFieldSurvivesMergedInTagOrder) {
  // ApiVersionsResponse v3: error 0, one api key, throttle 0, then tags:
  // 1 (known: finalized_features_epoch = 5), 5 (unknown, 2 bytes), 9 (unknown, empty).
  wire::bytes in = {0, 0,                              // error_code
                    2, 0, 18,  0,   0, 0, 4, 0,        // api_keys: [{18, 0, 4}]
                    0, 0, 0,   0,                      // throttle_time_ms
                    3,                                 // three tagged fields
                    1, 8, 0,   0,   0, 0, 0, 0, 0, 5,  // tag 1
                    5, 2, 'x', 'y',                    // tag 5
                    9, 0};                             // tag 9
  auto resp = decode_all<api_versions_response>(in, 3);
  EXPECT_EQ(resp.finalized_features_epoch, 5);
  ASSERT_EQ(resp.api_keys.size(), 1u);
  EXPECT_EQ(resp.api_keys[0].max_version, 4);
  ASSERT_EQ(resp.unknown_tagged_fields.size(), 2u);
  EXPECT_EQ(resp.unknown_tagged_fields[0].tag, 5u);
  EXPECT_EQ(resp.unknown_tagged_fields[0].data, (wire::bytes{'x', 'y'}));
  EXPECT_EQ(encode(resp, 3), in);

  // Known tags (1, 3) and the unknown one (0x7f) come out in ascending order.
  resp.unknown_tagged_fields = {{0x7f, {}}};
  resp.zk_migration_ready = true;
  wire::bytes out = encode(resp, 3);
  wire::bytes want_tags = {3, 1, 8, 0, 0, 0, 0, 0, 0, 0, 5, 3, 1, 1, 0x7f, 0};
  ASSERT_GE(out.size(), want_tags.size());
  EXPECT_EQ(wire::bytes(out.end() - static_cast<ptrdiff_t>(want_tags.size()), out.end()),
            want_tags);
  auto back = decode_all<api_versions_response>(out, 3);
  EXPECT_EQ(back, resp);
}

TEST(KafkaKnownBytes, NullableStructUsesPresenceByte) {
  describe_topic_partitions_request req;
  req.response_partition_limit = 1;
  // topics: [] (compact 1), limit, cursor null (-1), no tags.
  wire::bytes null_cursor = {1, 0, 0, 0, 1, 0xff, 0};
  EXPECT_EQ(encode(req, 0), null_cursor);
  EXPECT_EQ(decode_all<describe_topic_partitions_request>(null_cursor, 0), req);
  req.cursor.emplace();
  req.cursor->topic_name = "t";
  req.cursor->partition_index = 2;
  wire::bytes with_cursor = {1, 0, 0, 0, 1, 1, 2, 't', 0, 0, 0, 2, 0, 0};
  EXPECT_EQ(encode(req, 0), with_cursor);
  EXPECT_EQ(decode_all<describe_topic_partitions_request>(with_cursor, 0), req);
}

TEST(KafkaKnownBytes, DefaultsFromSchema) {
  describe_topic_partitions_request req;
  EXPECT_EQ(req.response_partition_limit, 2000);
  EXPECT_FALSE(req.cursor.has_value());
  api_versions_response resp;
  EXPECT_EQ(resp.finalized_features_epoch, -1);
}

TEST(KafkaKnownBytes, HugeArrayCountFailsWithoutAllocating) {
  // Metadata v1 topics count 0x7fffffff with 2 bytes left.
  wire::bytes in = {0x7f, 0xff, 0xff, 0xff, 0, 1};
  wire::reader r(in);
  metadata_request out;
  out.decode(r, 1);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(!out.topics || out.topics->capacity() < 16);
}

TEST(KafkaKnownBytes, ApiTableAndHeaderVersions) {
  EXPECT_EQ(all_apis().size(), 48u);
  ASSERT_NE(find_api(18), nullptr);
  EXPECT_EQ(find_api(18)->name, "ApiVersions");
  EXPECT_EQ(find_api(18)->first_flexible_version, 3);
  EXPECT_EQ(find_api(34), nullptr);
  EXPECT_EQ(request_header_version(18, 2), 1);
  EXPECT_EQ(request_header_version(18, 3), 2);
  EXPECT_EQ(response_header_version(18, 3), 0);  // ApiVersions always answers with v0
  EXPECT_EQ(request_header_version(3, 9), 2);
  EXPECT_EQ(response_header_version(3, 8), 0);
  EXPECT_EQ(response_header_version(3, 9), 1);
  EXPECT_EQ(request_header_version(3, 99), -1);
  EXPECT_EQ(request_header_version(1000, 0), -1);
}

TEST(KafkaKnownBytes, DecodeRejectsUnsupportedVersion) {
  wire::bytes in;
  wire::reader r(in);
  api_versions_request out;
  out.decode(r, 5);
  EXPECT_EQ(r.error(), errc::unsupported_version);
}

}  // namespace
}  // namespace sluice::kafka
