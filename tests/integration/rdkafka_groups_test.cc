// Classic consumer groups with librdkafka (Debian's 2.0.2, C++ API): members join, leave and
// crash while every partition is consumed exactly once; cooperative-sticky incremental
// rebalancing; a static member restarting within its session timeout causes no rebalance;
// committed offsets survive a broker restart exactly.

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/sluiced_fixture.h"

namespace {

using consumer_ptr = std::unique_ptr<RdKafka::KafkaConsumer>;
using clock_type = std::chrono::steady_clock;

const std::vector<std::string> kFast = {"--set", "group.initial.rebalance.delay.ms=200", "--set",
                                        "group.min.session.timeout.ms=1000"};

std::unique_ptr<RdKafka::Conf> conf_for(const std::string& bootstrap,
                                        const std::map<std::string, std::string>& kv) {
  std::unique_ptr<RdKafka::Conf> c(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  EXPECT_EQ(c->set("bootstrap.servers", bootstrap, err), RdKafka::Conf::CONF_OK) << err;
  for (const auto& [k, v] : kv) EXPECT_EQ(c->set(k, v, err), RdKafka::Conf::CONF_OK) << k << err;
  return c;
}

// Produces n messages round-robin over the partitions; the topic is auto-created with the
// broker's num.partitions (the tests start sluiced with it set).
void produce(const std::string& bootstrap, const std::string& topic, int partitions, int n) {
  auto conf = conf_for(bootstrap, {{"linger.ms", "5"}});
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  ASSERT_TRUE(p) << err;
  for (int i = 0; i < n; ++i) {
    std::string v = "m" + std::to_string(i);
    auto rc = p->produce(topic, i % partitions, RdKafka::Producer::RK_MSG_COPY, v.data(), v.size(),
                         nullptr, 0, 0, nullptr);
    ASSERT_EQ(rc, RdKafka::ERR_NO_ERROR) << RdKafka::err2str(rc);
    p->poll(0);
  }
  ASSERT_EQ(p->flush(60000), RdKafka::ERR_NO_ERROR);
}

consumer_ptr make_consumer(const std::string& bootstrap, const std::string& group,
                           std::map<std::string, std::string> extra = {},
                           RdKafka::RebalanceCb* cb = nullptr) {
  std::map<std::string, std::string> kv = {{"group.id", group},
                                           {"auto.offset.reset", "earliest"},
                                           {"enable.auto.commit", "false"},
                                           {"session.timeout.ms", "6000"},
                                           {"heartbeat.interval.ms", "300"}};
  for (auto& [k, v] : extra) kv[k] = v;
  auto conf = conf_for(bootstrap, kv);
  std::string err;
  if (cb != nullptr) {
    EXPECT_EQ(conf->set("rebalance_cb", cb, err), RdKafka::Conf::CONF_OK);
  }
  consumer_ptr c(RdKafka::KafkaConsumer::create(conf.get(), err));
  EXPECT_TRUE(c) << err;
  return c;
}

// Polls one message; on success commits it synchronously and records (partition, offset).
// Returns false on a duplicate.
bool poll_one(RdKafka::KafkaConsumer& c, std::set<std::pair<int, int64_t>>& seen) {
  std::unique_ptr<RdKafka::Message> m(c.consume(50));
  if (m->err() != RdKafka::ERR_NO_ERROR) return true;
  bool fresh = seen.emplace(m->partition(), m->offset()).second;
  EXPECT_EQ(c.commitSync(m.get()), RdKafka::ERR_NO_ERROR);
  return fresh;
}

// A consumer through the C API, so it can be destroyed without leaving the group (a crash).
struct c_consumer {
  rd_kafka_t* rk = nullptr;
  c_consumer(const std::string& bootstrap, const std::string& group) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[256];
    for (auto [k, v] : std::map<std::string, std::string>{{"bootstrap.servers", bootstrap},
                                                          {"group.id", group},
                                                          {"auto.offset.reset", "earliest"},
                                                          {"enable.auto.commit", "false"},
                                                          {"session.timeout.ms", "2000"},
                                                          {"heartbeat.interval.ms", "300"}}) {
      rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err);
    }
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    rd_kafka_poll_set_consumer(rk);
  }
  void subscribe(const std::string& topic) {
    rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
  }
  bool poll_one(std::set<std::pair<int, int64_t>>& seen) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 50);
    if (m == nullptr) return true;
    bool fresh = true;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      fresh = seen.emplace(m->partition, m->offset).second;
      EXPECT_EQ(rd_kafka_commit_message(rk, m, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    rd_kafka_message_destroy(m);
    return fresh;
  }
  void crash() {
    rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    rk = nullptr;
  }
  ~c_consumer() {
    if (rk != nullptr) {
      rd_kafka_consumer_close(rk);
      rd_kafka_destroy(rk);
    }
  }
};

TEST(RdKafkaGroups, MembersJoinLeaveAndCrashEveryMessageOnce) {
  std::vector<std::string> args = kFast;
  args.insert(args.end(), {"--set", "num.partitions=6"});
  sluice::testing::sluiced_process broker(args);
  ASSERT_GT(broker.port(), 0) << broker.log();
  const int kMessages = 900;
  produce(broker.bootstrap(), "jlc", 6, kMessages);

  auto a = make_consumer(broker.bootstrap(), "g-jlc");
  auto b = make_consumer(broker.bootstrap(), "g-jlc");
  c_consumer crashy(broker.bootstrap(), "g-jlc");
  ASSERT_EQ(a->subscribe({"jlc"}), RdKafka::ERR_NO_ERROR);
  ASSERT_EQ(b->subscribe({"jlc"}), RdKafka::ERR_NO_ERROR);
  crashy.subscribe("jlc");

  std::set<std::pair<int, int64_t>> seen;
  int dups = 0;
  bool b_left = false, crashed = false, all_three = false;
  const auto deadline = clock_type::now() + std::chrono::seconds(120);
  while (seen.size() < size_t(kMessages) && clock_type::now() < deadline) {
    dups += !poll_one(*a, seen);
    if (!b_left) dups += !poll_one(*b, seen);
    if (!crashed) dups += !crashy.poll_one(seen);
    std::vector<RdKafka::TopicPartition*> pa, pb;
    if (!all_three && a->assignment(pa) == RdKafka::ERR_NO_ERROR &&
        b->assignment(pb) == RdKafka::ERR_NO_ERROR && pa.size() == 2 && pb.size() == 2) {
      all_three = true;  // 6 partitions over three members: the C one holds the other two
    }
    RdKafka::TopicPartition::destroy(pa);
    RdKafka::TopicPartition::destroy(pb);
    if (seen.size() >= 300 && !b_left) {
      b->close();  // LeaveGroup
      b_left = true;
    }
    if (seen.size() >= 600 && !crashed) {
      crashy.crash();  // no LeaveGroup: its session must expire
      crashed = true;
    }
  }
  EXPECT_TRUE(all_three);
  EXPECT_EQ(seen.size(), size_t(kMessages));
  EXPECT_EQ(dups, 0);
  std::vector<RdKafka::TopicPartition*> pa;
  ASSERT_EQ(a->assignment(pa), RdKafka::ERR_NO_ERROR);
  EXPECT_EQ(pa.size(), 6u);
  RdKafka::TopicPartition::destroy(pa);
  a->close();
}

class rebalance_log : public RdKafka::RebalanceCb {
 public:
  void rebalance_cb(RdKafka::KafkaConsumer* c, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& parts) override {
    protocol = c->rebalance_protocol();
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      ++assigns;
      if (protocol == "COOPERATIVE") {
        delete c->incremental_assign(parts);
      } else {
        c->assign(parts);
      }
      held += static_cast<int>(parts.size());
    } else {
      ++revokes;
      revoked_at_once = std::max(revoked_at_once, static_cast<int>(parts.size()));
      if (protocol == "COOPERATIVE") {
        delete c->incremental_unassign(parts);
      } else {
        c->unassign();
      }
      held -= static_cast<int>(parts.size());
    }
  }
  std::string protocol;
  int assigns = 0;
  int revokes = 0;
  int held = 0;
  int revoked_at_once = 0;
};

TEST(RdKafkaGroups, CooperativeStickyMovesOnlyWhatItMust) {
  std::vector<std::string> args = kFast;
  args.insert(args.end(), {"--set", "num.partitions=6"});
  sluice::testing::sluiced_process broker(args);
  ASSERT_GT(broker.port(), 0) << broker.log();
  produce(broker.bootstrap(), "coop", 6, 600);
  const std::map<std::string, std::string> coop = {
      {"partition.assignment.strategy", "cooperative-sticky"}};
  rebalance_log la, lb;
  auto a = make_consumer(broker.bootstrap(), "g-coop", coop, &la);
  ASSERT_EQ(a->subscribe({"coop"}), RdKafka::ERR_NO_ERROR);
  std::set<std::pair<int, int64_t>> seen;
  int dups = 0;
  auto deadline = clock_type::now() + std::chrono::seconds(60);
  while (la.held != 6 && clock_type::now() < deadline) dups += !poll_one(*a, seen);
  ASSERT_EQ(la.held, 6);
  EXPECT_EQ(la.protocol, "COOPERATIVE");

  auto b = make_consumer(broker.bootstrap(), "g-coop", coop, &lb);
  ASSERT_EQ(b->subscribe({"coop"}), RdKafka::ERR_NO_ERROR);
  deadline = clock_type::now() + std::chrono::seconds(120);
  while (seen.size() < 600 && clock_type::now() < deadline) {
    dups += !poll_one(*a, seen);
    dups += !poll_one(*b, seen);
  }
  while ((la.held != 3 || lb.held != 3) && clock_type::now() < deadline) {
    dups += !poll_one(*a, seen);
    dups += !poll_one(*b, seen);
  }
  EXPECT_EQ(seen.size(), 600u);
  EXPECT_EQ(dups, 0);
  EXPECT_EQ(la.held, 3);
  EXPECT_EQ(lb.held, 3);
  // Incremental: a gave up only the three partitions b took, never all six.
  EXPECT_EQ(la.revoked_at_once, 3);
  EXPECT_EQ(lb.revokes, 0);
  a->close();
  b->close();
}

TEST(RdKafkaGroups, StaticMemberRestartWithinSessionTimeoutDoesNotRebalance) {
  std::vector<std::string> args = kFast;
  args.insert(args.end(), {"--set", "num.partitions=4"});
  sluice::testing::sluiced_process broker(args);
  ASSERT_GT(broker.port(), 0) << broker.log();
  produce(broker.bootstrap(), "stat", 4, 40);
  rebalance_log la, lb, la2;
  const std::map<std::string, std::string> a_conf = {{"group.instance.id", "inst-a"},
                                                     {"session.timeout.ms", "30000"}};
  auto a = make_consumer(broker.bootstrap(), "g-stat", a_conf, &la);
  auto b = make_consumer(broker.bootstrap(), "g-stat",
                         {{"group.instance.id", "inst-b"}, {"session.timeout.ms", "30000"}}, &lb);
  ASSERT_EQ(a->subscribe({"stat"}), RdKafka::ERR_NO_ERROR);
  ASSERT_EQ(b->subscribe({"stat"}), RdKafka::ERR_NO_ERROR);
  std::set<std::pair<int, int64_t>> seen;
  auto deadline = clock_type::now() + std::chrono::seconds(60);
  while ((la.held != 2 || lb.held != 2) && clock_type::now() < deadline) {
    poll_one(*a, seen);
    poll_one(*b, seen);
  }
  ASSERT_EQ(la.held, 2);
  ASSERT_EQ(lb.held, 2);
  const int b_assigns = lb.assigns, b_revokes = lb.revokes;
  std::vector<RdKafka::TopicPartition*> before;
  ASSERT_EQ(a->assignment(before), RdKafka::ERR_NO_ERROR);
  std::set<int> a_parts;
  for (auto* tp : before) a_parts.insert(tp->partition());
  RdKafka::TopicPartition::destroy(before);

  // A static member's close does not leave the group (KIP-345); it comes back with the same
  // instance id and gets its old partitions without the group rebalancing.
  a->close();
  a.reset();
  auto a2 = make_consumer(broker.bootstrap(), "g-stat", a_conf, &la2);
  ASSERT_EQ(a2->subscribe({"stat"}), RdKafka::ERR_NO_ERROR);
  deadline = clock_type::now() + std::chrono::seconds(60);
  while (la2.held != 2 && clock_type::now() < deadline) {
    poll_one(*a2, seen);
    poll_one(*b, seen);
  }
  ASSERT_EQ(la2.held, 2);
  std::vector<RdKafka::TopicPartition*> after;
  ASSERT_EQ(a2->assignment(after), RdKafka::ERR_NO_ERROR);
  std::set<int> a2_parts;
  for (auto* tp : after) a2_parts.insert(tp->partition());
  RdKafka::TopicPartition::destroy(after);
  EXPECT_EQ(a2_parts, a_parts);
  // Had the rejoin started a rebalance, b would have had to rejoin (revoking first, eager)
  // before a2 could get any assignment.
  EXPECT_EQ(lb.assigns, b_assigns);
  EXPECT_EQ(lb.revokes, b_revokes);
  a2->close();
  b->close();
}

TEST(RdKafkaGroups, CommittedOffsetsSurviveABrokerRestart) {
  std::vector<std::string> args = kFast;
  args.insert(args.end(), {"--set", "num.partitions=4"});
  sluice::testing::sluiced_process broker(args);
  ASSERT_GT(broker.port(), 0) << broker.log();
  produce(broker.bootstrap(), "durable", 4, 80);

  // Commit a different, explicit offset per partition, with metadata.
  const std::map<int, int64_t> want = {{0, 3}, {1, 7}, {2, 11}, {3, 19}};
  {
    auto c = make_consumer(broker.bootstrap(), "g-durable");
    std::vector<RdKafka::TopicPartition*> tps;
    for (auto [p, off] : want) tps.push_back(RdKafka::TopicPartition::create("durable", p, off));
    ASSERT_EQ(c->assign(tps), RdKafka::ERR_NO_ERROR);
    ASSERT_EQ(c->commitSync(tps), RdKafka::ERR_NO_ERROR);
    RdKafka::TopicPartition::destroy(tps);
    c->close();
  }

  ASSERT_EQ(broker.restart(), 0) << broker.log();
  ASSERT_GT(broker.port(), 0) << broker.log();

  auto c = make_consumer(broker.bootstrap(), "g-durable");
  std::vector<RdKafka::TopicPartition*> tps;
  for (int p = 0; p < 4; ++p) tps.push_back(RdKafka::TopicPartition::create("durable", p));
  ASSERT_EQ(c->committed(tps, 30000), RdKafka::ERR_NO_ERROR);
  for (auto* tp : tps) {
    EXPECT_EQ(tp->err(), RdKafka::ERR_NO_ERROR);
    EXPECT_EQ(tp->offset(), want.at(tp->partition())) << "partition " << tp->partition();
  }
  RdKafka::TopicPartition::destroy(tps);

  // A group member resumes each partition at its committed offset (20 messages each, so
  // 17 + 13 + 9 + 1 remain).
  ASSERT_EQ(c->subscribe({"durable"}), RdKafka::ERR_NO_ERROR);
  std::map<int, int64_t> first;
  int total = 0;
  auto deadline = clock_type::now() + std::chrono::seconds(60);
  while (total < 80 - 40 && clock_type::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(c->consume(100));
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    first.emplace(m->partition(), m->offset());
    ++total;
  }
  EXPECT_EQ(total, 80 - 40);
  EXPECT_EQ(first, want);
  c->close();
}

}  // namespace
