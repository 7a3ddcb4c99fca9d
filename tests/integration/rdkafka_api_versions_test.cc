// librdkafka (Debian's librdkafka++ 2.0.2) negotiates API versions with sluiced.
//
// librdkafka sends ApiVersions v3 first and logs the broker's answer under debug=feature; the
// test checks the client parsed our response (no fallback to the 0.9 defaults).

#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

#include "tests/integration/sluiced_fixture.h"

namespace {

class log_collector : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& e) override {
    if (e.type() != RdKafka::Event::EVENT_LOG) return;
    std::lock_guard lock(_mu);
    _lines += e.str() + "\n";
  }
  std::string lines() {
    std::lock_guard lock(_mu);
    return _lines;
  }

 private:
  std::mutex _mu;
  std::string _lines;
};

TEST(RdKafkaApiVersions, ClientParsesOurApiVersionsResponse) {
  sluice::testing::sluiced_process broker;
  ASSERT_GT(broker.port(), 0) << broker.log();

  log_collector logs;
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  ASSERT_EQ(conf->set("bootstrap.servers", broker.bootstrap(), err), RdKafka::Conf::CONF_OK);
  ASSERT_EQ(conf->set("debug", "broker,feature,protocol", err), RdKafka::Conf::CONF_OK);
  ASSERT_EQ(conf->set("event_cb", &logs, err), RdKafka::Conf::CONF_OK);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  ASSERT_TRUE(producer) << err;

  const std::string expected = "ApiVersion (18) Versions 0..4";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline &&
         logs.lines().find(expected) == std::string::npos) {
    producer->poll(100);
  }
  std::string lines = logs.lines();
  EXPECT_NE(lines.find(expected), std::string::npos) << lines.substr(0, 8000);
  // librdkafka sends v3 with its software name; our log keeps it (debug level).
  EXPECT_NE(broker.log().find("librdkafka"), std::string::npos) << broker.log();
  producer.reset();
  EXPECT_EQ(broker.stop(), 0) << broker.log();
}

}  // namespace
