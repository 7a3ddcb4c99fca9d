// libFuzzer target: a Kafka request frame (without its size prefix), as a broker receives it.
//
// Decodes the request header for the frame's API and version, then the body with the generated
// decoder of that API. Whatever decodes must re-encode and decode again to the same bytes.
// Seeds: tests/data/captures (real kcat, librdkafka, kafka-python, confluent-kafka frames).

#include <cstdint>
#include <cstdlib>

#include "kafka/api.h"
#include "kafka/headers.h"
#include "kafka/testing.h"
#include "src/base/byte_order.h"
#include "src/protocol/wire.h"

using namespace sluice;

namespace {

template <class T>
void round_trip(wire::reader& r, int16_t version) {
  T m;
  m.decode(r, version);
  if (!r.ok()) return;
  wire::bytes first;
  wire::writer w1(first);
  m.encode(w1, version);
  T again;
  wire::reader r2(first.data(), first.size());
  again.decode(r2, version);
  if (!r2.ok() || r2.remaining() != 0) std::abort();  // our own encoding must decode
  wire::bytes second;
  wire::writer w2(second);
  again.encode(w2, version);
  if (first != second) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  int16_t key = be::load_i16(data);
  int16_t version = be::load_i16(data + 2);
  const kafka::api_info* api = kafka::find_api(key);
  if (api == nullptr || version < api->min_version || version > api->max_version) return 0;
  wire::reader r(data, size);
  kafka::request_header header;
  header.decode(r, kafka::request_header_version(key, version));
  if (!r.ok()) return 0;
  kafka::testing::for_each_request([&](auto t) {
    using T = typename decltype(t)::type;
    if (T::api_key == key) round_trip<T>(r, version);
  });
  return 0;
}
