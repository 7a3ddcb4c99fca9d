#pragma once
// The broker's metrics (src/base/metrics.h): per Kafka API, per topic, and the purgatories.
//
// Names (Prometheus conventions):
//   sluice_requests_total{api}                   requests dispatched to a handler
//   sluice_request_errors_total{api}             non-zero error codes in responses (each
//                                                partition's counts, as Kafka's ErrorsPerSec),
//                                                plus requests that closed the connection
//   sluice_request_latency_seconds{api}          dispatch to response (includes acks=all fsync
//                                                waits and fetch long polls)
//   sluice_topic_bytes_in_total{topic}           record batch bytes appended by Produce
//   sluice_topic_messages_in_total{topic}        records appended by Produce
//   sluice_topic_bytes_out_total{topic}          record bytes returned by Fetch
//   sluice_produce_purgatory_requests            acks=all partition writes waiting for fsync
//   sluice_fetch_purgatory_requests              fetches parked in a long poll
//
// Contract: look-ups that create children (api_metrics_for at startup, topic_metrics_for when
// a partition opens) take a mutex; the returned references are then updated lock-free.
//
// Thread safety: every function may be called from any thread.

#include <cstdint>
#include <string>

#include "src/base/metrics.h"

namespace sluice::broker {

struct api_metrics {
  metrics::counter* requests = nullptr;
  metrics::counter* errors = nullptr;
  metrics::histogram* latency = nullptr;
};

// The metrics of an API key (children made for every served API at first call; an API we don't
// serve, or a negative key, shares the api="unknown" children).
const api_metrics& api_metrics_for(int16_t api_key);

struct topic_metrics {
  metrics::counter& bytes_in;
  metrics::counter& messages_in;
  metrics::counter& bytes_out;
};

// A topic's counters, created on first use. Takes a mutex: call when a partition opens, not per
// request. A topic deleted and re-created keeps counting on the same children.
topic_metrics& topic_metrics_for(const std::string& topic);

metrics::gauge& produce_purgatory();
metrics::gauge& fetch_purgatory();

}  // namespace sluice::broker
