// memcpy bandwidth, as the ceiling the other byte-crunching benchmarks compare against.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

namespace {

void BM_Memcpy(benchmark::State& state) {
  size_t n = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> src(n, 0x5a), dst(n);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), n);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Memcpy)->Arg(4 << 10)->Arg(1 << 20);

}  // namespace
