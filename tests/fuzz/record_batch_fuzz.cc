// libFuzzer target: record batch iteration, header parsing, CRC, record decoding, and every
// decompressor on the raw input. Everything must fail cleanly or succeed within its caps.
#include <cstddef>
#include <cstdint>

#include "src/protocol/compression.h"
#include "src/protocol/record_batch.h"

namespace {

constexpr size_t kCap = 1 << 20;

void touch(sluice::records::byte_span s) {
  volatile uint8_t sink = 0;
  for (uint8_t b : s) sink = sink ^ b;
  (void)sink;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice;
  records::byte_span input(data, size);

  records::batch_iterator it(input, 8 << 20);
  while (const records::batch_view* v = it.next()) {
    (void)records::crc_ok(v->bytes);
    auto d = records::decode_records(v->bytes, kCap);
    if (!d) continue;
    const auto& batch = d.value();
    for (const auto& r : batch.records) {
      if (r.key) touch(*r.key);
      if (r.value) touch(*r.value);
      for (const auto& h : batch.headers_of(r)) {
        touch(h.key);
        if (h.value) touch(*h.value);
      }
      if (batch.header.is_control()) (void)records::parse_transaction_marker(r);
    }
  }
  // A Fetch-style blob: the header parser must also cope with any prefix.
  (void)records::parse_batch_header(input);
  (void)records::validate_batch(input);

  for (int c = 0; c <= 7; ++c) {
    auto out = compression::decompress(static_cast<compression::codec>(c), input, kCap);
    if (out && out.value().size() > kCap) __builtin_trap();
  }
  return 0;
}
