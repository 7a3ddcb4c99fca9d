// DescribeTopicPartitions (key 75, v0): the topics asked for (all when the list is empty), in
// name order, with their partitions: this node leads each one and is its whole ISR. Paging: at
// most response_partition_limit partitions per answer, starting at the request's cursor; when
// more remain, next_cursor names the first one left out. Unknown topics get
// UNKNOWN_TOPIC_OR_PARTITION.

#include "kafka/describe_topic_partitions.h"

#include <algorithm>
#include <set>

#include "src/broker/broker.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::describe_topic_partitions_request;
using kafka::describe_topic_partitions_response;
using topic_result = describe_topic_partitions_response::describe_topic_partitions_response_topic;

void handle(request_context& ctx, describe_topic_partitions_request& req,
            responder<describe_topic_partitions_response> reply) {
  broker& b = ctx.owner;
  const int32_t node_id = b.cfg().node_id;
  auto topics = b.topics().snapshot();
  std::set<std::string> names;
  if (req.topics.empty()) {
    for (const auto& [name, t] : *topics) names.insert(name);
  } else {
    for (const auto& t : req.topics) names.insert(t.name);
  }
  describe_topic_partitions_response resp;
  int32_t budget = std::max<int32_t>(req.response_partition_limit, 1);
  for (const auto& name : names) {
    int32_t first = 0;
    if (req.cursor) {
      if (name < req.cursor->topic_name) continue;
      if (name == req.cursor->topic_name) first = std::max(req.cursor->partition_index, 0);
    }
    auto it = topics->find(name);
    if (it == topics->end()) {
      auto& out = resp.topics.emplace_back();
      out.name = name;
      out.error_code = kafka::code(kafka::error::unknown_topic_or_partition);
      continue;
    }
    const topic_entry& t = *it->second;
    if (budget == 0) {
      resp.next_cursor.emplace();
      resp.next_cursor->topic_name = name;
      resp.next_cursor->partition_index = first;
      break;
    }
    topic_result& out = resp.topics.emplace_back();
    out.name = t.name;
    out.topic_id = t.id;
    for (int32_t p = first; p < t.partitions; ++p) {
      if (budget == 0) {
        resp.next_cursor.emplace();
        resp.next_cursor->topic_name = name;
        resp.next_cursor->partition_index = p;
        break;
      }
      --budget;
      auto& part = out.partitions.emplace_back();
      part.partition_index = p;
      part.leader_id = node_id;
      part.leader_epoch = 0;
      part.replica_nodes = {node_id};
      part.isr_nodes = {node_id};
      part.eligible_leader_replicas = std::vector<int32_t>{};
      part.last_known_elr = std::vector<int32_t>{};
    }
    if (resp.next_cursor) break;
  }
  reply(std::move(resp));
}

}  // namespace

extern const handler describe_topic_partitions_handler = {
    describe_topic_partitions_request::api_key, 0, 0,
    &typed_handle<describe_topic_partitions_request, describe_topic_partitions_response, &handle>};

}  // namespace sluice::broker
