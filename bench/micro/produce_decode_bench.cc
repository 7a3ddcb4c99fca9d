// Produce request decode: request header + body of a 1 MiB Produce (one partition, one batch of
// 1,024 records of 1 KiB), as the broker receives it, in a classic (v7) and a flexible (v9)
// version. Counts bytes of the whole request frame.
#include <benchmark/benchmark.h>

#include <vector>

#include "kafka/api.h"
#include "kafka/headers.h"
#include "kafka/produce.h"
#include "src/protocol/record_batch.h"

namespace {

namespace kafka = sluice::kafka;
namespace wire = sluice::wire;

wire::bytes produce_frame(int16_t version, int partitions) {
  std::vector<uint8_t> value(1024, 'x');
  kafka::produce_request req;
  req.acks = -1;
  req.timeout_ms = 30000;
  auto& topic = req.topic_data.emplace_back();
  topic.name = "bench-topic";
  for (int p = 0; p < partitions; ++p) {
    sluice::records::batch_builder b;
    for (int i = 0; i < 1024 / partitions; ++i) b.add(1700000000000 + i, std::nullopt, value);
    auto batch = b.build();
    if (!batch) std::abort();
    auto& part = topic.partition_data.emplace_back();
    part.index = p;
    part.records = std::move(batch.value());
  }
  wire::bytes out;
  wire::writer w(out);
  kafka::request_header h;
  h.request_api_key = kafka::produce_request::api_key;
  h.request_api_version = version;
  h.correlation_id = 42;
  h.client_id = "bench";
  h.encode(w, kafka::request_header_version(h.request_api_key, version));
  req.encode(w, version);
  return out;
}

void BM_ProduceDecode(benchmark::State& state) {
  auto version = static_cast<int16_t>(state.range(0));
  auto frame = produce_frame(version, static_cast<int>(state.range(1)));
  for (auto _ : state) {
    wire::reader r(frame.data(), frame.size());
    kafka::request_header h;
    h.decode(r, kafka::request_header_version(0, version));
    kafka::produce_request req;
    req.decode(r, version);
    if (!r.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(req);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * frame.size()));
}
BENCHMARK(BM_ProduceDecode)
    ->ArgNames({"version", "partitions"})
    ->Args({7, 1})
    ->Args({9, 1})
    ->Args({9, 16});

}  // namespace
