// Pieces of the admin API that need no running broker: path decoding and topic id printing.
// The routes themselves are tested against a live sluiced (tests/integration/test_http.py).

#include "src/http/admin_api.h"

#include <gtest/gtest.h>

namespace sluice::http {
namespace {

TEST(PercentDecode, DecodesEscapesAndRejectsMalformedOnes) {
  EXPECT_EQ(percent_decode("plain.topic-1_x"), "plain.topic-1_x");
  EXPECT_EQ(percent_decode("a%2Eb%2fc"), "a.b/c");
  EXPECT_EQ(percent_decode("a+b"), "a+b");
  EXPECT_EQ(percent_decode("%"), std::nullopt);
  EXPECT_EQ(percent_decode("ab%4"), std::nullopt);
  EXPECT_EQ(percent_decode("%zz"), std::nullopt);
}

TEST(TopicId, PrintsAsKafkaDoes) {
  // Kafka prints Uuid as URL-safe base64 without padding; this id is Kafka's METADATA_TOPIC_ID
  // (Uuid(0, 1)), printed "AAAAAAAAAAAAAAAAAAAAAQ".
  wire::uuid id{};
  id[15] = 1;
  EXPECT_EQ(uuid_to_base64(id), "AAAAAAAAAAAAAAAAAAAAAQ");
  wire::uuid ff;
  ff.fill(0xff);
  EXPECT_EQ(uuid_to_base64(ff), "_____________________w");
}

}  // namespace
}  // namespace sluice::http
