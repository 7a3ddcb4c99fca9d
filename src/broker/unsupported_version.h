#pragma once
// How Sluice answers a request for an API or version it does not serve.
//
// Contract (Kafka's behaviour, KafkaApis/RequestContext):
// - API keys without a schema, and versions outside the schema: no answer can be encoded, so
//   the caller closes the connection, as Kafka does for requests it cannot parse.
// - Produce v0-2 (advertised from v0, as Kafka 4 does, but refused): the request is decoded and
//   every partition gets UNSUPPORTED_VERSION; with acks=0 there is no response to carry it, so
//   the connection is closed (Kafka's signal for a failed acks=0 produce).
// - Any other API in the schema whose response has a top-level error code at that version:
//   that response with UNSUPPORTED_VERSION and every other field at its default.
// - Otherwise (errors only per item, e.g. Fetch v0-3, ListOffsets v0): close.
//
// Thread safety: a pure function of its arguments.

#include <cstdint>
#include <optional>

#include "src/protocol/wire.h"

namespace sluice::broker {

// The response body (without response header) for a request of `api_key` at `version` that
// Sluice does not serve; `body` is the request body after its header. nullopt: close instead.
std::optional<wire::bytes> unsupported_version_body(int16_t api_key, int16_t version,
                                                    wire::reader& body);

}  // namespace sluice::broker
