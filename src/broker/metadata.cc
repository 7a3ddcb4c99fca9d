// Metadata (key 3): this broker, and the topics asked for (all when the list is null, or empty
// before v1). Sluice is one broker: it leads every partition and is the whole ISR.
//
// Unknown topics are created when the request allows it (always before v4) and
// auto.create.topics.enable is on; otherwise they get UNKNOWN_TOPIC_OR_PARTITION (or
// UNKNOWN_TOPIC_ID when asked for by id, v10+). An illegal name gets INVALID_TOPIC_EXCEPTION.

#include "kafka/metadata.h"

#include "src/broker/broker.h"
#include "src/broker/handler.h"
#include "src/broker/topic_names.h"

namespace sluice::broker {
namespace {

using kafka::metadata_request;
using kafka::metadata_response;

void add_topic(metadata_response& resp, const topic_entry& t, int32_t node_id) {
  auto& out = resp.topics.emplace_back();
  out.name = t.name;
  out.topic_id = t.id;
  for (int32_t p = 0; p < t.partitions; ++p) {
    auto& part = out.partitions.emplace_back();
    part.partition_index = p;
    part.leader_id = node_id;
    part.leader_epoch = 0;
    part.replica_nodes = {node_id};
    part.isr_nodes = {node_id};
  }
}

void add_error(metadata_response& resp, std::optional<std::string> name, const wire::uuid& id,
               kafka::error e) {
  auto& out = resp.topics.emplace_back();
  out.name = std::move(name);
  out.topic_id = id;
  out.error_code = kafka::code(e);
}

struct pending {
  metadata_response resp;
  std::vector<std::string> to_create;  // in request order, after the ones already known
};

void answer(request_context& ctx, const metadata_request& req, const topic_map& topics,
            responder<metadata_response> reply, bool may_create);

void handle(request_context& ctx, metadata_request& req, responder<metadata_response> reply) {
  // Auto-creation is allowed by the request from v4 (before, clients relied on it always).
  bool may_create = ctx.owner.cfg().auto_create_topics_enable &&
                    (ctx.version() < 4 || req.allow_auto_topic_creation);
  answer(ctx, req, *ctx.owner.topics().snapshot(), std::move(reply), may_create);
}

void answer(request_context& ctx, const metadata_request& req, const topic_map& topics,
            responder<metadata_response> reply, bool may_create) {
  broker& b = ctx.owner;
  const int32_t node_id = b.cfg().node_id;
  metadata_response resp;
  auto& me = resp.brokers.emplace_back();
  me.node_id = node_id;
  me.host = b.advertised_host();
  me.port = b.advertised_port();
  resp.cluster_id = b.cluster_id();
  resp.controller_id = node_id;

  const bool all = !req.topics.has_value() || (ctx.version() == 0 && req.topics->empty());
  if (all) {
    for (const auto& [name, t] : topics) add_topic(resp, *t, node_id);
    return reply(std::move(resp));
  }
  std::vector<topic_spec> create;
  for (const auto& want : *req.topics) {
    if (!want.name) {  // by id (v10+)
      auto it = std::find_if(topics.begin(), topics.end(),
                             [&](const auto& kv) { return kv.second->id == want.topic_id; });
      if (it == topics.end()) {
        add_error(resp, std::nullopt, want.topic_id, kafka::error::unknown_topic_id);
      } else {
        add_topic(resp, *it->second, node_id);
      }
      continue;
    }
    auto it = topics.find(*want.name);
    if (it != topics.end()) {
      add_topic(resp, *it->second, node_id);
    } else if (!validate_topic_name(*want.name).empty()) {
      add_error(resp, want.name, {}, kafka::error::invalid_topic_exception);
    } else if (may_create) {
      create.push_back({*want.name, -1, -1, {}, false});
    } else {
      add_error(resp, want.name, {}, kafka::error::unknown_topic_or_partition);
    }
  }
  if (create.empty()) return reply(std::move(resp));

  unsigned shard = ctx.conn.shard;
  b.topics().create(std::move(create),
                    [&b, shard, resp = std::move(resp),
                     reply = std::move(reply)](std::vector<topic_outcome> outcomes) mutable {
                      b.post(shard, [&b, resp = std::move(resp), reply = std::move(reply),
                                     outcomes = std::move(outcomes)]() mutable {
                        for (const auto& o : outcomes) {
                          if (o.topic) {
                            add_topic(resp, *o.topic, b.cfg().node_id);
                          } else if (o.error == kafka::error::topic_already_exists) {
                            // Created meanwhile by another request: answer from the newest
                            // snapshot.
                            auto snap = b.topics().snapshot();
                            auto it = snap->find(o.name);
                            if (it != snap->end()) {
                              add_topic(resp, *it->second, b.cfg().node_id);
                            } else {
                              add_error(resp, o.name, {}, kafka::error::leader_not_available);
                            }
                          } else {
                            add_error(resp, o.name, {}, o.error);
                          }
                        }
                        reply(std::move(resp));
                      });
                    });
}

}  // namespace

extern const handler metadata_handler = {
    metadata_request::api_key, 0, 12, &typed_handle<metadata_request, metadata_response, &handle>};

}  // namespace sluice::broker
