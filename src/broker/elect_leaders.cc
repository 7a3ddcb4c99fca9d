// ElectLeaders (key 43, v0-2): Sluice is one broker, already the leader (and the preferred one)
// of every partition, so each partition asked for gets ELECTION_NOT_NEEDED, as Kafka answers
// for a partition whose leader is already preferred (or, for unclean elections, present). With
// a null list (all partitions) those results are left out, as Kafka does. Unknown partitions:
// UNKNOWN_TOPIC_OR_PARTITION.

#include "kafka/elect_leaders.h"

#include "src/broker/broker.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::elect_leaders_request;
using kafka::elect_leaders_response;

void handle(request_context& ctx, elect_leaders_request& req,
            responder<elect_leaders_response> reply) {
  elect_leaders_response resp;
  if (!req.topic_partitions) return reply(std::move(resp));
  auto topics = ctx.owner.topics().snapshot();
  for (const auto& t : *req.topic_partitions) {
    auto& tr = resp.replica_election_results.emplace_back();
    tr.topic = t.topic;
    for (int32_t p : t.partitions) {
      auto& pr = tr.partition_result.emplace_back();
      pr.partition_id = p;
      if (!find_partition(*topics, t.topic, p)) {
        pr.error_code = kafka::code(kafka::error::unknown_topic_or_partition);
        pr.error_message = "This server does not host this topic-partition.";
      } else {
        pr.error_code = kafka::code(kafka::error::election_not_needed);
        pr.error_message = "Leader election not needed for topic partition.";
      }
    }
  }
  reply(std::move(resp));
}

}  // namespace

extern const handler elect_leaders_handler = {
    elect_leaders_request::api_key, 0, 2,
    &typed_handle<elect_leaders_request, elect_leaders_response, &handle>};

}  // namespace sluice::broker
