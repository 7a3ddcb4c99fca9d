// Server-side assignors: every partition of a subscribed topic to exactly one subscribed member,
// balance, stickiness (uniform), contiguous ranges (range).

#include "src/coordinator/group/assignor.h"

#include <gtest/gtest.h>

namespace sluice::coordinator {
namespace {

topic_id tid(uint8_t n) {
  topic_id t{};
  t[15] = n;
  return t;
}

assignor_member member(std::string id, std::set<topic_id> subs, topic_assignment prev = {}) {
  return assignor_member{std::move(id), std::move(subs), std::move(prev)};
}

size_t count(const topic_assignment& a) {
  size_t n = 0;
  for (const auto& [_, p] : a) n += p.size();
  return n;
}

// Every partition of every topic is assigned exactly once, and only to a subscriber.
void expect_complete(const group_assignment& ga, const std::vector<assignor_member>& ms,
                     const assignor_topics& topics) {
  std::map<std::pair<topic_id, int32_t>, int> seen;
  for (const auto& m : ms) {
    auto it = ga.find(m.member_id);
    ASSERT_NE(it, ga.end()) << m.member_id;
    for (const auto& [t, parts] : it->second) {
      EXPECT_TRUE(m.subscribed.count(t)) << m.member_id << " got an unsubscribed topic";
      for (int32_t p : parts) ++seen[{t, p}];
    }
  }
  for (const auto& [t, n] : topics) {
    for (int32_t p = 0; p < n; ++p) EXPECT_EQ((seen[{t, p}]), 1) << "partition " << p;
  }
}

TEST(Assignor, FindsUniformAndRangeOnly) {
  assignor_kind k;
  EXPECT_TRUE(find_assignor("uniform", k));
  EXPECT_EQ(k, assignor_kind::uniform);
  EXPECT_TRUE(find_assignor("range", k));
  EXPECT_EQ(k, assignor_kind::range);
  EXPECT_FALSE(find_assignor("sticky", k));
}

TEST(Assignor, UniformSpreadsEvenly) {
  std::vector<assignor_member> ms{member("a", {tid(1)}), member("b", {tid(1)}),
                                  member("c", {tid(1)})};
  assignor_topics topics{{tid(1), 7}};
  auto ga = assign_uniform(ms, topics);
  expect_complete(ga, ms, topics);
  size_t lo = 99, hi = 0;
  for (const auto& [_, a] : ga) {
    lo = std::min(lo, count(a));
    hi = std::max(hi, count(a));
  }
  EXPECT_EQ(lo, 2u);
  EXPECT_EQ(hi, 3u);
}

TEST(Assignor, UniformIsStickyWhenAMemberJoins) {
  std::vector<assignor_member> ms{member("a", {tid(1)}, {{tid(1), {0, 1, 2}}}),
                                  member("b", {tid(1)}, {{tid(1), {3, 4, 5}}}),
                                  member("c", {tid(1)})};
  assignor_topics topics{{tid(1), 6}};
  auto ga = assign_uniform(ms, topics);
  expect_complete(ga, ms, topics);
  for (const auto& m : ms) EXPECT_EQ(count(ga[m.member_id]), 2u) << m.member_id;
  // The old members only gave up partitions; they kept two of their own.
  for (int32_t p : ga["a"][tid(1)]) EXPECT_LE(p, 2);
  for (int32_t p : ga["b"][tid(1)]) EXPECT_GE(p, 3);
}

TEST(Assignor, UniformDropsPartitionsOfTopicsNoLongerSubscribed) {
  std::vector<assignor_member> ms{member("a", {tid(2)}, {{tid(1), {0, 1}}}), member("b", {tid(1)})};
  assignor_topics topics{{tid(1), 2}, {tid(2), 2}};
  auto ga = assign_uniform(ms, topics);
  expect_complete(ga, ms, topics);
  EXPECT_EQ(ga["a"], (topic_assignment{{tid(2), {0, 1}}}));
  EXPECT_EQ(ga["b"], (topic_assignment{{tid(1), {0, 1}}}));
}

TEST(Assignor, UniformHeterogeneousSubscriptions) {
  std::vector<assignor_member> ms{member("a", {tid(1), tid(2)}), member("b", {tid(2)}),
                                  member("c", {tid(3)})};
  assignor_topics topics{{tid(1), 3}, {tid(2), 3}, {tid(3), 1}};
  auto ga = assign_uniform(ms, topics);
  expect_complete(ga, ms, topics);
  EXPECT_EQ(count(ga["a"]), 3u);
  EXPECT_EQ(count(ga["b"]), 3u);
  EXPECT_EQ(count(ga["c"]), 1u);
}

TEST(Assignor, UniformWithNoMembersOrTopics) {
  EXPECT_TRUE(assign_uniform({}, {{tid(1), 3}}).empty());
  auto ga = assign_uniform({member("a", {tid(1)})}, {});
  EXPECT_TRUE(ga["a"].empty());
}

TEST(Assignor, RangeGivesContiguousCoPartitionedRanges) {
  std::vector<assignor_member> ms{member("b", {tid(1), tid(2)}), member("a", {tid(1), tid(2)})};
  assignor_topics topics{{tid(1), 5}, {tid(2), 5}};
  auto ga = assign_range(ms, topics);
  expect_complete(ga, ms, topics);
  EXPECT_EQ(ga["a"], (topic_assignment{{tid(1), {0, 1, 2}}, {tid(2), {0, 1, 2}}}));
  EXPECT_EQ(ga["b"], (topic_assignment{{tid(1), {3, 4}}, {tid(2), {3, 4}}}));
}

TEST(Assignor, RangeWithMoreMembersThanPartitions) {
  std::vector<assignor_member> ms{member("a", {tid(1)}), member("b", {tid(1)}),
                                  member("c", {tid(1)})};
  assignor_topics topics{{tid(1), 2}};
  auto ga = assign_range(ms, topics);
  expect_complete(ga, ms, topics);
  EXPECT_EQ(ga["a"], (topic_assignment{{tid(1), {0}}}));
  EXPECT_EQ(ga["b"], (topic_assignment{{tid(1), {1}}}));
  EXPECT_TRUE(ga["c"].empty());
}

}  // namespace
}  // namespace sluice::coordinator
