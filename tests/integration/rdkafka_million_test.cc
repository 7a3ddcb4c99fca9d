// librdkafka C++ (Debian's 2.0.2): 1,000,000 messages produced with acks=all across 8
// partitions and consumed back exactly (count, order per partition, payload checksum).
//
// Each payload names its partition and its sequence number within the partition, so the
// consumer checks order without trusting offsets; a running FNV-1a per partition over the
// payloads, in order, must equal the producer's. The consumer uses assign() (no group).
// Elapsed times are printed, never asserted.

#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/sluiced_fixture.h"

namespace {

constexpr int kPartitions = 8;
constexpr int64_t kMessages = 1000000;
constexpr size_t kPayloadBytes = 100;
const std::string kTopic = "million";

uint64_t fnv1a(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}
constexpr uint64_t kFnvSeed = 0xcbf29ce484222325ull;

// "p<partition> s<sequence> " then filler that depends on both, padded to kPayloadBytes.
std::string payload(int partition, int64_t seq) {
  char head[48];
  int n = std::snprintf(head, sizeof head, "p%d s%09lld ", partition, static_cast<long long>(seq));
  std::string out(head, static_cast<size_t>(n));
  out.resize(kPayloadBytes, static_cast<char>('a' + (seq * 7 + partition) % 26));
  return out;
}

class delivery_counter : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    if (m.err() == RdKafka::ERR_NO_ERROR) {
      ++ok;
    } else if (failed++ == 0) {
      first_error = m.errstr();
    }
  }
  std::atomic<int64_t> ok{0};
  std::atomic<int64_t> failed{0};
  std::string first_error;
};

std::unique_ptr<RdKafka::Conf> make_conf(const std::string& bootstrap,
                                         std::vector<std::pair<std::string, std::string>> kv) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  kv.emplace_back("bootstrap.servers", bootstrap);
  for (auto& [k, v] : kv) {
    EXPECT_EQ(conf->set(k, v, err), RdKafka::Conf::CONF_OK) << k << ": " << err;
  }
  return conf;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

TEST(RdKafkaMillion, AcksAllEightPartitionsConsumedBackExactly) {
  sluice::testing::sluiced_process broker(
      {"--log-level", "info", "--set", "num.partitions=" + std::to_string(kPartitions)});
  ASSERT_GT(broker.port(), 0) << broker.log();
  std::string err;

  // Produce: explicit partitions, big batches, acks=all (durable before acknowledged).
  std::array<uint64_t, kPartitions> sent_sum;
  sent_sum.fill(kFnvSeed);
  delivery_counter dr;
  auto pconf = make_conf(broker.bootstrap(), {{"acks", "all"},
                                              {"linger.ms", "20"},
                                              {"batch.num.messages", "10000"},
                                              {"batch.size", "1000000"},
                                              {"queue.buffering.max.messages", "1000000"},
                                              {"queue.buffering.max.kbytes", "1048576"},
                                              {"max.in.flight.requests.per.connection", "5"},
                                              {"message.timeout.ms", "300000"}});
  ASSERT_EQ(pconf->set("dr_cb", &dr, err), RdKafka::Conf::CONF_OK) << err;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(pconf.get(), err));
  ASSERT_TRUE(producer) << err;
  const auto produce_start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < kMessages; ++i) {
    const int partition = static_cast<int>(i % kPartitions);
    const std::string value = payload(partition, i / kPartitions);
    sent_sum[partition] = fnv1a(sent_sum[partition], value.data(), value.size());
    for (;;) {
      auto rc =
          producer->produce(kTopic, partition, RdKafka::Producer::RK_MSG_COPY,
                            const_cast<char*>(value.data()), value.size(), nullptr, 0, 0, nullptr);
      if (rc == RdKafka::ERR_NO_ERROR) break;
      ASSERT_EQ(rc, RdKafka::ERR__QUEUE_FULL) << RdKafka::err2str(rc);
      producer->poll(10);
    }
    if (i % 10000 == 0) producer->poll(0);
  }
  // flush() returns when every message has its delivery report (or its timeout passes).
  ASSERT_EQ(producer->flush(300000), RdKafka::ERR_NO_ERROR);
  const double produce_s = seconds_since(produce_start);
  EXPECT_EQ(dr.failed.load(), 0) << dr.first_error;
  ASSERT_EQ(dr.ok.load(), kMessages);
  producer.reset();

  // Consume every partition from the beginning with assign().
  auto cconf = make_conf(broker.bootstrap(), {{"group.id", "million-assign"},
                                              {"enable.auto.commit", "false"},
                                              {"enable.auto.offset.store", "false"},
                                              {"fetch.max.bytes", "52428800"},
                                              {"max.partition.fetch.bytes", "8388608"},
                                              {"fetch.wait.max.ms", "100"},
                                              {"queued.max.messages.kbytes", "262144"}});
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(cconf.get(), err));
  ASSERT_TRUE(consumer) << err;
  std::vector<RdKafka::TopicPartition*> parts;
  for (int p = 0; p < kPartitions; ++p) {
    parts.push_back(RdKafka::TopicPartition::create(kTopic, p, RdKafka::Topic::OFFSET_BEGINNING));
  }
  ASSERT_EQ(consumer->assign(parts), RdKafka::ERR_NO_ERROR);
  RdKafka::TopicPartition::destroy(parts);

  std::array<uint64_t, kPartitions> got_sum;
  got_sum.fill(kFnvSeed);
  std::array<int64_t, kPartitions> next_seq{};
  std::array<int64_t, kPartitions> next_offset{};
  int64_t received = 0, out_of_order = 0, bad_offsets = 0, errors = 0;
  std::string first_problem;
  const auto consume_start = std::chrono::steady_clock::now();
  auto last_progress = consume_start;
  // Stops when everything arrived, or after 60 s without a single new message (a hang must
  // fail the test rather than block it; this bounds waiting, it asserts no speed).
  while (received < kMessages && seconds_since(last_progress) < 60) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
    if (m->err() == RdKafka::ERR__TIMED_OUT || m->err() == RdKafka::ERR__PARTITION_EOF) continue;
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      if (errors++ == 0) first_problem = m->errstr();
      continue;
    }
    last_progress = std::chrono::steady_clock::now();
    const int p = m->partition();
    ASSERT_TRUE(p >= 0 && p < kPartitions);
    const std::string value(static_cast<const char*>(m->payload()), m->len());
    if (value != payload(p, next_seq[p])) {
      if (out_of_order++ == 0)
        first_problem = "partition " + std::to_string(p) + ": got '" + value.substr(0, 20) +
                        "' for sequence " + std::to_string(next_seq[p]);
    }
    if (m->offset() != next_offset[p]) ++bad_offsets;
    got_sum[p] = fnv1a(got_sum[p], value.data(), value.size());
    ++next_seq[p];
    next_offset[p] = m->offset() + 1;
    ++received;
  }
  const double consume_s = seconds_since(consume_start);
  consumer->close();
  consumer.reset();

  EXPECT_EQ(received, kMessages);
  EXPECT_EQ(out_of_order, 0) << first_problem;
  EXPECT_EQ(bad_offsets, 0);
  EXPECT_EQ(errors, 0) << first_problem;
  for (int p = 0; p < kPartitions; ++p) {
    EXPECT_EQ(next_seq[p], kMessages / kPartitions) << "partition " << p;
    EXPECT_EQ(got_sum[p], sent_sum[p]) << "partition " << p;
  }
  std::printf(
      "1,000,000 x %zu B, acks=all, 8 partitions: produce %.1f s (%.0f msg/s), "
      "consume %.1f s (%.0f msg/s)\n",
      kPayloadBytes, produce_s, kMessages / produce_s, consume_s, kMessages / consume_s);
  EXPECT_EQ(broker.stop(), 0) << broker.log().substr(0, 4000);
}

}  // namespace
