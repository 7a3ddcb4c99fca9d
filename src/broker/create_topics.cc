// CreateTopics (key 19, v2-7): validate-only, configs, partition counts, replication factor 1
// or -1 (others: INVALID_REPLICATION_FACTOR with a message), Kafka's topic name rules.
// Manual replica assignments must name only this broker.

#include "kafka/create_topics.h"

#include "src/broker/broker.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::create_topics_request;
using kafka::create_topics_response;

void fill_result(create_topics_response::creatable_topic_result& out, const topic_outcome& o,
                 int16_t version) {
  out.name = o.name;
  out.error_code = kafka::code(o.error);
  if (o.error != kafka::error::none) {
    out.error_message = o.message;
    return;
  }
  out.error_message = std::nullopt;  // Kafka sends null on success
  out.topic_id = o.topic->id;
  out.num_partitions = o.topic->partitions;
  out.replication_factor = 1;
  if (version >= 5) {
    auto& configs = out.configs.emplace();
    for (const auto& [name, value] : o.topic->configs) {
      auto& c = configs.emplace_back();
      c.name = name;
      c.value = value;
      c.config_source = 1;  // DYNAMIC_TOPIC_CONFIG
    }
  }
}

void handle(request_context& ctx, create_topics_request& req,
            responder<create_topics_response> reply) {
  std::vector<topic_spec> specs;
  std::vector<topic_outcome> early;  // rejected before reaching the topic manager
  std::vector<bool> is_early;
  for (const auto& t : req.topics) {
    topic_spec spec{t.name, t.num_partitions, t.replication_factor, {}, req.validate_only};
    bool bad_config = false;
    for (const auto& c : t.configs) {
      if (!c.value) {
        bad_config = true;  // Kafka: null config values are invalid in CreateTopics
        break;
      }
      spec.configs[c.name] = *c.value;
    }
    std::string why;
    kafka::error err = kafka::error::none;
    if (bad_config) {
      err = kafka::error::invalid_config;
      why = "Null value not supported for topic configs";
    } else if (!t.assignments.empty()) {
      if (t.num_partitions != -1 || t.replication_factor != -1) {
        err = kafka::error::invalid_request;
        why = "Both numPartitions or replicationFactor and replicasAssignments were set.";
      }
      for (const auto& a : t.assignments) {
        if (a.broker_ids.size() != 1 || a.broker_ids[0] != ctx.owner.cfg().node_id) {
          err = kafka::error::invalid_replica_assignment;
          why = "Replica assignments must name only this broker (" +
                std::to_string(ctx.owner.cfg().node_id) + ")";
        }
      }
      spec.partitions = static_cast<int32_t>(t.assignments.size());
      spec.replication_factor = 1;
    }
    if (err != kafka::error::none) {
      early.push_back({t.name, err, why, nullptr});
      is_early.push_back(true);
    } else {
      specs.push_back(std::move(spec));
      is_early.push_back(false);
    }
  }
  int16_t version = ctx.version();
  unsigned shard = ctx.conn.shard;
  broker& b = ctx.owner;
  b.topics().create(std::move(specs), [&b, shard, version, early = std::move(early),
                                       is_early = std::move(is_early), reply = std::move(reply)](
                                          std::vector<topic_outcome> outcomes) mutable {
    b.post(shard, [version, early = std::move(early), is_early = std::move(is_early),
                   outcomes = std::move(outcomes), reply = std::move(reply)]() mutable {
      create_topics_response resp;
      size_t e = 0, o = 0;
      for (bool from_early : is_early) {
        fill_result(resp.topics.emplace_back(), from_early ? early[e++] : outcomes[o++], version);
      }
      reply(std::move(resp));
    });
  });
}

}  // namespace

extern const handler create_topics_handler = {
    create_topics_request::api_key, 2, 7,
    &typed_handle<create_topics_request, create_topics_response, &handle>};

}  // namespace sluice::broker
