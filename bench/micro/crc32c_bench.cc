// CRC-32C throughput: the dispatched (hardware on x86-64) and portable slicing-by-8 paths.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "src/base/crc32c.h"

namespace {

std::vector<uint8_t> random_bytes(size_t n) {
  std::mt19937_64 rng(1);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

void BM_Crc32cHardware(benchmark::State& state) {
  if (!sluice::crc32c::hardware_available()) {
    state.SkipWithError("no hardware CRC-32C");
    return;
  }
  auto buf = random_bytes(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(sluice::crc32c::hardware_extend(0, buf.data(), buf.size()));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Crc32cHardware)->Arg(61)->Arg(1 << 10)->Arg(4 << 10)->Arg(1 << 20);

void BM_Crc32cPortable(benchmark::State& state) {
  auto buf = random_bytes(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(sluice::crc32c::portable_extend(0, buf.data(), buf.size()));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Crc32cPortable)->Arg(61)->Arg(1 << 10)->Arg(4 << 10)->Arg(1 << 20);

}  // namespace
