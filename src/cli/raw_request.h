#pragma once
// Kafka requests librdkafka 2.0.2's admin API lacks, sent by the CLI itself: one request on a
// connection of its own to one broker, encoded and decoded with the project's generated Kafka
// codec (src/protocol). Used for DescribeLogDirs (partition sizes; Kafka 1.1+) and
// ConsumerGroupDescribe (KIP-848 groups; Kafka 3.7+).
//
// Contract: the whole exchange with a broker is bounded by `timeout`; a broker that cannot be
// reached, closes the connection (as a broker does for an API it does not know) or sends a
// response that does not decode fails the call with one line. Error codes inside a response are
// the caller's to read. Single-threaded; each call runs its own io_context.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "kafka/headers.h"
#include "src/base/byte_order.h"
#include "src/cli/client.h"
#include "src/protocol/wire.h"

namespace sluice::cli {

// Sends one framed request (size prefix included) and returns the response after its size.
outcome<wire::bytes> exchange(const broker_info& b, const wire::bytes& frame,
                              std::chrono::milliseconds timeout);

// One request of type Req at `version` to broker `b`; its response decoded as Resp. Request
// header v1 (v2 for flexible versions), response header v0 (v1 for flexible versions).
template <class Req, class Resp>
outcome<Resp> raw_call(const broker_info& b, const Req& req, int16_t version,
                       std::chrono::milliseconds timeout) {
  constexpr int32_t kCorrelation = 1;
  const bool flexible = Req::first_flexible_version >= 0 && version >= Req::first_flexible_version;
  kafka::request_header h;
  h.request_api_key = Req::api_key;
  h.request_api_version = version;
  h.correlation_id = kCorrelation;
  h.client_id = "sluice";
  wire::bytes frame(4);
  wire::writer w(frame);
  h.encode(w, flexible ? 2 : 1);
  req.encode(w, version);
  be::store_i32(frame.data(), static_cast<int32_t>(frame.size() - 4));

  CLI_TRY(body, exchange(b, frame, timeout));
  wire::reader r(body.data(), body.size());
  kafka::response_header rh;
  rh.decode(r, flexible ? 1 : 0);
  Resp resp;
  resp.decode(r, version);
  if (!r.ok() || rh.correlation_id != kCorrelation) {
    return fail("CORRUPT_MESSAGE: broker " + std::to_string(b.id) + " sent a response (API " +
                std::to_string(Req::api_key) + ") that does not decode");
  }
  return resp;
}

// partition -> size in bytes on its leader (DescribeLogDirs v1, summed over the leader's log
// dirs), for every partition of `topic` with a leader. Fails on an error code in the response.
outcome<std::map<int32_t, int64_t>> partition_sizes(const cluster_metadata& md,
                                                    const topic_info& topic,
                                                    std::chrono::milliseconds timeout);

}  // namespace sluice::cli
