#include "src/broker/broker_metrics.h"

#include <array>
#include <map>
#include <memory>
#include <mutex>

#include "kafka/api.h"
#include "src/broker/registry.h"

namespace sluice::broker {
namespace {

constexpr int16_t kMaxKey = 127;

struct api_table {
  std::array<api_metrics, kMaxKey + 1> by_key;
  api_metrics unknown;

  api_table() {
    auto& r = metrics::registry::global();
    auto& requests = r.counters("sluice_requests_total",
                                "Kafka requests dispatched to a handler, by API.", {"api"});
    auto& errors = r.counters(
        "sluice_request_errors_total",
        "Non-zero error codes in Kafka responses (one per partition or resource), plus requests "
        "that closed the connection (malformed or unsupported), by API.",
        {"api"});
    auto& latency = r.histograms("sluice_request_latency_seconds",
                                 "Time from dispatching a Kafka request to its response, by API.",
                                 {"api"}, metrics::latency_buckets());
    auto make = [&](std::string name) {
      return api_metrics{&requests.with({name}), &errors.with({name}), &latency.with({name})};
    };
    unknown = make("unknown");
    for (auto& m : by_key) m = unknown;
    for (const handler* h : all_handlers()) {
      const kafka::api_info* info = kafka::find_api(h->api_key);
      if (info == nullptr || h->api_key < 0 || h->api_key > kMaxKey) continue;
      by_key[static_cast<size_t>(h->api_key)] = make(std::string(info->name));
    }
  }
};

}  // namespace

const api_metrics& api_metrics_for(int16_t api_key) {
  static const api_table table;
  if (api_key < 0 || api_key > kMaxKey) return table.unknown;
  return table.by_key[static_cast<size_t>(api_key)];
}

topic_metrics& topic_metrics_for(const std::string& topic) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<topic_metrics>, std::less<>> topics;
  std::lock_guard lock(mu);
  auto& slot = topics[topic];
  if (!slot) {
    auto& r = metrics::registry::global();
    slot = std::unique_ptr<topic_metrics>(new topic_metrics{
        r.counters("sluice_topic_bytes_in_total",
                   "Record batch bytes appended to a topic by Produce.", {"topic"})
            .with({topic}),
        r.counters("sluice_topic_messages_in_total", "Records appended to a topic by Produce.",
                   {"topic"})
            .with({topic}),
        r.counters("sluice_topic_bytes_out_total", "Record bytes of a topic returned by Fetch.",
                   {"topic"})
            .with({topic})});
  }
  return *slot;
}

metrics::gauge& produce_purgatory() {
  static metrics::gauge& g = metrics::registry::global().gauge_metric(
      "sluice_produce_purgatory_requests",
      "Partition writes of acks=all Produce requests waiting for their fsync.");
  return g;
}

metrics::gauge& fetch_purgatory() {
  static metrics::gauge& g = metrics::registry::global().gauge_metric(
      "sluice_fetch_purgatory_requests", "Fetch requests parked in a long poll.");
  return g;
}

}  // namespace sluice::broker
