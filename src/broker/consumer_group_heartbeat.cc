// ConsumerGroupHeartbeat (key 68, v0-1): KIP-848 membership. The member's whole protocol (join,
// epochs, target assignment, incremental reconciliation, leave) is one heartbeat; the state
// machine is coordinator::consumer_group, run on the group's owner shard.

#include "kafka/consumer_group_heartbeat.h"

#include <random>

#include "src/broker/broker.h"
#include "src/broker/group_requests.h"
#include "src/broker/handler.h"
#include "src/broker/topic_view.h"

namespace sluice::broker {
namespace {

using kafka::consumer_group_heartbeat_request;
using kafka::consumer_group_heartbeat_response;

// A random member id in the form of Kafka's Uuid.toString(): 22 URL-safe base64 characters.
std::string new_kafka_uuid_string() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint64_t hi = rng(), lo = rng();
  std::string out;
  for (int i = 0; i < 22; ++i) {
    int bits = i < 11 ? static_cast<int>((hi >> (6 * (i % 11))) & 63)
                      : static_cast<int>((lo >> (6 * (i % 11))) & 63);
    out.push_back(kAlphabet[bits]);
  }
  return out;
}

void handle(request_context& ctx, consumer_group_heartbeat_request& req,
            responder<consumer_group_heartbeat_response> reply) {
  auto fail = [&](kafka::error e, std::string msg) {
    consumer_group_heartbeat_response resp;
    resp.error_code = kafka::code(e);
    resp.error_message = std::move(msg);
    reply(std::move(resp));
  };
  if (req.group_id.empty()) return fail(kafka::error::invalid_request, "GroupId can't be empty.");

  coordinator::heartbeat_request hb;
  hb.version = ctx.version();
  hb.member_id = std::move(req.member_id);
  // v0 lets the coordinator name a joining member (v1 members name themselves, KIP-1082).
  if (hb.member_id.empty() && req.member_epoch == 0 && hb.version == 0) {
    hb.member_id = new_kafka_uuid_string();
  }
  hb.member_epoch = req.member_epoch;
  hb.instance_id = std::move(req.instance_id);
  hb.rack_id = std::move(req.rack_id);
  hb.rebalance_timeout_ms = req.rebalance_timeout_ms;
  hb.subscribed_topic_names = std::move(req.subscribed_topic_names);
  hb.subscribed_topic_regex = std::move(req.subscribed_topic_regex);
  hb.server_assignor = std::move(req.server_assignor);
  if (req.topic_partitions) {
    hb.owned.emplace();
    for (auto& tp : *req.topic_partitions) {
      (*hb.owned)[tp.topic_id].insert(tp.partitions.begin(), tp.partitions.end());
    }
  }
  hb.client_id = client_id_of(ctx);
  hb.client_host = client_host_of(ctx);

  auto view = current_topic_view(ctx.owner.topics());
  const std::string group = req.group_id;
  ctx.owner.groups().call<coordinator::heartbeat_result>(
      ctx.conn.shard, group,
      [group, hb = std::move(hb), view](coordinator::shard_groups& sg,
                                        std::function<void(coordinator::heartbeat_result)> done) {
        done(sg.consumer_heartbeat(group, hb, *view));
      },
      [reply](coordinator::heartbeat_result r) {
        consumer_group_heartbeat_response resp;
        resp.error_code = kafka::code(r.error);
        if (r.error != kafka::error::none) {
          resp.error_message = std::move(r.error_message);
          return reply(std::move(resp));
        }
        resp.member_id = std::move(r.member_id);
        resp.member_epoch = r.member_epoch;
        resp.heartbeat_interval_ms = r.heartbeat_interval_ms;
        if (r.assignment) {
          auto& a = resp.assignment.emplace();
          for (auto& [tid, parts] : *r.assignment) {
            auto& tp = a.topic_partitions.emplace_back();
            tp.topic_id = tid;
            tp.partitions.assign(parts.begin(), parts.end());
          }
        }
        reply(std::move(resp));
      });
}

}  // namespace

extern const handler consumer_group_heartbeat_handler = {
    consumer_group_heartbeat_request::api_key, 0, 1,
    &typed_handle<consumer_group_heartbeat_request, consumer_group_heartbeat_response, &handle>};

}  // namespace sluice::broker
