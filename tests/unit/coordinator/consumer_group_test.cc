// The KIP-848 consumer group state machine with a fake clock: epochs, target assignment,
// revoke-before-assign reconciliation, leaves, static members, timeouts, regex, offset checks.

#include "src/coordinator/group/consumer_group.h"

#include <gtest/gtest.h>

#include "src/coordinator/group/consumer_group_record.h"

namespace sluice::coordinator {
namespace {

using kafka::error;
using std::chrono::milliseconds;

topic_id tid(uint8_t n) {
  topic_id t{};
  t[15] = n;
  return t;
}

class ConsumerGroupTest : public ::testing::Test {
 protected:
  ConsumerGroupTest() {
    topics.add("orders", tid(1), 4);
    topics.add("payments", tid(2), 2);
    topics.version = 1;
  }

  heartbeat_request join(std::string id, std::vector<std::string> names = {"orders"}) {
    heartbeat_request r;
    r.member_id = std::move(id);
    r.member_epoch = 0;
    r.rebalance_timeout_ms = 30000;
    r.subscribed_topic_names = std::move(names);
    r.owned = topic_assignment{};
    return r;
  }
  heartbeat_request beat(std::string id, int32_t epoch, std::optional<topic_assignment> owned) {
    heartbeat_request r;
    r.member_id = std::move(id);
    r.member_epoch = epoch;
    r.owned = std::move(owned);
    return r;
  }
  heartbeat_result send(const heartbeat_request& r) {
    return group.heartbeat(r, topics, settings, now);
  }

  consumer_group group{"g"};
  topic_view topics;
  consumer_group_settings settings;
  clock_time now{};
};

size_t count(const std::optional<topic_assignment>& a) {
  size_t n = 0;
  if (a) {
    for (const auto& [_, p] : *a) n += p.size();
  }
  return n;
}

TEST_F(ConsumerGroupTest, FirstMemberGetsEverything) {
  auto r = send(join("m1"));
  ASSERT_EQ(r.error, error::none) << r.error_message;
  EXPECT_EQ(r.member_id, "m1");
  EXPECT_EQ(r.member_epoch, 1);
  EXPECT_EQ(r.heartbeat_interval_ms, 5000);
  EXPECT_EQ(r.assignment, (topic_assignment{{tid(1), {0, 1, 2, 3}}}));
  EXPECT_EQ(group.group_epoch(), 1);
  EXPECT_EQ(group.assignment_epoch(), 1);
  EXPECT_EQ(group.state(), consumer_group_state::stable);
  // A steady heartbeat without changes carries no assignment.
  auto again = send(beat("m1", 1, std::nullopt));
  EXPECT_EQ(again.error, error::none);
  EXPECT_EQ(again.member_epoch, 1);
  EXPECT_FALSE(again.assignment);
}

TEST_F(ConsumerGroupTest, PartitionMovesOnlyAfterThePreviousOwnerRevokedIt) {
  send(join("m1"));
  auto j2 = send(join("m2"));
  ASSERT_EQ(j2.error, error::none);
  EXPECT_EQ(group.group_epoch(), 2);
  // m2's target partitions are still m1's: it moves to epoch 2 with nothing yet.
  EXPECT_EQ(j2.member_epoch, 2);
  EXPECT_EQ(count(j2.assignment), 0u);
  EXPECT_EQ(group.state(), consumer_group_state::reconciling);

  // m1 is told to revoke: its assignment shrinks, its epoch stays 1 until it acknowledges.
  auto r1 = send(beat("m1", 1, topic_assignment{{tid(1), {0, 1, 2, 3}}}));
  ASSERT_EQ(r1.error, error::none);
  EXPECT_EQ(r1.member_epoch, 1);
  ASSERT_EQ(count(r1.assignment), 2u);
  topic_assignment kept = *r1.assignment;

  // m2 still gets nothing while m1 holds the partitions.
  auto r2 = send(beat("m2", 2, topic_assignment{}));
  EXPECT_EQ(r2.member_epoch, 2);
  EXPECT_EQ(count(group.members().at("m2").current.assigned), 0u);

  // m1 acknowledges (owns only what it kept): it moves to epoch 2.
  auto r1b = send(beat("m1", 1, kept));
  EXPECT_EQ(r1b.member_epoch, 2);
  // Now m2 gets the released partitions.
  auto r2b = send(beat("m2", 2, topic_assignment{}));
  ASSERT_TRUE(r2b.assignment);
  EXPECT_EQ(count(r2b.assignment), 2u);
  for (const auto& [t, parts] : *r2b.assignment) {
    for (int32_t p : parts) EXPECT_FALSE(kept.at(t).count(p)) << "partition " << p << " twice";
  }
  EXPECT_EQ(group.state(), consumer_group_state::stable);
}

TEST_F(ConsumerGroupTest, HeartbeatWithoutOwnedListKeepsWaitingForRevocation) {
  send(join("m1"));
  send(join("m2"));
  auto r1 = send(beat("m1", 1, std::nullopt));
  EXPECT_EQ(r1.member_epoch, 1);
  EXPECT_EQ(group.members().at("m1").current.state, member_state::unrevoked_partitions);
  auto r1b = send(beat("m1", 1, std::nullopt));
  EXPECT_EQ(r1b.member_epoch, 1);
}

TEST_F(ConsumerGroupTest, LeaveBumpsEpochAndFreesPartitions) {
  send(join("m1"));
  send(join("m2"));
  auto r1 = send(beat("m1", 1, topic_assignment{{tid(1), {0, 1, 2, 3}}}));
  send(beat("m1", 1, *r1.assignment));
  send(beat("m2", 2, topic_assignment{}));
  ASSERT_EQ(group.state(), consumer_group_state::stable);

  auto bye = send(beat("m2", kLeaveGroupMemberEpoch, std::nullopt));
  EXPECT_EQ(bye.error, error::none);
  EXPECT_EQ(bye.member_epoch, -1);
  EXPECT_EQ(group.group_epoch(), 3);
  EXPECT_EQ(group.members().size(), 1u);
  auto r = send(beat("m1", 2, *r1.assignment));
  EXPECT_EQ(r.member_epoch, 3);
  EXPECT_EQ(r.assignment, (topic_assignment{{tid(1), {0, 1, 2, 3}}}));
  // Leaving twice: the member is unknown.
  EXPECT_EQ(send(beat("m2", -1, std::nullopt)).error, error::unknown_member_id);
}

TEST_F(ConsumerGroupTest, EpochChecks) {
  send(join("m1"));
  EXPECT_EQ(send(beat("m1", 5, std::nullopt)).error, error::fenced_member_epoch);
  EXPECT_EQ(send(beat("nobody", 1, std::nullopt)).error, error::unknown_member_id);
  // Rejoining with epoch 0 and the same id gives the member its current state back.
  auto r = send(join("m1"));
  EXPECT_EQ(r.error, error::none);
  EXPECT_EQ(r.member_epoch, 1);
  EXPECT_EQ(count(r.assignment), 4u);
  EXPECT_EQ(group.group_epoch(), 1);
}

TEST_F(ConsumerGroupTest, PreviousEpochAcceptedWithSubsetOfAssignment) {
  send(join("m1", {"orders", "payments"}));  // epoch 1
  auto s = send(join("m1", {"orders"}));     // subscription change: epoch 2, payments revoked
  ASSERT_EQ(s.error, error::none);
  // Owning nothing revokes immediately: the member is at epoch 2 with orders only.
  EXPECT_EQ(s.member_epoch, 2);
  EXPECT_EQ(s.assignment, (topic_assignment{{tid(1), {0, 1, 2, 3}}}));
  // The response was lost: the member heartbeats with epoch 1 owning a subset: accepted.
  EXPECT_EQ(send(beat("m1", 1, topic_assignment{{tid(1), {0}}})).error, error::none);
  // With a partition it does not own any more: fenced.
  EXPECT_EQ(send(beat("m1", 1, topic_assignment{{tid(2), {0}}})).error, error::fenced_member_epoch);
}

TEST_F(ConsumerGroupTest, SessionTimeoutRemovesMember) {
  send(join("m1"));
  now += milliseconds(1000);
  send(join("m2"));
  ASSERT_TRUE(group.next_deadline());
  EXPECT_EQ(*group.next_deadline(), clock_time{} + milliseconds(45000));
  EXPECT_TRUE(group.expire(clock_time{} + milliseconds(44999)).empty());
  auto gone = group.expire(clock_time{} + milliseconds(45000));
  EXPECT_EQ(gone, std::vector<std::string>{"m1"});
  EXPECT_EQ(group.members().size(), 1u);
  int32_t epoch = group.group_epoch();
  EXPECT_EQ(epoch, 3);
  // m2 now gets all of orders.
  auto r = send(beat("m2", 2, topic_assignment{}));
  EXPECT_EQ(r.member_epoch, 3);
  EXPECT_EQ(count(r.assignment), 4u);
}

TEST_F(ConsumerGroupTest, RebalanceTimeoutRemovesMemberThatDoesNotRevoke) {
  send(join("m1"));
  send(join("m2"));
  send(beat("m1", 1, topic_assignment{{tid(1), {0, 1, 2, 3}}}));  // revocation requested at t=0
  now += milliseconds(10000);
  send(beat("m1", 1,
            topic_assignment{{tid(1), {0, 1, 2, 3}}}));  // still holding: deadline unchanged
  EXPECT_TRUE(group.expire(clock_time{} + milliseconds(29999)).empty());
  EXPECT_EQ(group.expire(clock_time{} + milliseconds(30000)), std::vector<std::string>{"m1"});
  auto r = send(beat("m2", 2, topic_assignment{}));
  EXPECT_EQ(count(r.assignment), 4u);
}

TEST_F(ConsumerGroupTest, StaticMemberLeavesTemporarilyAndIsReplacedWithoutRebalance) {
  auto j = join("a1");
  j.instance_id = "inst-a";
  send(j);
  auto k = join("b1");
  k.instance_id = "inst-b";
  send(k);
  auto ra = send(beat("a1", 1, topic_assignment{{tid(1), {0, 1, 2, 3}}}));
  send(beat("a1", 1, *ra.assignment));
  send(beat("b1", 2, topic_assignment{}));
  ASSERT_EQ(group.state(), consumer_group_state::stable);
  const int32_t epoch = group.group_epoch();

  auto leave = beat("a1", kLeaveGroupStaticMemberEpoch, std::nullopt);
  leave.instance_id = "inst-a";
  EXPECT_EQ(send(leave).member_epoch, -2);
  EXPECT_EQ(group.group_epoch(), epoch);  // no rebalance

  // Another process cannot take the instance id while it is in use...
  auto rival = join("b2");
  rival.instance_id = "inst-b";
  EXPECT_EQ(send(rival).error, error::unreleased_instance_id);
  // ...but the restarted a1 (new member id, same instance id) takes over a1's partitions.
  auto back = join("a2");
  back.instance_id = "inst-a";
  auto r = send(back);
  ASSERT_EQ(r.error, error::none) << r.error_message;
  EXPECT_EQ(r.member_epoch, epoch);
  EXPECT_EQ(r.assignment, ra.assignment);
  EXPECT_EQ(group.group_epoch(), epoch);
  EXPECT_FALSE(group.members().count("a1"));
  // The replaced member id is fenced.
  auto old = beat("a1", epoch, std::nullopt);
  old.instance_id = "inst-a";
  EXPECT_EQ(send(old).error, error::fenced_instance_id);
}

TEST_F(ConsumerGroupTest, RegexSubscriptionFollowsTopicChanges) {
  auto j = join("m1");
  j.subscribed_topic_names.reset();
  j.subscribed_topic_regex = "pay.*|orders";
  auto r = send(j);
  ASSERT_EQ(r.error, error::none) << r.error_message;
  EXPECT_EQ(r.assignment, (topic_assignment{{tid(1), {0, 1, 2, 3}}, {tid(2), {0, 1}}}));
  // Full match only: "xorders" does not match; "payouts" does.
  topics.add("xorders", tid(3), 1);
  topics.add("payouts", tid(4), 1);
  topics.version = 2;
  auto r2 = send(beat("m1", 1, *r.assignment));
  EXPECT_EQ(r2.member_epoch, 2);
  ASSERT_TRUE(r2.assignment);
  EXPECT_TRUE(r2.assignment->count(tid(4)));
  EXPECT_FALSE(r2.assignment->count(tid(3)));
}

TEST_F(ConsumerGroupTest, AddedPartitionsBumpTheEpoch) {
  auto r = send(join("m1"));
  topics.add("orders", tid(1), 6);
  topics.version = 2;
  auto r2 = send(beat("m1", 1, *r.assignment));
  EXPECT_EQ(r2.member_epoch, 2);
  EXPECT_EQ(count(r2.assignment), 6u);
}

TEST_F(ConsumerGroupTest, RequestValidation) {
  auto j = join("");
  EXPECT_EQ(send(j).error, error::invalid_request);  // v1: the client names itself
  j = join("m1");
  j.rebalance_timeout_ms = -1;
  EXPECT_EQ(send(j).error, error::invalid_request);
  j = join("m1");
  j.owned = topic_assignment{{tid(1), {0}}};
  EXPECT_EQ(send(j).error, error::invalid_request);
  j = join("m1");
  j.subscribed_topic_names.reset();
  EXPECT_EQ(send(j).error, error::invalid_request);
  j = join("m1");
  j.server_assignor = "sticky";
  EXPECT_EQ(send(j).error, error::unsupported_assignor);
  j = join("m1");
  j.subscribed_topic_regex = "orders(";
  auto bad = send(j);
  EXPECT_EQ(bad.error, error::invalid_regular_expression);
  EXPECT_NE(bad.error_message.find("orders("), std::string::npos);
  EXPECT_EQ(send(beat("m1", -3, std::nullopt)).error, error::invalid_request);
  EXPECT_TRUE(group.empty());
}

TEST_F(ConsumerGroupTest, MaxSize) {
  settings.max_size = 1;
  send(join("m1"));
  EXPECT_EQ(send(join("m2")).error, error::group_max_size_reached);
  EXPECT_EQ(send(join("m1")).error, error::none);
}

TEST_F(ConsumerGroupTest, RangeAssignorChosenByMembers) {
  auto a = join("a");
  a.server_assignor = "range";
  auto b = join("b");
  b.server_assignor = "range";
  send(a);
  send(b);
  EXPECT_EQ(group.preferred_assignor(), assignor_kind::range);
  EXPECT_EQ(group.target_of("a"), (topic_assignment{{tid(1), {0, 1}}}));
  EXPECT_EQ(group.target_of("b"), (topic_assignment{{tid(1), {2, 3}}}));
}

TEST_F(ConsumerGroupTest, OffsetCommitAndFetchEpochChecks) {
  EXPECT_EQ(group.validate_offset_commit("", -1, 9), error::none);  // empty group: admin commit
  send(join("m1"));
  EXPECT_EQ(group.validate_offset_commit("", -1, 9), error::unknown_member_id);
  EXPECT_EQ(group.validate_offset_commit("m1", 1, 9), error::none);
  EXPECT_EQ(group.validate_offset_commit("m1", 1, 8), error::unsupported_version);
  EXPECT_EQ(group.validate_offset_commit("m1", 1, 8, true), error::none);
  EXPECT_EQ(group.validate_offset_commit("m1", 0, 9), error::stale_member_epoch);
  EXPECT_EQ(group.validate_offset_commit("m1", 2, 9), error::stale_member_epoch);
  EXPECT_EQ(group.validate_offset_fetch(std::nullopt, -1), error::none);
  EXPECT_EQ(group.validate_offset_fetch(std::string("m1"), 1), error::none);
  EXPECT_EQ(group.validate_offset_fetch(std::string("m1"), 0), error::stale_member_epoch);
  EXPECT_EQ(group.validate_offset_fetch(std::string("zz"), 1), error::unknown_member_id);
}

// Persistence: a group stored mid-reconciliation (m1 revoking, m2 waiting, a static member)
// comes back through its record with the same epochs, assignments and static members, and goes
// on exactly as the original does, without a new group epoch.
TEST_F(ConsumerGroupTest, RestoredFromItsRecordTheGroupContinuesUnchanged) {
  send(join("m1"));
  auto js = join("s1", {"orders", "payments"});
  js.instance_id = "instance-1";
  send(js);
  send(join("m2"));
  auto r1 = send(beat("m1", 1, topic_assignment{{tid(1), {0, 1, 2, 3}}}));
  ASSERT_EQ(group.members().at("m1").current.state, member_state::unrevoked_partitions);

  consumer_group_snapshot snap;
  int64_t since = -1;
  const std::string record = encode_consumer_record(group.snapshot(), 0);
  ASSERT_TRUE(is_consumer_record(record));
  ASSERT_TRUE(decode_consumer_record(record, snap, since));
  EXPECT_EQ(since, 0);
  auto restored = consumer_group::restore("g", snap, settings.session_timeout_ms, now);
  EXPECT_EQ(encode_consumer_record(restored->snapshot(), 0), record);
  EXPECT_EQ(restored->group_epoch(), group.group_epoch());
  EXPECT_EQ(restored->assignment_epoch(), group.assignment_epoch());
  EXPECT_EQ(restored->state(), group.state());

  // The same heartbeats get the same answers from both; no epoch bump after the restore.
  const int32_t epoch = group.group_epoch();
  std::vector<heartbeat_request> next = {
      beat("m1", 1, *r1.assignment), beat("m2", 3, topic_assignment{}),
      beat("s1", group.members().at("s1").current.member_epoch, std::nullopt)};
  next[2].instance_id = "instance-1";
  for (const auto& req : next) {
    auto a = send(req);
    auto b = restored->heartbeat(req, topics, settings, now);
    EXPECT_EQ(a.error, b.error) << req.member_id;
    EXPECT_EQ(a.member_epoch, b.member_epoch) << req.member_id;
    EXPECT_EQ(a.assignment, b.assignment) << req.member_id;
  }
  EXPECT_EQ(restored->group_epoch(), epoch);
  EXPECT_EQ(encode_consumer_record(restored->snapshot(), 0),
            encode_consumer_record(group.snapshot(), 0));
  // The static member's instance id is still owned.
  auto rival = join("s2");
  rival.instance_id = "instance-1";
  EXPECT_EQ(restored->heartbeat(rival, topics, settings, now).error, error::unreleased_instance_id);
  // Sessions restart at the restore.
  EXPECT_EQ(restored->next_deadline(), now + milliseconds(settings.session_timeout_ms));

  consumer_group_snapshot bad;
  EXPECT_FALSE(decode_consumer_record("not a record", bad, since));
}

}  // namespace
}  // namespace sluice::coordinator
