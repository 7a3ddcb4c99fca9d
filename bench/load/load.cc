#include "bench/load/load.h"

#include <librdkafka/rdkafka.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bench/load/histogram.h"
#include "bench/load/proc_sampler.h"
#include "src/base/byte_order.h"

namespace sluice::load {
namespace {

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void sleep_until_ns(int64_t t) {
  timespec ts{static_cast<time_t>(t / 1000000000), static_cast<long>(t % 1000000000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

double cpu_self_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

[[noreturn]] __attribute__((format(printf, 1, 2))) void die(const char* fmt, ...) {
  std::fputs("sluice-load: ", stderr);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
  std::exit(1);
}

void set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    die("%s=%s: %s", key.c_str(), value.c_str(), err);
  }
}

rd_kafka_conf_t* base_conf(const options& o) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", o.bootstrap);
  set(conf, "log.connection.close", "false");
  for (const auto& kv : o.extra) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) die("-X expects key=value, got '%s'", kv.c_str());
    set(conf, kv.substr(0, eq), kv.substr(eq + 1));
  }
  return conf;
}

rd_kafka_t* make_client(rd_kafka_type_t type, rd_kafka_conf_t* conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) die("rd_kafka_new: %s", err);
  return rk;
}

// CreateTopics through the admin API; an existing topic is fine.
void create_topic(rd_kafka_t* rk, const options& o) {
  char err[512];
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(o.topic.c_str(), o.partitions, 1, err, sizeof err);
  if (!nt) die("NewTopic: %s", err);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(ao, 10000, err, sizeof err);
  rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  if (!ev) die("CreateTopics: no answer in 30 s");
  if (rd_kafka_event_error(ev)) die("CreateTopics: %s", rd_kafka_event_error_string(ev));
  size_t n = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
  for (size_t i = 0; i < n; ++i) {
    auto e = rd_kafka_topic_result_error(results[i]);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      die("CreateTopics %s: %s", o.topic.c_str(), rd_kafka_err2str(e));
    }
  }
  rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(ao);
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(nt);
}

// The topic's partition count from metadata, waiting up to 10 s for it to appear.
int partition_count(rd_kafka_t* rk, rd_kafka_topic_t* rkt) {
  int64_t deadline = now_ns() + 10'000'000'000;
  for (;;) {
    const rd_kafka_metadata_t* md = nullptr;
    int n = 0;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        n = md->topics[0].partition_cnt;
      }
      rd_kafka_metadata_destroy(md);
    }
    if (n > 0) return n;
    if (now_ns() > deadline) die("topic %s has no partitions after 10 s", rd_kafka_topic_name(rkt));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

struct producer {
  rd_kafka_t* rk = nullptr;
  rd_kafka_topic_t* rkt = nullptr;
  // Written only by the delivery-report poller.
  histogram latency;
  uint64_t delivered = 0;
  uint64_t bytes = 0;
  uint64_t errors = 0;
  int64_t last_ns = 0;
  std::string first_error;
  // Written only by the sender.
  uint64_t send_errors = 0;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* p = static_cast<producer*>(opaque);
  int64_t now = now_ns();
  if (m->err) {
    ++p->errors;
    if (p->first_error.empty()) p->first_error = rd_kafka_err2str(m->err);
    return;
  }
  ++p->delivered;
  p->bytes += m->len;
  auto intended = static_cast<int64_t>(reinterpret_cast<intptr_t>(m->_private));
  p->latency.record(static_cast<uint64_t>(std::max<int64_t>(0, now - intended) / 1000));
  p->last_ns = now;
}

std::unique_ptr<producer> make_producer(const options& o) {
  auto p = std::make_unique<producer>();
  rd_kafka_conf_t* conf = base_conf(o);
  set(conf, "acks", o.acks);
  set(conf, "linger.ms", std::to_string(o.linger_ms));
  set(conf, "batch.size", std::to_string(o.batch_size));
  set(conf, "compression.type", o.compression);
  set(conf, "enable.idempotence", o.idempotence ? "true" : "false");
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_conf_set_opaque(conf, p.get());
  p->rk = make_client(RD_KAFKA_PRODUCER, conf);
  p->rkt = rd_kafka_topic_new(p->rk, o.topic.c_str(), nullptr);
  return p;
}

// Sends on a fixed schedule (rate > 0) or as fast as the client queue takes messages.
void send_loop(producer& p, int id, const options& o, int partitions, int64_t t0, int64_t end_ns,
               uint64_t count) {
  std::vector<uint8_t> payload(o.size);
  std::mt19937_64 rng(static_cast<uint64_t>(id) + 1);
  for (auto& b : payload) b = static_cast<uint8_t>(rng());
  const bool stamp = o.mode == "e2e";
  const double interval = o.rate > 0 ? 1e9 * o.producers / o.rate : 0;
  for (uint64_t i = 0; count == 0 || i < count; ++i) {
    int64_t intended =
        interval > 0 ? t0 + static_cast<int64_t>(static_cast<double>(i) * interval) : now_ns();
    if (end_ns != 0 && intended >= end_ns) break;
    if (interval > 0) sleep_until_ns(intended);
    if (stamp) be::store_u64(payload.data(), static_cast<uint64_t>(intended));
    auto part =
        static_cast<int32_t>((i * static_cast<uint64_t>(o.producers) + static_cast<uint64_t>(id)) %
                             static_cast<uint64_t>(partitions));
    for (;;) {
      if (rd_kafka_produce(p.rkt, part, RD_KAFKA_MSG_F_COPY, payload.data(), payload.size(),
                           nullptr, 0,
                           reinterpret_cast<void*>(static_cast<intptr_t>(intended))) == 0) {
        break;
      }
      if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        ++p.send_errors;
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
}

struct consumer {
  rd_kafka_t* rk = nullptr;
  rd_kafka_topic_t* rkt = nullptr;
  rd_kafka_queue_t* queue = nullptr;
  std::vector<int32_t> parts;
  histogram latency;
  uint64_t msgs = 0;
  uint64_t bytes = 0;
  uint64_t errors = 0;
  int64_t last_ns = 0;
  std::string first_error;
};

std::unique_ptr<consumer> make_consumer(const options& o) {
  auto c = std::make_unique<consumer>();
  rd_kafka_conf_t* conf = base_conf(o);
  set(conf, "enable.partition.eof", "true");
  c->rk = make_client(RD_KAFKA_CONSUMER, conf);
  c->rkt = rd_kafka_topic_new(c->rk, o.topic.c_str(), nullptr);
  c->queue = rd_kafka_queue_new(c->rk);
  return c;
}

// Reads until `stop` says so; counts into the consumer and `total`.
template <typename Stop>
void consume_loop(consumer& c, bool e2e, std::atomic<uint64_t>& total, Stop stop) {
  std::vector<rd_kafka_message_t*> batch(1024);
  std::set<int32_t> eof;
  for (;;) {
    if (stop(eof.size() == c.parts.size())) return;
    ssize_t n = rd_kafka_consume_batch_queue(c.queue, 100, batch.data(), batch.size());
    int64_t now = now_ns();
    uint64_t got = 0;
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* m = batch[static_cast<size_t>(i)];
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        eof.insert(m->partition);
      } else if (m->err) {
        ++c.errors;
        if (c.first_error.empty()) c.first_error = rd_kafka_message_errstr(m);
      } else {
        eof.erase(m->partition);
        ++got;
        c.bytes += m->len;
        if (e2e && m->len >= 8) {
          auto sent = static_cast<int64_t>(be::load_u64(static_cast<const uint8_t*>(m->payload)));
          c.latency.record(static_cast<uint64_t>(std::max<int64_t>(0, now - sent) / 1000));
        }
      }
      rd_kafka_message_destroy(m);
    }
    if (got) {
      c.msgs += got;
      c.last_ns = now;
      total += got;
    }
  }
}

std::string json_str(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) continue;
    out += ch;
  }
  return out + "\"";
}

struct totals {
  uint64_t msgs = 0;
  uint64_t bytes = 0;
  uint64_t errors = 0;
  double seconds = 0;
  histogram latency;
  histogram produce_latency;  // e2e only
  std::string first_error;
};

void report(const options& o, int partitions, const totals& t, proc_sampler* broker,
            double client_cpu_s) {
  double secs = t.seconds > 0 ? t.seconds : 1e-9;
  std::printf("{\"mode\":%s,\"topic\":%s,\"partitions\":%d,\"size\":%zu,\"acks\":%s,",
              json_str(o.mode).c_str(), json_str(o.topic).c_str(), partitions, o.size,
              json_str(o.acks).c_str());
  std::printf("\"linger_ms\":%d,\"batch_size\":%d,\"compression\":%s,\"idempotence\":%s,",
              o.linger_ms, o.batch_size, json_str(o.compression).c_str(),
              o.idempotence ? "true" : "false");
  std::printf("\"producers\":%d,\"consumers\":%d,\"target_rate\":%.0f,", o.producers, o.consumers,
              o.rate);
  std::printf(
      "\"msgs\":%llu,\"bytes\":%llu,\"seconds\":%.3f,\"msgs_per_s\":%.0f,\"mb_per_s\":%.2f,",
      static_cast<unsigned long long>(t.msgs), static_cast<unsigned long long>(t.bytes), t.seconds,
      static_cast<double>(t.msgs) / secs, static_cast<double>(t.bytes) / 1e6 / secs);
  auto lat = [](const histogram& h) {
    return "{\"p50\":" + std::to_string(h.percentile(0.5)) +
           ",\"p99\":" + std::to_string(h.percentile(0.99)) +
           ",\"p999\":" + std::to_string(h.percentile(0.999)) +
           ",\"max\":" + std::to_string(h.max()) + ",\"n\":" + std::to_string(h.count()) + "}";
  };
  std::printf("\"latency_us\":%s,", lat(t.latency).c_str());
  if (o.mode == "e2e") std::printf("\"produce_latency_us\":%s,", lat(t.produce_latency).c_str());
  std::printf("\"errors\":%llu,\"first_error\":%s,\"client_cpu_s\":%.3f",
              static_cast<unsigned long long>(t.errors), json_str(t.first_error).c_str(),
              client_cpu_s);
  if (broker) {
    double gb = static_cast<double>(t.bytes) / 1e9;
    std::printf(
        ",\"broker\":{\"pid\":%d,\"cpu_s\":%.3f,\"cpu_s_per_gb\":%.3f,"
        "\"peak_rss_bytes\":%llu,\"hwm_bytes\":%llu}",
        static_cast<int>(o.broker_pid), broker->cpu_seconds(),
        gb > 0 ? broker->cpu_seconds() / gb : 0.0,
        static_cast<unsigned long long>(broker->peak_rss_bytes()),
        static_cast<unsigned long long>(broker->hwm_bytes()));
  }
  std::printf("}\n");
  std::fflush(stdout);
}

}  // namespace

int run(const options& o) {
  // An admin/metadata handle: creates the topic and learns its partitions before timing starts.
  rd_kafka_t* admin = make_client(RD_KAFKA_PRODUCER, base_conf(o));
  if (o.partitions > 0) create_topic(admin, o);
  rd_kafka_topic_t* admin_topic = rd_kafka_topic_new(admin, o.topic.c_str(), nullptr);
  const int partitions = partition_count(admin, admin_topic);

  const bool produce = o.mode != "consume";
  const bool consume = o.mode != "produce";
  const bool e2e = o.mode == "e2e";

  std::vector<std::unique_ptr<producer>> producers;
  if (produce) {
    for (int i = 0; i < o.producers; ++i) {
      producers.push_back(make_producer(o));
      partition_count(producers.back()->rk, producers.back()->rkt);  // connect before timing
    }
  }
  std::vector<std::unique_ptr<consumer>> consumers;
  if (consume) {
    for (int i = 0; i < o.consumers; ++i) consumers.push_back(make_consumer(o));
    for (int32_t p = 0; p < partitions; ++p) {
      auto& c = *consumers[static_cast<size_t>(p % o.consumers)];
      int64_t start = RD_KAFKA_OFFSET_BEGINNING;
      if (e2e) {  // from the current end, resolved now so no message sent later is skipped
        int64_t lo = 0, hi = 0;
        auto e = rd_kafka_query_watermark_offsets(c.rk, o.topic.c_str(), p, &lo, &hi, 10000);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) die("watermarks: %s", rd_kafka_err2str(e));
        start = hi;
      }
      if (rd_kafka_consume_start_queue(c.rkt, p, start, c.queue) != 0) {
        die("consume_start: %s", rd_kafka_err2str(rd_kafka_last_error()));
      }
      c.parts.push_back(p);
    }
  }

  std::unique_ptr<proc_sampler> broker;
  if (o.broker_pid > 0) {
    broker = std::make_unique<proc_sampler>(o.broker_pid);
    if (!broker->start()) die("cannot read /proc/%d", static_cast<int>(o.broker_pid));
  }
  const double cpu0 = cpu_self_s();

  std::atomic<uint64_t> consumed{0};
  std::atomic<uint64_t> target{UINT64_MAX};  // e2e: messages the consumers wait for
  std::atomic<bool> stop_consumers{false};
  std::vector<std::thread> threads;
  if (e2e) std::this_thread::sleep_for(std::chrono::milliseconds(500));  // first fetches out
  const int64_t t0 = now_ns();
  const int64_t deadline = t0 + static_cast<int64_t>((o.duration_s + o.timeout_s) * 1e9);
  for (auto& c : consumers) {
    threads.emplace_back([&, cp = c.get()] {
      consume_loop(*cp, e2e, consumed, [&](bool all_eof) {
        if (stop_consumers.load() || now_ns() > deadline) return true;
        if (e2e) return consumed.load() >= target.load();
        return (o.count != 0 && consumed.load() >= o.count) || all_eof;
      });
    });
  }

  std::atomic<bool> stop_polling{false};
  std::vector<std::thread> senders;
  std::vector<std::thread> pollers;
  const int64_t send_end = o.duration_s > 0 ? t0 + static_cast<int64_t>(o.duration_s * 1e9) : 0;
  for (size_t i = 0; i < producers.size(); ++i) {
    producer& p = *producers[i];
    uint64_t share = 0;
    if (o.count != 0) {
      share = o.count / producers.size() + (i < o.count % producers.size() ? 1 : 0);
      if (share == 0) continue;
    }
    pollers.emplace_back([&p, &stop_polling] {
      while (!stop_polling.load()) rd_kafka_poll(p.rk, 50);
      rd_kafka_poll(p.rk, 0);
    });
    senders.emplace_back(
        [&, i, share] { send_loop(p, static_cast<int>(i), o, partitions, t0, send_end, share); });
  }
  for (auto& t : senders) t.join();
  for (auto& p : producers) {
    while (rd_kafka_outq_len(p->rk) > 0 && now_ns() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  stop_polling = true;
  for (auto& t : pollers) t.join();

  totals t;
  int64_t last = t0;
  for (auto& p : producers) {
    t.errors += p->errors + p->send_errors + rd_kafka_outq_len(p->rk);
    if (t.first_error.empty()) t.first_error = p->first_error;
    last = std::max(last, p->last_ns);
  }
  if (e2e) {
    uint64_t delivered = 0;
    for (auto& p : producers) delivered += p->delivered;
    target = delivered;
  }
  for (auto& th : threads) th.join();
  if (consume) last = t0;
  for (auto& c : consumers) last = std::max(last, c->last_ns);
  const double client_cpu = cpu_self_s() - cpu0;
  if (broker) broker->stop();
  t.seconds = static_cast<double>(last - t0) / 1e9;

  if (consume) {
    for (auto& c : consumers) {
      t.msgs += c->msgs;
      t.bytes += c->bytes;
      t.errors += c->errors;
      t.latency.merge(c->latency);
      if (t.first_error.empty()) t.first_error = c->first_error;
    }
    for (auto& p : producers) t.produce_latency.merge(p->latency);
    if (e2e && t.msgs < target.load()) {
      t.errors += target.load() - t.msgs;
      if (t.first_error.empty()) t.first_error = "messages not consumed before the timeout";
    }
  } else {
    for (auto& p : producers) {
      t.msgs += p->delivered;
      t.bytes += p->bytes;
      t.latency.merge(p->latency);
    }
  }
  report(o, partitions, t, broker.get(), client_cpu);

  for (auto& c : consumers) {
    for (int32_t p : c->parts) rd_kafka_consume_stop(c->rkt, p);
    rd_kafka_queue_destroy(c->queue);
    rd_kafka_topic_destroy(c->rkt);
    rd_kafka_destroy(c->rk);
  }
  for (auto& p : producers) {
    rd_kafka_topic_destroy(p->rkt);
    rd_kafka_destroy(p->rk);
  }
  rd_kafka_topic_destroy(admin_topic);
  rd_kafka_destroy(admin);
  return t.errors == 0 ? 0 : 1;
}

}  // namespace sluice::load
