#pragma once
// The admin API's routes: maps an HTTP request to a response. Bodies are protobuf messages
// from proto/sluice/admin.proto rendered with protobuf's JSON mapping; /metrics is the
// Prometheus text format of the global registry.
//
//   GET /v1/health          200 while the process answers
//   GET /v1/ready           200 when storage is recovered and the Kafka listener is up, else 503
//   GET /v1/topics          every topic
//   GET /v1/topics/{name}   one topic with partitions (offsets, sizes) and config overrides
//   GET /v1/groups          every group (empty without a group directory)
//   GET /v1/groups/{id}     one group with members, committed offsets and lag
//   GET /v1/broker/config   every broker setting with its value and source
//   GET /metrics            Prometheus text format 0.0.4
//
// Errors: 404 unknown path/topic/group, 405 another method on a known path (with Allow),
// 400 a malformed name (bad percent-encoding, illegal topic name); JSON body admin.v1.Error.
// HEAD is answered like GET without a body. Each request counts in
// sluice_http_requests_total{route,code} (route is the pattern, not the path: bounded).
//
// Thread safety: handle() runs on the HTTP thread; it blocks while shards report partition
// state (never on a shard).

#include <atomic>
#include <string>

#include <sluice/config.h>
#include <sluice/groups.h>

#include "src/broker/broker.h"
#include "src/http/server.h"

namespace sluice::http {

// What /v1/ready reports; set by main as startup proceeds.
struct readiness {
  std::atomic<bool> storage_recovered{false};
  std::atomic<bool> listeners_up{false};
};

class admin_api {
 public:
  // `groups` may be null (no group coordinator in this build): /v1/groups is then empty.
  admin_api(broker::broker& b, const readiness& ready, group_directory* groups,
            std::string version);
  ~admin_api();
  response handle(const request& r);

 private:
  response route(const request& r, std::string& route_name);
  response topics();
  response topic(const std::string& name);
  response groups();
  response group(const std::string& id);
  response broker_config();
  response ready();

  broker::broker& _broker;
  const readiness& _ready;
  group_directory* _groups;
  std::string _version;
  std::unique_ptr<metrics::collector_handle> _lag_collector;
};

// Decodes %XX escapes (and nothing else: '+' stays); nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view s);

// Kafka's printed form of a topic id: URL-safe base64 without padding (22 characters).
std::string uuid_to_base64(const wire::uuid& id);

}  // namespace sluice::http
