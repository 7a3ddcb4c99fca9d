#pragma once
// The broker: the net::dispatcher that turns Kafka request frames into handler calls.
//
// Contract (docs/architecture.md, "How a request flows"):
// - Frames shorter than a request header, or whose header or body do not decode, close the
//   connection (logged once with the client address). The process carries on.
// - ApiVersions above our maximum is answered in v0 format with UNSUPPORTED_VERSION.
// - Other unknown APIs or versions close the connection, as Kafka does for requests it cannot
//   parse.
//
// Thread safety: dispatch() runs on the connection's shard; the broker's own state is immutable
// after construction (per-shard state lives with the shards).

#include <sluice/config.h>

#include "src/net/connection.h"
#include "src/protocol/wire.h"

namespace sluice::broker {

class broker final : public net::dispatcher {
 public:
  explicit broker(const config& cfg) : _cfg(cfg) {}
  void dispatch(net::connection_info& info, std::vector<uint8_t> frame,
                net::reply_fn done) override;
  const config& cfg() const { return _cfg; }

 private:
  const config& _cfg;
};

// The v0-format UNSUPPORTED_VERSION answer to an ApiVersions request we cannot parse.
wire::bytes api_versions_fallback(int32_t correlation_id);

}  // namespace sluice::broker
