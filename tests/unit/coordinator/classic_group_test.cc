// The classic group state machine with a fake clock: joins, syncs, heartbeats, leaves and the
// timeouts, with Kafka's error codes.

#include "src/coordinator/group/classic_group.h"

#include <gtest/gtest.h>

#include <optional>

namespace sluice::coordinator {
namespace {

using kafka::error;

struct fixture {
  int64_t now = 1000;
  int next_id = 0;
  group_limits limits{6000, 300000, 3000, 100};
  classic_group g{"g", limits, [this](std::string_view c) {
                    return std::string(c) + "-" + std::to_string(++next_id);
                  }};

  join_request req(std::string member_id = {}, std::string proto = "range",
                   std::optional<std::string> instance = std::nullopt) {
    join_request r;
    r.member_id = std::move(member_id);
    r.instance_id = std::move(instance);
    r.client_id = "c";
    r.client_host = "/127.0.0.1";
    r.rebalance_timeout_ms = 10000;
    r.session_timeout_ms = 10000;
    r.protocol_type = "consumer";
    r.protocols = {{proto, {1, 2, 3}}};
    return r;
  }
  // Joins; the answer lands in `out` (maybe later).
  void join(join_request r, std::optional<join_result>& out) {
    out.reset();
    g.join(std::move(r), now, [&out](join_result res) { out = std::move(res); });
  }
  void sync(const std::string& member, int32_t gen, std::optional<sync_result>& out,
            std::vector<std::pair<std::string, bytes>> assignments = {}) {
    out.reset();
    sync_request r;
    r.member_id = member;
    r.generation = gen;
    r.assignments = std::move(assignments);
    g.sync(std::move(r), now, [&out](sync_result res) { out = std::move(res); });
  }
  void advance(int64_t ms) {
    now += ms;
    g.tick(now);
  }
};

TEST(classic_group, first_member_waits_for_the_initial_delay_then_leads) {
  fixture f;
  std::optional<join_result> j;
  f.join(f.req(), j);
  EXPECT_FALSE(j);
  EXPECT_EQ(f.g.state(), group_state::preparing_rebalance);
  EXPECT_EQ(f.g.next_deadline(), f.now + 3000);
  f.advance(2999);
  EXPECT_FALSE(j);
  f.advance(1);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->error, error::none);
  EXPECT_EQ(j->generation, 1);
  EXPECT_EQ(j->leader, j->member_id);
  EXPECT_EQ(j->protocol_name, "range");
  ASSERT_EQ(j->members.size(), 1u);
  EXPECT_EQ(f.g.state(), group_state::completing_rebalance);

  std::optional<sync_result> s;
  f.sync(j->member_id, 1, s, {{j->member_id, {9}}});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->error, error::none);
  EXPECT_EQ(s->assignment, bytes{9});
  EXPECT_EQ(f.g.state(), group_state::stable);
  EXPECT_TRUE(f.g.take_dirty());
}

TEST(classic_group, member_id_required_then_rejoin_with_the_given_id) {
  fixture f;
  f.limits.initial_rebalance_delay_ms = 0;
  classic_group g("g", f.limits, [](std::string_view) { return std::string("m-1"); });
  auto r = f.req();
  r.require_known_member_id = true;
  std::optional<join_result> j;
  g.join(r, f.now, [&](join_result res) { j = res; });
  ASSERT_TRUE(j);
  EXPECT_EQ(j->error, error::member_id_required);
  EXPECT_EQ(j->member_id, "m-1");
  EXPECT_EQ(g.pending_member_count(), 1u);
  r.member_id = "m-1";
  j.reset();
  g.join(r, f.now, [&](join_result res) { j = res; });
  ASSERT_TRUE(j);  // no delay configured: completes at once
  EXPECT_EQ(j->error, error::none);
  EXPECT_EQ(j->member_id, "m-1");
  EXPECT_EQ(g.pending_member_count(), 0u);
}

TEST(classic_group, a_second_member_starts_a_rebalance_that_waits_for_the_first) {
  fixture f;
  std::optional<join_result> a, b;
  f.join(f.req(), a);
  f.advance(3000);
  std::string ma = a->member_id;
  std::optional<sync_result> s;
  f.sync(ma, 1, s, {{ma, {1}}});
  ASSERT_EQ(f.g.state(), group_state::stable);

  f.join(f.req(), b);
  EXPECT_FALSE(b);
  EXPECT_EQ(f.g.state(), group_state::preparing_rebalance);
  EXPECT_EQ(f.g.heartbeat(ma, std::nullopt, 1, f.now), error::rebalance_in_progress);
  f.sync(ma, 1, s);
  EXPECT_EQ(s->error, error::rebalance_in_progress);

  f.join(f.req(ma), a);  // the first member rejoins: everyone is in
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(a->generation, 2);
  EXPECT_EQ(b->generation, 2);
  EXPECT_EQ(a->leader, ma);
  EXPECT_EQ(a->members.size(), 2u);
  EXPECT_TRUE(b->members.empty());

  // The follower's sync waits for the leader's assignment.
  std::optional<sync_result> sb;
  f.sync(b->member_id, 2, sb);
  EXPECT_FALSE(sb);
  EXPECT_EQ(f.g.heartbeat(b->member_id, std::nullopt, 2, f.now), error::none);
  f.sync(ma, 2, s, {{ma, {1}}, {b->member_id, {2}}});
  ASSERT_TRUE(sb);
  EXPECT_EQ(sb->assignment, bytes{2});
  EXPECT_EQ(s->assignment, bytes{1});
}

TEST(classic_group, heartbeat_and_sync_errors) {
  fixture f;
  std::optional<join_result> a;
  f.join(f.req(), a);
  f.advance(3000);
  EXPECT_EQ(f.g.heartbeat("nobody", std::nullopt, 1, f.now), error::unknown_member_id);
  EXPECT_EQ(f.g.heartbeat(a->member_id, std::nullopt, 7, f.now), error::illegal_generation);
  std::optional<sync_result> s;
  f.sync(a->member_id, 7, s);
  EXPECT_EQ(s->error, error::illegal_generation);
  f.sync("nobody", 1, s);
  EXPECT_EQ(s->error, error::unknown_member_id);
  sync_request r;
  r.member_id = a->member_id;
  r.generation = 1;
  r.protocol_name = "roundrobin";
  f.g.sync(r, f.now, [&](sync_result res) { s = res; });
  EXPECT_EQ(s->error, error::inconsistent_group_protocol);
}

TEST(classic_group, session_expiry_removes_the_member_and_empties_the_group) {
  fixture f;
  std::optional<join_result> a;
  f.join(f.req(), a);
  f.advance(3000);
  std::optional<sync_result> s;
  f.sync(a->member_id, 1, s, {});
  f.advance(9000);
  EXPECT_EQ(f.g.heartbeat(a->member_id, std::nullopt, 1, f.now), error::none);
  f.advance(9999);
  EXPECT_EQ(f.g.members().size(), 1u);
  f.advance(1);
  EXPECT_TRUE(f.g.members().empty());
  EXPECT_EQ(f.g.state(), group_state::empty);
  EXPECT_EQ(f.g.generation(), 2);
  EXPECT_EQ(f.g.heartbeat(a->member_id, std::nullopt, 1, f.now), error::unknown_member_id);
}

TEST(classic_group, rebalance_timeout_drops_members_that_do_not_rejoin) {
  fixture f;
  std::optional<join_result> a, b, c;
  f.join(f.req(), a);
  f.join(f.req(), b);
  f.advance(3000);  // b came during the delay: it is extended once
  EXPECT_FALSE(a);
  f.advance(3000);
  ASSERT_TRUE(a && b);
  std::optional<sync_result> s;
  f.sync(a->member_id, 1, s, {});
  f.sync(b->member_id, 1, s, {});
  f.join(f.req(), c);  // rebalance; a rejoins, b does not (but keeps heartbeating)
  f.join(f.req(a->member_id), a);
  for (int i = 0; i < 4; ++i) {
    f.advance(2500);
    f.g.heartbeat(b->member_id, std::nullopt, 1, f.now);
  }
  ASSERT_TRUE(c);
  EXPECT_EQ(c->generation, 2);
  EXPECT_EQ(f.g.members().size(), 2u);
  EXPECT_EQ(f.g.heartbeat(b->member_id, std::nullopt, 1, f.now), error::unknown_member_id);
}

TEST(classic_group, members_that_never_sync_are_removed_after_the_rebalance_timeout) {
  fixture f;
  std::optional<join_result> a, b;
  f.join(f.req(), a);
  f.join(f.req(), b);
  f.advance(3000);  // b came during the delay: it is extended once
  EXPECT_FALSE(a);
  f.advance(3000);
  std::optional<sync_result> s;
  f.sync(a->member_id, 1, s, {});  // the leader syncs; b never does
  EXPECT_EQ(f.g.state(), group_state::stable);
  f.g.heartbeat(a->member_id, std::nullopt, 1, f.now + 5000);
  f.g.heartbeat(b->member_id, std::nullopt, 1, f.now + 5000);
  f.advance(10000);
  EXPECT_EQ(f.g.members().size(), 1u);
  EXPECT_EQ(f.g.state(), group_state::preparing_rebalance);
}

TEST(classic_group, static_member_rejoin_keeps_the_assignment_and_fences_the_old_id) {
  fixture f;
  std::optional<join_result> a, b;
  f.join(f.req({}, "range", "i-a"), a);
  f.join(f.req({}, "range", "i-b"), b);
  f.advance(3000);  // b came during the initial delay: it is extended once
  f.advance(3000);
  std::optional<sync_result> s;
  f.sync(a->member_id, 1, s, {{a->member_id, {1}}, {b->member_id, {2}}});
  f.sync(b->member_id, 1, s);
  ASSERT_EQ(f.g.state(), group_state::stable);
  const std::string old_b = b->member_id;

  std::optional<join_result> b2;
  f.join(f.req({}, "range", "i-b"), b2);  // b restarted, same instance id
  ASSERT_TRUE(b2);
  EXPECT_EQ(b2->error, error::none);
  EXPECT_EQ(b2->generation, 1);
  EXPECT_NE(b2->member_id, old_b);
  EXPECT_EQ(f.g.state(), group_state::stable);  // no rebalance
  f.sync(b2->member_id, 1, s);
  EXPECT_EQ(s->assignment, bytes{2});
  EXPECT_EQ(f.g.heartbeat(old_b, std::string("i-b"), 1, f.now), error::fenced_instance_id);
  EXPECT_TRUE(f.g.take_dirty());

  std::optional<join_result> j;
  f.join(f.req(old_b, "range", "i-b"), j);
  EXPECT_EQ(j->error, error::fenced_instance_id);
}

TEST(classic_group, protocol_checks) {
  fixture f;
  std::optional<join_result> a, b;
  f.join(f.req({}, "range"), a);
  f.join(f.req({}, "roundrobin"), b);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->error, error::inconsistent_group_protocol);
  auto r = f.req();
  r.protocol_type = "connect";
  f.join(r, b);
  EXPECT_EQ(b->error, error::inconsistent_group_protocol);
  r = f.req();
  r.session_timeout_ms = 10;
  f.join(r, b);
  EXPECT_EQ(b->error, error::invalid_session_timeout);
}

TEST(classic_group, leave_rebalances_and_reports_unknown_members) {
  fixture f;
  std::optional<join_result> a, b;
  f.join(f.req(), a);
  f.join(f.req(), b);
  f.advance(3000);  // b came during the delay: it is extended once
  EXPECT_FALSE(a);
  f.advance(3000);
  std::optional<sync_result> s;
  f.sync(a->member_id, 1, s, {});
  f.sync(b->member_id, 1, s, {});
  EXPECT_EQ(f.g.leave("nobody", std::nullopt, f.now), error::unknown_member_id);
  EXPECT_EQ(f.g.leave(a->member_id, std::nullopt, f.now), error::none);
  EXPECT_EQ(f.g.state(), group_state::preparing_rebalance);
  EXPECT_EQ(f.g.leader(), b->member_id);
  f.join(f.req(b->member_id), b);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->generation, 2);
  EXPECT_EQ(b->leader, b->member_id);
}

TEST(classic_group, offset_commit_validation) {
  fixture f;
  EXPECT_EQ(f.g.validate_offset_commit("", std::nullopt, -1), error::none);  // simple group
  std::optional<join_result> a;
  f.join(f.req(), a);
  f.advance(3000);
  EXPECT_EQ(f.g.validate_offset_commit(a->member_id, std::nullopt, 1),
            error::rebalance_in_progress);  // CompletingRebalance
  std::optional<sync_result> s;
  f.sync(a->member_id, 1, s, {});
  EXPECT_EQ(f.g.validate_offset_commit(a->member_id, std::nullopt, 1), error::none);
  EXPECT_EQ(f.g.validate_offset_commit(a->member_id, std::nullopt, 0), error::illegal_generation);
  EXPECT_EQ(f.g.validate_offset_commit("x", std::nullopt, 1), error::unknown_member_id);
  EXPECT_EQ(f.g.validate_offset_commit("", std::nullopt, -1), error::unknown_member_id);
  EXPECT_EQ(f.g.mark_dead(), error::non_empty_group);
}

TEST(classic_group, snapshot_restores_a_stable_group) {
  fixture f;
  std::optional<join_result> a;
  f.join(f.req({}, "range", "i-a"), a);
  f.advance(3000);
  std::optional<sync_result> s;
  f.sync(a->member_id, 1, s, {{a->member_id, {5}}});
  auto snap = f.g.snapshot();
  auto g = classic_group::restore("g", f.limits, nullptr, snap, 0);
  EXPECT_EQ(g->state(), group_state::stable);
  EXPECT_EQ(g->generation(), 1);
  EXPECT_EQ(g->leader(), a->member_id);
  EXPECT_EQ(g->heartbeat(a->member_id, std::string("i-a"), 1, 10), error::none);
  std::optional<sync_result> s2;
  sync_request r;
  r.member_id = a->member_id;
  r.generation = 1;
  g->sync(r, 10, [&](sync_result res) { s2 = res; });
  EXPECT_EQ(s2->assignment, bytes{5});
  g->tick(20010);
  EXPECT_EQ(g->state(), group_state::empty);  // the session ran out after the restart
}

}  // namespace
}  // namespace sluice::coordinator
