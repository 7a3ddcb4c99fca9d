// FindCoordinator (key 10, v0-6): this broker coordinates every group and transactional id
// (Sluice is a one-node cluster). v4+ batches keys; key type 0 = group, 1 = transaction.

#include "kafka/find_coordinator.h"

#include "src/broker/broker.h"
#include "src/broker/handler.h"

namespace sluice::broker {
namespace {

using kafka::find_coordinator_request;
using kafka::find_coordinator_response;

constexpr int8_t kGroup = 0;
constexpr int8_t kTransaction = 1;

// The error for one key, or none.
kafka::error check(int8_t key_type, const std::string& key) {
  if (key_type == kGroup) return kafka::error::none;
  if (key_type == kTransaction) {
    return key.empty() ? kafka::error::invalid_request : kafka::error::none;
  }
  return kafka::error::invalid_request;
}

void handle(request_context& ctx, find_coordinator_request& req,
            responder<find_coordinator_response> reply) {
  broker& b = ctx.owner;
  find_coordinator_response resp;
  if (ctx.version() >= 4) {
    for (const auto& key : req.coordinator_keys) {
      auto& c = resp.coordinators.emplace_back();
      c.key = key;
      c.error_message = std::nullopt;
      if (auto err = check(req.key_type, key); err != kafka::error::none) {
        c.node_id = -1;
        c.host = "";
        c.port = -1;
        c.error_code = kafka::code(err);
        c.error_message = "unsupported key type or empty transactional id";
        continue;
      }
      c.node_id = b.cfg().node_id;
      c.host = b.advertised_host();
      c.port = b.advertised_port();
    }
    return reply(std::move(resp));
  }
  resp.error_message = std::nullopt;
  if (auto err = check(req.key_type, req.key); err != kafka::error::none) {
    resp.error_code = kafka::code(err);
    resp.node_id = -1;
    resp.port = -1;
    return reply(std::move(resp));
  }
  resp.node_id = b.cfg().node_id;
  resp.host = b.advertised_host();
  resp.port = b.advertised_port();
  reply(std::move(resp));
}

}  // namespace

extern const handler find_coordinator_handler = {
    find_coordinator_request::api_key, 0, 6,
    &typed_handle<find_coordinator_request, find_coordinator_response, &handle>};

}  // namespace sluice::broker
