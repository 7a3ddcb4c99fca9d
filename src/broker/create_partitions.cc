// CreatePartitions (key 37, v0-3): raises a topic's partition count (persisted in the metadata
// store before it is published; new partitions start empty, their logs opened on first use).
// Not an increase: INVALID_PARTITIONS with Kafka's message. Manual assignments must name only
// this broker, one per new partition. validate_only checks without changing anything.

#include "kafka/create_partitions.h"

#include <set>

#include "src/broker/broker.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::create_partitions_request;
using kafka::create_partitions_response;

void handle(request_context& ctx, create_partitions_request& req,
            responder<create_partitions_response> reply) {
  broker& b = ctx.owner;
  const int32_t node_id = b.cfg().node_id;
  std::vector<partitions_spec> specs;
  std::vector<topic_outcome> early;  // rejected before reaching the topic manager
  std::vector<bool> is_early;
  std::set<std::string> seen;
  auto current = b.topics().snapshot();
  for (const auto& t : req.topics) {
    kafka::error err = kafka::error::none;
    std::string why;
    if (!seen.insert(t.name).second) {
      err = kafka::error::invalid_request;
      why = "Duplicate topic name.";
    } else if (t.assignments && !t.assignments->empty()) {
      auto it = current->find(t.name);
      int32_t added = it == current->end() ? -1 : t.count - it->second->partitions;
      if (added >= 0 && static_cast<int32_t>(t.assignments->size()) != added) {
        err = kafka::error::invalid_replica_assignment;
        why = "Increasing the number of partitions by " + std::to_string(added) + " but " +
              std::to_string(t.assignments->size()) + " assignments provided.";
      }
      for (const auto& a : *t.assignments) {
        if (a.broker_ids.size() != 1 || a.broker_ids[0] != node_id) {
          err = kafka::error::invalid_replica_assignment;
          why = "Replica assignments must name only this broker (" + std::to_string(node_id) + ")";
        }
      }
    }
    if (err != kafka::error::none) {
      early.push_back({t.name, err, why, nullptr});
      is_early.push_back(true);
    } else {
      specs.push_back({t.name, t.count, req.validate_only});
      is_early.push_back(false);
    }
  }
  unsigned shard = ctx.conn.shard;
  b.topics().add_partitions(
      std::move(specs), [&b, shard, early = std::move(early), is_early = std::move(is_early),
                         reply = std::move(reply)](std::vector<topic_outcome> outcomes) mutable {
        b.post(shard, [early = std::move(early), is_early = std::move(is_early),
                       outcomes = std::move(outcomes), reply = std::move(reply)]() mutable {
          create_partitions_response resp;
          size_t e = 0, o = 0;
          for (bool from_early : is_early) {
            const topic_outcome& r = from_early ? early[e++] : outcomes[o++];
            auto& out = resp.results.emplace_back();
            out.name = r.name;
            out.error_code = kafka::code(r.error);
            if (r.error != kafka::error::none) out.error_message = r.message;
          }
          reply(std::move(resp));
        });
      });
}

}  // namespace

extern const handler create_partitions_handler = {
    create_partitions_request::api_key, 0, 3,
    &typed_handle<create_partitions_request, create_partitions_response, &handle>};

}  // namespace sluice::broker
