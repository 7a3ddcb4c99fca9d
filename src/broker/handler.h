#pragma once
// How one Kafka API is served: the handler type every src/broker/<api>.cc file defines.
//
// A handler owns one API key and the version range Sluice serves for it. The dispatcher
// (broker.cc) has already checked the version and decoded the request header; the handler
// decodes its body with the generated type, does the work and calls `done` exactly once on the
// connection's shard with the response (or with nothing, e.g. Produce acks=0).
//
// Thread safety: handlers run on the shard that owns the connection.

#include <cstdint>
#include <functional>
#include <optional>

#include <sluice/config.h>

#include "kafka/headers.h"
#include "src/base/metrics.h"
#include "src/net/connection.h"
#include "src/protocol/wire.h"

namespace sluice::broker {

class broker;

struct request_context {
  net::connection_info& conn;
  kafka::request_header header;
  const config& cfg;
  broker& owner;
  // Counts non-zero error codes of the response (responder does), for sluice_request_errors_total.
  metrics::counter* errors = nullptr;
  int16_t version() const { return header.request_api_version; }
};

// An encoded response body (without response header), possibly with file ranges spliced in.
struct encoded_body {
  wire::bytes bytes;
  std::vector<wire::splice> splices;
};

// Called with the encoded response body, or nullopt for no response.
using respond_fn = std::function<void(std::optional<encoded_body>)>;

struct handler {
  int16_t api_key;
  int16_t min_version;  // served range; may be narrower than the schema's
  int16_t max_version;
  // Returns false when the body does not decode (the connection is then closed).
  bool (*handle)(request_context& ctx, wire::reader& body, respond_fn done);
  // What ApiVersions advertises as the minimum, when it differs from min_version: Kafka 4
  // advertises Produce from v0 but refuses v0-2, because librdkafka disables features when the
  // advertised minimum is above what it probes for (KAFKA-18659).
  int16_t advertised_min_version = -1;
};

// How a typed handler answers: reply(resp) encodes the response at the request's version;
// none() sends nothing (Produce with acks=0). Exactly one of them, exactly once.
template <class Resp>
class responder {
 public:
  responder(respond_fn done, int16_t version, metrics::counter* errors = nullptr)
      : _done(std::move(done)), _version(version), _errors(errors) {}
  void operator()(Resp resp) const {
    if (_errors != nullptr) {
      resp.for_each_error_code([this](int16_t code) {
        if (code != 0) _errors->inc();
      });
    }
    wire::bytes out;
    wire::writer w(out);
    resp.encode(w, _version);
    _done(encoded_body{std::move(out), w.take_splices()});
  }
  void none() const { _done(std::nullopt); }

 private:
  respond_fn _done;
  int16_t _version;
  metrics::counter* _errors;
};

// Glue for typed handlers: decodes Req and calls fn(ctx, req, reply). Bytes after the message
// are ignored, as Kafka does: librdkafka 2.15 sends its all-topics Metadata v12 request with
// the 4-byte placeholder of the topic count still in place (a varint 0 and three zero bytes).
template <class Req, class Resp, void (*Fn)(request_context&, Req&, responder<Resp>)>
bool typed_handle(request_context& ctx, wire::reader& body, respond_fn done) {
  Req req;
  req.decode(body, ctx.version());
  if (!body.ok()) return false;
  Fn(ctx, req, responder<Resp>(std::move(done), ctx.version(), ctx.errors));
  return true;
}

}  // namespace sluice::broker
