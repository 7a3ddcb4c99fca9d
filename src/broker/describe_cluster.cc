// DescribeCluster (key 60, v0-1): this broker, the cluster id, and this node as the controller
// (Sluice is a one-node cluster). v1 asking for controller endpoints gets
// UNSUPPORTED_ENDPOINT_TYPE, as a Kafka broker answers.

#include "kafka/describe_cluster.h"

#include "src/broker/broker.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::describe_cluster_request;
using kafka::describe_cluster_response;

constexpr int8_t kBrokers = 1;

void handle(request_context& ctx, describe_cluster_request& req,
            responder<describe_cluster_response> reply) {
  broker& b = ctx.owner;
  describe_cluster_response resp;
  resp.endpoint_type = req.endpoint_type;
  if (req.endpoint_type != kBrokers) {
    resp.error_code = kafka::code(kafka::error::unsupported_endpoint_type);
    resp.error_message =
        "The request was sent to an endpoint of type BROKER, but we wanted an "
        "endpoint of type CONTROLLER";
    return reply(std::move(resp));
  }
  resp.error_message = std::nullopt;
  resp.cluster_id = b.cluster_id();
  resp.controller_id = b.cfg().node_id;
  auto& me = resp.brokers.emplace_back();
  me.broker_id = b.cfg().node_id;
  me.host = b.advertised_host();
  me.port = b.advertised_port();
  reply(std::move(resp));
}

}  // namespace

extern const handler describe_cluster_handler = {
    describe_cluster_request::api_key, 0, 1,
    &typed_handle<describe_cluster_request, describe_cluster_response, &handle>};

}  // namespace sluice::broker
