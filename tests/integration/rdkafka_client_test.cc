// librdkafka (Debian's 2.0.2) against sluiced: admin create/describe/alter/delete through the C
// admin API, max.message.bytes rejection as the producer sees it, and a fetch that starts in
// the middle of a record batch (the broker sends the whole batch; the client skips ahead).

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/sluiced_fixture.h"

namespace {

std::unique_ptr<RdKafka::Producer> make_producer(const std::string& bootstrap,
                                                 RdKafka::DeliveryReportCb* dr,
                                                 std::map<std::string, std::string> extra = {}) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  extra["bootstrap.servers"] = bootstrap;
  for (auto& [k, v] : extra) {
    EXPECT_EQ(conf->set(k, v, err), RdKafka::Conf::CONF_OK) << err;
  }
  if (dr != nullptr) {
    EXPECT_EQ(conf->set("dr_cb", dr, err), RdKafka::Conf::CONF_OK) << err;
  }
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  EXPECT_TRUE(p) << err;
  return p;
}

// Waits for the admin result event of `type` on `q` (owned by the caller afterwards).
rd_kafka_event_t* wait_result(rd_kafka_queue_t* q, rd_kafka_event_type_t type) {
  for (int i = 0; i < 600; ++i) {
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 100);
    if (ev == nullptr) continue;
    if (rd_kafka_event_type(ev) == type) return ev;
    rd_kafka_event_destroy(ev);
  }
  return nullptr;
}

class admin {
 public:
  explicit admin(rd_kafka_t* rk) : _rk(rk), _q(rd_kafka_queue_new(rk)) {}
  ~admin() { rd_kafka_queue_destroy(_q); }

  rd_kafka_resp_err_t create(const std::string& topic, int partitions,
                             std::map<std::string, std::string> configs) {
    char err[256];
    rd_kafka_NewTopic_t* t = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err, sizeof err);
    for (auto& [k, v] : configs) rd_kafka_NewTopic_set_config(t, k.c_str(), v.c_str());
    rd_kafka_CreateTopics(_rk, &t, 1, nullptr, _q);
    rd_kafka_NewTopic_destroy(t);
    return topic_result(RD_KAFKA_EVENT_CREATETOPICS_RESULT);
  }

  rd_kafka_resp_err_t remove(const std::string& topic) {
    rd_kafka_DeleteTopic_t* t = rd_kafka_DeleteTopic_new(topic.c_str());
    rd_kafka_DeleteTopics(_rk, &t, 1, nullptr, _q);
    rd_kafka_DeleteTopic_destroy(t);
    return topic_result(RD_KAFKA_EVENT_DELETETOPICS_RESULT);
  }

  std::map<std::string, std::string> describe(const std::string& topic) {
    rd_kafka_ConfigResource_t* r =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
    rd_kafka_DescribeConfigs(_rk, &r, 1, nullptr, _q);
    rd_kafka_ConfigResource_destroy(r);
    std::map<std::string, std::string> out;
    rd_kafka_event_t* ev = wait_result(_q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT);
    EXPECT_NE(ev, nullptr);
    if (ev == nullptr) return out;
    size_t n = 0;
    const rd_kafka_ConfigResource_t** res =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
    EXPECT_EQ(n, 1u);
    if (n == 1) {
      EXPECT_EQ(rd_kafka_ConfigResource_error(res[0]), RD_KAFKA_RESP_ERR_NO_ERROR);
      size_t count = 0;
      const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(res[0], &count);
      for (size_t i = 0; i < count; ++i) {
        const char* v = rd_kafka_ConfigEntry_value(entries[i]);
        out[rd_kafka_ConfigEntry_name(entries[i])] = v != nullptr ? v : "";
      }
    }
    rd_kafka_event_destroy(ev);
    return out;
  }

  rd_kafka_resp_err_t alter(const std::string& topic, std::map<std::string, std::string> configs) {
    rd_kafka_ConfigResource_t* r =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
    for (auto& [k, v] : configs) rd_kafka_ConfigResource_set_config(r, k.c_str(), v.c_str());
    rd_kafka_AlterConfigs(_rk, &r, 1, nullptr, _q);
    rd_kafka_ConfigResource_destroy(r);
    rd_kafka_event_t* ev = wait_result(_q, RD_KAFKA_EVENT_ALTERCONFIGS_RESULT);
    if (ev == nullptr) return RD_KAFKA_RESP_ERR__TIMED_OUT;
    rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
    size_t n = 0;
    const rd_kafka_ConfigResource_t** res =
        rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &n);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && n == 1) e = rd_kafka_ConfigResource_error(res[0]);
    rd_kafka_event_destroy(ev);
    return e;
  }

 private:
  rd_kafka_resp_err_t topic_result(rd_kafka_event_type_t type) {
    rd_kafka_event_t* ev = wait_result(_q, type);
    if (ev == nullptr) return RD_KAFKA_RESP_ERR__TIMED_OUT;
    rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t** res =
        type == RD_KAFKA_EVENT_CREATETOPICS_RESULT
            ? rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n)
            : rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && n == 1) e = rd_kafka_topic_result_error(res[0]);
    rd_kafka_event_destroy(ev);
    return e;
  }

  rd_kafka_t* _rk;
  rd_kafka_queue_t* _q;
};

bool topic_listed(RdKafka::Producer& p, const std::string& topic) {
  RdKafka::Metadata* md = nullptr;
  EXPECT_EQ(p.metadata(true, nullptr, &md, 10000), RdKafka::ERR_NO_ERROR);
  bool found = false;
  for (const auto* t : *md->topics()) found |= t->topic() == topic;
  delete md;
  return found;
}

TEST(RdKafkaAdmin, CreateDescribeAlterDelete) {
  sluice::testing::sluiced_process broker;
  ASSERT_GT(broker.port(), 0) << broker.log();
  auto p = make_producer(broker.bootstrap(), nullptr);
  admin a(p->c_ptr());
  ASSERT_EQ(a.create("admin-topic", 4, {{"retention.ms", "3600000"}}), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(a.create("admin-topic", 4, {}), RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
  EXPECT_EQ(a.create("bad/name", 1, {}), RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION);
  EXPECT_TRUE(topic_listed(*p, "admin-topic"));
  auto configs = a.describe("admin-topic");
  EXPECT_EQ(configs["retention.ms"], "3600000");
  EXPECT_EQ(configs["cleanup.policy"], "delete");
  ASSERT_EQ(a.alter("admin-topic", {{"retention.ms", "7200000"}}), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(a.describe("admin-topic")["retention.ms"], "7200000");
  EXPECT_EQ(a.alter("admin-topic", {{"retention.ms", "soon"}}), RD_KAFKA_RESP_ERR_INVALID_CONFIG);
  ASSERT_EQ(a.remove("admin-topic"), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_FALSE(topic_listed(*p, "admin-topic"));
  EXPECT_EQ(a.remove("admin-topic"), RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  p.reset();
  EXPECT_EQ(broker.stop(), 0) << broker.log().substr(0, 4000);
}

class delivery_errors : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override { errors.push_back(m.err()); }
  std::vector<RdKafka::ErrorCode> errors;
};

TEST(RdKafkaProduce, MaxMessageBytesRejected) {
  sluice::testing::sluiced_process broker;
  ASSERT_GT(broker.port(), 0) << broker.log();
  delivery_errors dr;
  auto p = make_producer(broker.bootstrap(), &dr, {{"acks", "all"}, {"retries", "0"}});
  {
    admin a(p->c_ptr());
    ASSERT_EQ(a.create("small", 1, {{"max.message.bytes", "1000"}}), RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  std::string big(5000, 'x'), fine(100, 'y');
  for (const std::string* v : {&big, &fine}) {
    ASSERT_EQ(p->produce("small", 0, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(v->data()),
                         v->size(), nullptr, 0, 0, nullptr),
              RdKafka::ERR_NO_ERROR);
    ASSERT_EQ(p->flush(30000), RdKafka::ERR_NO_ERROR);
  }
  ASSERT_EQ(dr.errors.size(), 2u);
  EXPECT_EQ(dr.errors[0], RdKafka::ERR_MSG_SIZE_TOO_LARGE);
  EXPECT_EQ(dr.errors[1], RdKafka::ERR_NO_ERROR);
  p.reset();
  EXPECT_EQ(broker.stop(), 0) << broker.log().substr(0, 4000);
}

TEST(RdKafkaFetch, StartsInTheMiddleOfABatch) {
  sluice::testing::sluiced_process broker;
  ASSERT_GT(broker.port(), 0) << broker.log();
  delivery_errors dr;
  // One batch of ten: all ten are queued well within linger.ms, so librdkafka sends them as one
  // record batch, and offset 5 lies inside it.
  auto p = make_producer(broker.bootstrap(), &dr, {{"linger.ms", "500"}, {"acks", "all"}});
  for (int i = 0; i < 10; ++i) {
    std::string v = "m" + std::to_string(i);
    ASSERT_EQ(p->produce("mid", 0, RdKafka::Producer::RK_MSG_COPY, v.data(), v.size(), nullptr, 0,
                         0, nullptr),
              RdKafka::ERR_NO_ERROR);
  }
  ASSERT_EQ(p->flush(30000), RdKafka::ERR_NO_ERROR);
  ASSERT_EQ(dr.errors, std::vector<RdKafka::ErrorCode>(10, RdKafka::ERR_NO_ERROR));
  p.reset();

  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  conf->set("bootstrap.servers", broker.bootstrap(), err);
  conf->set("group.id", "mid-assign", err);
  conf->set("enable.auto.commit", "false", err);
  std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
  ASSERT_TRUE(c) << err;
  std::vector<RdKafka::TopicPartition*> parts = {RdKafka::TopicPartition::create("mid", 0, 5)};
  ASSERT_EQ(c->assign(parts), RdKafka::ERR_NO_ERROR);
  RdKafka::TopicPartition::destroy(parts);
  std::vector<std::pair<int64_t, std::string>> got;
  for (int i = 0; i < 200 && got.size() < 5; ++i) {
    std::unique_ptr<RdKafka::Message> m(c->consume(100));
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    got.emplace_back(m->offset(), std::string(static_cast<const char*>(m->payload()), m->len()));
  }
  c->close();
  std::vector<std::pair<int64_t, std::string>> want;
  for (int i = 5; i < 10; ++i) want.emplace_back(i, "m" + std::to_string(i));
  EXPECT_EQ(got, want);
  EXPECT_EQ(broker.stop(), 0) << broker.log().substr(0, 4000);
}

}  // namespace
