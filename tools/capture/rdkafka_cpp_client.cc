// rdkafka_cpp_client.cc - librdkafka C++ API client used by capture.sh to
// produce golden request captures against the librdkafka mock broker.
//
//   rdkafka_cpp_client <bootstrap> <topic> <group>
//
// 1. For each codec (none, gzip, snappy, lz4, zstd): an idempotent producer
//    (enable.idempotence=true -> InitProducerId) produces a few small keyed
//    messages with headers and flushes.
// 2. A transactional producer runs one transaction (best effort; exercises
//    FindCoordinator(txn)/AddPartitionsToTxn/EndTxn if the mock allows it).
// 3. A KafkaConsumer subscribes with a group, polls, commits synchronously,
//    checks committed offsets and closes (LeaveGroup).
//
// Build: g++ -std=c++20 -O1 -o rdkafka_cpp_client rdkafka_cpp_client.cc -lrdkafka++ -lrdkafka
#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

bool set(RdKafka::Conf* conf, const std::string& k, const std::string& v) {
  std::string err;
  if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) {
    std::fprintf(stderr, "conf %s=%s: %s\n", k.c_str(), v.c_str(), err.c_str());
    return false;
  }
  return true;
}

std::string payload(int i) {
  // Compressible, but small: keeps each Produce request far below 64 KiB.
  std::string s = "sluice-golden-value-" + std::to_string(i) + ":";
  while (s.size() < 160) s += "abcdefgh";
  return s;
}

int produce_codec(const std::string& brokers, const std::string& topic, const std::string& codec) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  if (!set(conf.get(), "bootstrap.servers", brokers) ||
      !set(conf.get(), "client.id", "sluice-capture-cpp") ||
      !set(conf.get(), "enable.idempotence", "true") ||
      !set(conf.get(), "compression.codec", codec) || !set(conf.get(), "linger.ms", "50"))
    return 1;
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  if (!p) {
    std::fprintf(stderr, "producer: %s\n", err.c_str());
    return 1;
  }
  for (int i = 0; i < 4; i++) {
    std::string key = "key-" + codec + "-" + std::to_string(i);
    std::string val = payload(i);
    RdKafka::Headers* hdrs = RdKafka::Headers::create();
    hdrs->add("codec", codec);
    hdrs->add("seq", std::to_string(i));
    RdKafka::ErrorCode ec =
        p->produce(topic, 0, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(val.data()),
                   val.size(), key.data(), key.size(), 0, hdrs, nullptr);
    if (ec != RdKafka::ERR_NO_ERROR) {
      delete hdrs;  // ownership only transfers on success
      std::fprintf(stderr, "produce(%s): %s\n", codec.c_str(), RdKafka::err2str(ec).c_str());
    }
    p->poll(0);
  }
  RdKafka::ErrorCode ec = p->flush(10000);
  std::fprintf(stderr, "codec %s flush: %s\n", codec.c_str(), RdKafka::err2str(ec).c_str());
  return ec == RdKafka::ERR_NO_ERROR ? 0 : 1;
}

void transactional(const std::string& brokers, const std::string& topic) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  set(conf.get(), "bootstrap.servers", brokers);
  set(conf.get(), "client.id", "sluice-capture-cpp-txn");
  set(conf.get(), "transactional.id", "sluice-capture-txn");
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  if (!p) {
    std::fprintf(stderr, "txn producer: %s\n", err.c_str());
    return;
  }
  auto report = [](const char* what, RdKafka::Error* e) {
    if (e) {
      std::fprintf(stderr, "txn %s: %s\n", what, e->str().c_str());
      delete e;
      return false;
    }
    return true;
  };
  if (!report("init", p->init_transactions(10000))) return;
  if (!report("begin", p->begin_transaction())) return;
  std::string val = payload(100);
  p->produce(topic, 0, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(val.data()), val.size(),
             "txn-key", 7, 0, nullptr);
  report("commit", p->commit_transaction(10000));
}

int consume(const std::string& brokers, const std::string& topic, const std::string& group) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  if (!set(conf.get(), "bootstrap.servers", brokers) ||
      !set(conf.get(), "client.id", "sluice-capture-cpp-consumer") ||
      !set(conf.get(), "group.id", group) || !set(conf.get(), "auto.offset.reset", "earliest") ||
      !set(conf.get(), "enable.auto.commit", "false") ||
      !set(conf.get(), "heartbeat.interval.ms", "500") ||
      !set(conf.get(), "session.timeout.ms", "6000"))
    return 1;
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!c) {
    std::fprintf(stderr, "consumer: %s\n", err.c_str());
    return 1;
  }
  RdKafka::ErrorCode ec = c->subscribe({topic});
  if (ec != RdKafka::ERR_NO_ERROR) {
    std::fprintf(stderr, "subscribe: %s\n", RdKafka::err2str(ec).c_str());
    return 1;
  }
  int got = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  // Keep polling a little after the first messages so heartbeats are sent.
  std::chrono::steady_clock::time_point stop_at = deadline;
  while (std::chrono::steady_clock::now() < stop_at) {
    std::unique_ptr<RdKafka::Message> m(c->consume(200));
    if (!m) continue;
    if (m->err() == RdKafka::ERR_NO_ERROR) {
      if (got++ == 0)
        stop_at = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(2));
    } else if (m->err() != RdKafka::ERR__TIMED_OUT && m->err() != RdKafka::ERR__PARTITION_EOF) {
      std::fprintf(stderr, "consume: %s\n", m->errstr().c_str());
    }
  }
  std::fprintf(stderr, "consumed %d messages\n", got);
  ec = c->commitSync();
  std::fprintf(stderr, "commitSync: %s\n", RdKafka::err2str(ec).c_str());
  std::vector<RdKafka::TopicPartition*> parts;
  c->assignment(parts);
  if (!parts.empty()) {
    ec = c->committed(parts, 5000);
    std::fprintf(stderr, "committed: %s\n", RdKafka::err2str(ec).c_str());
  }
  RdKafka::TopicPartition::destroy(parts);
  c->close();
  return got > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s <bootstrap> <topic> <group>\n", argv[0]);
    return 2;
  }
  std::string brokers = argv[1], topic = argv[2], group = argv[3];
  int rc = 0;
  for (const char* codec : {"none", "gzip", "snappy", "lz4", "zstd"})
    rc |= produce_codec(brokers, topic, codec);
  transactional(brokers, topic);
  rc |= consume(brokers, topic, group);
  return rc;
}
