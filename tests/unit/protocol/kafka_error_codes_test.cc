// Generated for_each_error_code: visits every error code, nested and top-level (what
// sluice_request_errors_total counts).

#include <gtest/gtest.h>

#include <vector>

#include "kafka/fetch.h"
#include "kafka/produce.h"

namespace sluice::kafka {
namespace {

TEST(ForEachErrorCode, VisitsNestedPartitionCodes) {
  produce_response r;
  auto& t = r.responses.emplace_back();
  t.partition_responses.emplace_back().error_code = 3;
  t.partition_responses.emplace_back().error_code = 0;
  r.responses.emplace_back().partition_responses.emplace_back().error_code = 87;
  std::vector<int16_t> seen;
  r.for_each_error_code([&](int16_t c) { seen.push_back(c); });
  EXPECT_EQ(seen, (std::vector<int16_t>{3, 0, 87}));
}

TEST(ForEachErrorCode, VisitsTopLevelAndNestedCodes) {
  fetch_response r;
  r.error_code = 70;
  r.responses.emplace_back().partitions.emplace_back().error_code = 1;
  std::vector<int16_t> seen;
  r.for_each_error_code([&](int16_t c) { seen.push_back(c); });
  EXPECT_EQ(seen, (std::vector<int16_t>{70, 1}));
}

}  // namespace
}  // namespace sluice::kafka
