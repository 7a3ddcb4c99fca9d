#include "src/broker/unsupported_version.h"

#include "kafka/errors.h"
#include "kafka/produce.h"
#include "src/protocol/kafka_error.h"

namespace sluice::broker {
namespace {

constexpr int16_t kUnsupported = kafka::code(kafka::error::unsupported_version);

// Produce has no top-level error code: every partition asked for carries the error.
std::optional<wire::bytes> produce_refusal(int16_t version, wire::reader& body) {
  kafka::produce_request req;
  req.decode(body, version);
  if (!body.ok() || body.remaining() != 0 || req.acks == 0) return std::nullopt;
  kafka::produce_response resp;
  for (const auto& t : req.topic_data) {
    auto& rt = resp.responses.emplace_back();
    rt.name = t.name;
    for (const auto& p : t.partition_data) {
      auto& rp = rt.partition_responses.emplace_back();
      rp.index = p.index;
      rp.error_code = kUnsupported;
      rp.base_offset = -1;
    }
  }
  wire::bytes out;
  wire::writer w(out);
  resp.encode(w, version);
  return out;
}

}  // namespace

std::optional<wire::bytes> unsupported_version_body(int16_t api_key, int16_t version,
                                                    wire::reader& body) {
  if (api_key == kafka::produce_request::api_key &&
      version >= kafka::produce_request::min_version &&
      version <= kafka::produce_request::max_version) {
    return produce_refusal(version, body);
  }
  wire::bytes out;
  wire::writer w(out);
  if (!kafka::encode_error_response(api_key, version, kUnsupported, w)) return std::nullopt;
  return out;
}

}  // namespace sluice::broker
