// Record batch v2 hot paths: parse + decode a 1 MiB batch of 1 KiB records (uncompressed, lz4,
// zstd), with and without the CRC check, and building it (record encoding + CRC, + compression).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "src/protocol/record_batch.h"

namespace {

using sluice::compression::codec;
using namespace sluice::records;
namespace wire = sluice::wire;

constexpr size_t kRecordSize = 1024;
constexpr size_t kRecords = 1024;  // 1 MiB of values

// Distinct, text-like values (words from a small vocabulary): compress ~3-4x, like JSON logs.
const std::vector<std::vector<uint8_t>>& values() {
  static const auto v = [] {
    static const char* words[] = {"\"id\":", "\"user\":", "\"event\":", "click", "view",
                                  "{",       "}",         ",",          "true",  "1700000000",
                                  "\"ok\"",  " ",         "sluice",     "kafka", "batch"};
    std::mt19937_64 rng(9);
    std::vector<std::vector<uint8_t>> out(kRecords);
    for (auto& val : out) {
      while (val.size() < kRecordSize) {
        std::string w = rng() % 4 ? words[rng() % 15] : std::to_string(rng() % 100000);
        val.insert(val.end(), w.begin(), w.end());
      }
      val.resize(kRecordSize);
    }
    return out;
  }();
  return v;
}

void fill(batch_builder& b, codec c) {
  const uint8_t key[] = {'k', 'e', 'y'};
  b.base_offset(0).producer(1, 0, 0).compression(c);
  int64_t ts = 1700000000000;
  for (const auto& v : values()) b.add(ts++, byte_span(key), byte_span(v));
}

void parse_decode(benchmark::State& state, bool check_crc) {
  auto c = static_cast<codec>(state.range(0));
  batch_builder b;
  fill(b, c);
  auto bytes = b.build().value();
  for (auto _ : state) {
    batch_iterator it(bytes);
    while (const batch_view* v = it.next()) {
      if (check_crc && !crc_ok(v->bytes)) state.SkipWithError("crc");
      auto d = decode_records(v->bytes, 64 << 20);
      benchmark::DoNotOptimize(d.value().records.data());
    }
  }
  char label[64];
  std::snprintf(label, sizeof label, "%s, ratio %.2f",
                std::string(sluice::compression::name(c)).c_str(),
                static_cast<double>(kRecords * kRecordSize) / static_cast<double>(bytes.size()));
  state.SetLabel(label);
  // Bytes = uncompressed batch payload, so codecs are comparable.
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kRecords * kRecordSize));
}

void BM_BatchParseDecodeCrc(benchmark::State& state) { parse_decode(state, true); }
void BM_BatchParseDecode(benchmark::State& state) { parse_decode(state, false); }
BENCHMARK(BM_BatchParseDecodeCrc)
    ->Arg(static_cast<int>(codec::none))
    ->Arg(static_cast<int>(codec::lz4))
    ->Arg(static_cast<int>(codec::zstd));
BENCHMARK(BM_BatchParseDecode)->Arg(static_cast<int>(codec::none));

void BM_BatchBuild(benchmark::State& state) {
  auto c = static_cast<codec>(state.range(0));
  batch_builder b;
  wire::bytes out;
  for (auto _ : state) {
    b.clear();  // steady state: buffers are reused, as a broker's would be
    fill(b, c);
    out.clear();
    if (b.build_into(out) != sluice::errc::ok) state.SkipWithError("build");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(std::string(sluice::compression::name(c)));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kRecords * kRecordSize));
}
BENCHMARK(BM_BatchBuild)
    ->Arg(static_cast<int>(codec::none))
    ->Arg(static_cast<int>(codec::lz4))
    ->Arg(static_cast<int>(codec::zstd));

}  // namespace
