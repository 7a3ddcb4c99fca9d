// librdkafka's transactional producer against sluiced: commit and abort seen through
// read_committed and read_uncommitted consumers, consume-transform-produce with
// send_offsets_to_transaction (the group's offset visible only after the commit), fencing by a
// second producer with the same transactional.id, a transaction the broker aborts after its
// timeout, transaction.timeout.ms above transaction.max.timeout.ms, and the median time of
// commit_transaction (printed, not asserted).

#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/sluiced_fixture.h"

namespace {

constexpr int kTimeoutMs = 30000;

std::unique_ptr<RdKafka::Conf> conf_for(const std::string& bootstrap) {
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap, err);
  return conf;
}

std::unique_ptr<RdKafka::Producer> txn_producer(const std::string& bootstrap,
                                                const std::string& txn_id,
                                                const std::string& timeout_ms = "60000") {
  std::string err;
  auto conf = conf_for(bootstrap);
  EXPECT_EQ(conf->set("transactional.id", txn_id, err), RdKafka::Conf::CONF_OK) << err;
  conf->set("transaction.timeout.ms", timeout_ms, err);
  conf->set("linger.ms", "1", err);
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  EXPECT_TRUE(p) << err;
  return p;
}

// Asserts an RdKafka::Error* is null (and frees it).
#define EXPECT_OK(call)                                         \
  do {                                                          \
    std::unique_ptr<RdKafka::Error> e_(call);                   \
    EXPECT_FALSE(e_) << #call << ": " << (e_ ? e_->str() : ""); \
  } while (0)

void produce(RdKafka::Producer& p, const std::string& topic, int partition,
             const std::string& value) {
  for (;;) {
    auto e = p.produce(topic, partition, RdKafka::Producer::RK_MSG_COPY,
                       const_cast<char*>(value.data()), value.size(), nullptr, 0, 0, nullptr);
    if (e == RdKafka::ERR_NO_ERROR) return;
    ASSERT_EQ(e, RdKafka::ERR__QUEUE_FULL) << RdKafka::err2str(e);
    p.poll(10);
  }
}

// Every value of one partition up to its end as `isolation` sees it (read_committed: the last
// stable offset).
std::vector<std::string> consume_all(const std::string& bootstrap, const std::string& topic,
                                     int partition, const std::string& isolation) {
  std::string err;
  auto conf = conf_for(bootstrap);
  conf->set("enable.partition.eof", "true", err);
  conf->set("isolation.level", isolation, err);
  std::unique_ptr<RdKafka::Consumer> c(RdKafka::Consumer::create(conf.get(), err));
  EXPECT_TRUE(c) << err;
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(c.get(), topic, nullptr, err));
  EXPECT_EQ(c->start(t.get(), partition, RdKafka::Topic::OFFSET_BEGINNING), RdKafka::ERR_NO_ERROR);
  std::vector<std::string> values;
  for (;;) {
    std::unique_ptr<RdKafka::Message> m(c->consume(t.get(), partition, 1000));
    if (m->err() == RdKafka::ERR__PARTITION_EOF) break;
    if (m->err() == RdKafka::ERR__TIMED_OUT) continue;
    EXPECT_EQ(m->err(), RdKafka::ERR_NO_ERROR) << m->errstr();
    if (m->err() != RdKafka::ERR_NO_ERROR) break;
    values.emplace_back(static_cast<const char*>(m->payload()), m->len());
  }
  c->stop(t.get(), partition);
  return values;
}

// The committed offset of group/topic/partition as a read_uncommitted client asks for it
// (OffsetFetch without require_stable): -1001 (invalid) when none.
int64_t committed(const std::string& bootstrap, const std::string& group, const std::string& topic,
                  int partition) {
  std::string err;
  auto conf = conf_for(bootstrap);
  conf->set("group.id", group, err);
  conf->set("isolation.level", "read_uncommitted", err);
  std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
  EXPECT_TRUE(c) << err;
  std::vector<RdKafka::TopicPartition*> parts = {RdKafka::TopicPartition::create(topic, partition)};
  EXPECT_EQ(c->committed(parts, kTimeoutMs), RdKafka::ERR_NO_ERROR);
  const int64_t off = parts[0]->offset();
  RdKafka::TopicPartition::destroy(parts);
  c->close();
  return off;
}

std::vector<std::string> numbered(const std::string& prefix, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

TEST(RdKafkaTransactions, CommitAndAbortAsEachIsolationLevelSeesThem) {
  sluice::testing::sluiced_process broker({"--set", "num.partitions=2"});
  ASSERT_GT(broker.port(), 0) << broker.log();
  const std::string bs = broker.bootstrap();
  auto p = txn_producer(bs, "tx-commit-abort");
  EXPECT_OK(p->init_transactions(kTimeoutMs));
  // Committed, aborted, committed again, each over both partitions.
  const std::vector<std::pair<std::string, bool>> txns = {
      {"c1-", true}, {"a1-", false}, {"c2-", true}};
  for (const auto& [prefix, commit] : txns) {
    EXPECT_OK(p->begin_transaction());
    for (const auto& v : numbered(prefix, 10)) {
      produce(*p, "t", v.back() % 2, v);
    }
    if (commit) {
      EXPECT_OK(p->commit_transaction(kTimeoutMs));
    } else {
      // abort_transaction drops what was not sent yet: make read_uncommitted see them.
      ASSERT_EQ(p->flush(kTimeoutMs), RdKafka::ERR_NO_ERROR);
      EXPECT_OK(p->abort_transaction(kTimeoutMs));
    }
  }
  p.reset();
  std::vector<std::string> committed_values, all_values;
  for (int part = 0; part < 2; ++part) {
    for (auto& v : consume_all(bs, "t", part, "read_committed")) committed_values.push_back(v);
    for (auto& v : consume_all(bs, "t", part, "read_uncommitted")) all_values.push_back(v);
  }
  std::sort(committed_values.begin(), committed_values.end());
  std::sort(all_values.begin(), all_values.end());
  std::vector<std::string> want_committed = numbered("c1-", 10), want_all;
  for (auto& v : numbered("c2-", 10)) want_committed.push_back(v);
  want_all = want_committed;
  for (auto& v : numbered("a1-", 10)) want_all.push_back(v);
  std::sort(want_committed.begin(), want_committed.end());
  std::sort(want_all.begin(), want_all.end());
  EXPECT_EQ(committed_values, want_committed);
  EXPECT_EQ(all_values, want_all);
  EXPECT_EQ(broker.stop(), 0);
}

TEST(RdKafkaTransactions, ConsumeTransformProduceCommitsOffsetsWithTheTransaction) {
  sluice::testing::sluiced_process broker(
      {"--set", "num.partitions=1", "--set", "group.initial.rebalance.delay.ms=0"});
  ASSERT_GT(broker.port(), 0) << broker.log();
  const std::string bs = broker.bootstrap();
  std::string err;
  {  // the input: 20 plain records
    auto conf = conf_for(bs);
    std::unique_ptr<RdKafka::Producer> plain(RdKafka::Producer::create(conf.get(), err));
    for (const auto& v : numbered("in-", 20)) produce(*plain, "in", 0, v);
    ASSERT_EQ(plain->flush(kTimeoutMs), RdKafka::ERR_NO_ERROR);
  }
  auto cconf = conf_for(bs);
  cconf->set("group.id", "ctp", err);
  cconf->set("enable.auto.commit", "false", err);
  cconf->set("auto.offset.reset", "earliest", err);
  cconf->set("isolation.level", "read_committed", err);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(cconf.get(), err));
  ASSERT_TRUE(consumer) << err;
  ASSERT_EQ(consumer->subscribe({"in"}), RdKafka::ERR_NO_ERROR);
  auto p = txn_producer(bs, "tx-ctp");
  EXPECT_OK(p->init_transactions(kTimeoutMs));

  int64_t last_committed = RdKafka::Topic::OFFSET_INVALID;
  // Reads `n` records, produces them transformed in one transaction with the consumer's
  // position as the group's offset; commits or aborts.
  auto step = [&](int n, bool commit) {
    EXPECT_OK(p->begin_transaction());
    int got = 0;
    while (got < n) {
      std::unique_ptr<RdKafka::Message> m(consumer->consume(1000));
      if (m->err() == RdKafka::ERR__TIMED_OUT || m->err() == RdKafka::ERR__PARTITION_EOF) continue;
      ASSERT_EQ(m->err(), RdKafka::ERR_NO_ERROR) << m->errstr();
      std::string v(static_cast<const char*>(m->payload()), m->len());
      produce(*p, "out", 0, "out-" + v.substr(3));
      ++got;
    }
    std::vector<RdKafka::TopicPartition*> pos;
    ASSERT_EQ(consumer->assignment(pos), RdKafka::ERR_NO_ERROR);
    ASSERT_EQ(consumer->position(pos), RdKafka::ERR_NO_ERROR);
    std::unique_ptr<RdKafka::ConsumerGroupMetadata> meta(consumer->groupMetadata());
    EXPECT_OK(p->send_offsets_to_transaction(pos, meta.get(), kTimeoutMs));
    RdKafka::TopicPartition::destroy(pos);
    // Held pending: not visible before the transaction ends.
    EXPECT_EQ(committed(bs, "ctp", "in", 0), last_committed);
    if (commit) {
      EXPECT_OK(p->commit_transaction(kTimeoutMs));
    } else {
      ASSERT_EQ(p->flush(kTimeoutMs), RdKafka::ERR_NO_ERROR);
      EXPECT_OK(p->abort_transaction(kTimeoutMs));
    }
  };
  step(10, true);
  last_committed = 10;
  EXPECT_EQ(committed(bs, "ctp", "in", 0), 10);
  EXPECT_EQ(consume_all(bs, "out", 0, "read_committed"), numbered("out-", 10));
  // Aborted: neither the output nor the offset.
  step(5, false);
  EXPECT_EQ(committed(bs, "ctp", "in", 0), 10);
  EXPECT_EQ(consume_all(bs, "out", 0, "read_committed"), numbered("out-", 10));
  EXPECT_EQ(consume_all(bs, "out", 0, "read_uncommitted").size(), 15u);
  // As an application does after an abort: back to the committed offset, then the rest.
  std::unique_ptr<RdKafka::TopicPartition> back(RdKafka::TopicPartition::create("in", 0, 10));
  ASSERT_EQ(consumer->seek(*back, kTimeoutMs), RdKafka::ERR_NO_ERROR);
  step(10, true);
  EXPECT_EQ(committed(bs, "ctp", "in", 0), 20);
  EXPECT_EQ(consume_all(bs, "out", 0, "read_committed"), numbered("out-", 20));
  consumer->close();
  p.reset();
  EXPECT_EQ(broker.stop(), 0);
}

TEST(RdKafkaTransactions, ASecondProducerWithTheSameIdFencesTheFirst) {
  sluice::testing::sluiced_process broker({"--set", "num.partitions=1"});
  ASSERT_GT(broker.port(), 0) << broker.log();
  const std::string bs = broker.bootstrap();
  auto a = txn_producer(bs, "tx-fence");
  EXPECT_OK(a->init_transactions(kTimeoutMs));
  EXPECT_OK(a->begin_transaction());
  for (const auto& v : numbered("zombie-", 5)) produce(*a, "f", 0, v);
  ASSERT_EQ(a->flush(kTimeoutMs), RdKafka::ERR_NO_ERROR);
  // The second instance: its InitProducerId aborts the first one's open transaction.
  auto b = txn_producer(bs, "tx-fence");
  EXPECT_OK(b->init_transactions(kTimeoutMs));
  EXPECT_OK(b->begin_transaction());
  for (const auto& v : numbered("b-", 5)) produce(*b, "f", 0, v);
  EXPECT_OK(b->commit_transaction(kTimeoutMs));
  // The first one is fenced: its commit fails, fatally.
  std::unique_ptr<RdKafka::Error> e(a->commit_transaction(kTimeoutMs));
  ASSERT_TRUE(e) << "a fenced producer must not commit";
  EXPECT_TRUE(e->is_fatal()) << e->str();
  EXPECT_EQ(consume_all(bs, "f", 0, "read_committed"), numbered("b-", 5));
  EXPECT_EQ(consume_all(bs, "f", 0, "read_uncommitted").size(), 10u);
  a.reset();
  b.reset();
  EXPECT_EQ(broker.stop(), 0);
}

TEST(RdKafkaTransactions, TheBrokerAbortsATransactionPastItsTimeout) {
  sluice::testing::sluiced_process broker({"--set", "num.partitions=1"});
  ASSERT_GT(broker.port(), 0) << broker.log();
  const std::string bs = broker.bootstrap();
  // The topic first: the transaction timeout also bounds message delivery (message.timeout.ms).
  // 3 s rather than less, so a slow machine still delivers "late" before the broker aborts.
  {
    std::string err;
    auto conf = conf_for(bs);
    std::unique_ptr<RdKafka::Producer> plain(RdKafka::Producer::create(conf.get(), err));
    produce(*plain, "to", 0, "seed");
    ASSERT_EQ(plain->flush(kTimeoutMs), RdKafka::ERR_NO_ERROR);
  }
  auto p = txn_producer(bs, "tx-timeout", "3000");
  EXPECT_OK(p->init_transactions(kTimeoutMs));
  EXPECT_OK(p->begin_transaction());
  produce(*p, "to", 0, "late");
  ASSERT_EQ(p->flush(kTimeoutMs), RdKafka::ERR_NO_ERROR);
  // Waits for the broker's abort (an event, not a duration; the loop only bounds a hang).
  for (int i = 0; i < 600 && broker.log().find("timed out after") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(broker.log().find("timed out after"), std::string::npos) << "never aborted";
  std::unique_ptr<RdKafka::Error> e(p->commit_transaction(kTimeoutMs));
  ASSERT_TRUE(e) << "a transaction the broker aborted must not commit";
  EXPECT_EQ(consume_all(bs, "to", 0, "read_committed"), std::vector<std::string>{"seed"});
  EXPECT_EQ(consume_all(bs, "to", 0, "read_uncommitted"),
            (std::vector<std::string>{"seed", "late"}));
  p.reset();
  EXPECT_EQ(broker.stop(), 0);
}

TEST(RdKafkaTransactions, TimeoutAboveTheBrokerMaximumIsRefused) {
  sluice::testing::sluiced_process broker({"--set", "transaction.max.timeout.ms=5000"});
  ASSERT_GT(broker.port(), 0) << broker.log();
  auto p = txn_producer(broker.bootstrap(), "tx-too-long", "10000");
  std::unique_ptr<RdKafka::Error> e(p->init_transactions(kTimeoutMs));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code(), RdKafka::ERR_INVALID_TRANSACTION_TIMEOUT) << e->str();
  p.reset();
  EXPECT_EQ(broker.stop(), 0);
}

TEST(RdKafkaTransactions, CommitLatency) {
  sluice::testing::sluiced_process broker({"--set", "num.partitions=1", "--log-level", "info"});
  ASSERT_GT(broker.port(), 0) << broker.log();
  const std::string bs = broker.bootstrap();
  auto p = txn_producer(bs, "tx-latency");
  EXPECT_OK(p->init_transactions(kTimeoutMs));
  constexpr int kTxns = 100;
  std::vector<double> commit_us;
  for (int i = 0; i < kTxns; ++i) {
    EXPECT_OK(p->begin_transaction());
    produce(*p, "lat", 0, "v" + std::to_string(i));
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_OK(p->commit_transaction(kTimeoutMs));
    commit_us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(commit_us.begin(), commit_us.end());
  std::printf("commit_transaction (1 record, includes its produce): median %.0f us, p90 %.0f us\n",
              commit_us[kTxns / 2], commit_us[kTxns * 9 / 10]);
  EXPECT_EQ(consume_all(bs, "lat", 0, "read_committed").size(), static_cast<size_t>(kTxns));
  p.reset();
  EXPECT_EQ(broker.stop(), 0);
}

}  // namespace
