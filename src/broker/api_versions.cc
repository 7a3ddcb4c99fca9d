// ApiVersions (key 18): the APIs and version ranges Sluice serves, from the registry.
//
// A request above our maximum version never reaches this handler: broker.cc answers it in v0
// format with UNSUPPORTED_VERSION (see api_versions_fallback), as Kafka does, so the client
// retries with a version we know.

#include "kafka/api_versions.h"

#include <spdlog/spdlog.h>

#include "src/broker/broker.h"
#include "src/broker/registry.h"

namespace sluice::broker {
namespace {

void fill_api_keys(kafka::api_versions_response& resp) {
  for (const handler* h : all_handlers()) {
    auto& k = resp.api_keys.emplace_back();
    k.api_key = h->api_key;
    k.min_version = h->advertised_min_version >= 0 ? h->advertised_min_version : h->min_version;
    k.max_version = h->max_version;
  }
}

void handle(request_context& ctx, kafka::api_versions_request& req,
            responder<kafka::api_versions_response> reply) {
  if (ctx.version() >= 3) {
    // Kept for logs and metrics; names are free-form, so bound them.
    ctx.conn.client_software_name = req.client_software_name.substr(0, 128);
    ctx.conn.client_software_version = req.client_software_version.substr(0, 128);
    spdlog::debug("{}: client software {} {}", ctx.conn.peer, ctx.conn.client_software_name,
                  ctx.conn.client_software_version);
  }
  kafka::api_versions_response resp;
  fill_api_keys(resp);
  reply(std::move(resp));
}

}  // namespace

wire::bytes api_versions_fallback(int32_t correlation_id) {
  kafka::api_versions_response resp;
  resp.error_code = 35;  // UNSUPPORTED_VERSION
  fill_api_keys(resp);
  wire::bytes out;
  wire::writer w(out);
  w.write_int32(correlation_id);  // response header v0
  resp.encode(w, 0);
  return out;
}

extern const handler api_versions_handler = {
    kafka::api_versions_request::api_key, 0, 4,
    &typed_handle<kafka::api_versions_request, kafka::api_versions_response, &handle>};

}  // namespace sluice::broker
