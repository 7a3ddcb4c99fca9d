// memcpy bandwidth, as the ceiling the other byte-crunching benchmarks compare against.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace {

void BM_Memcpy(benchmark::State& state) {
  size_t n = static_cast<size_t>(state.range(0));
  // One allocation with a fixed layout: where the heap happens to put two separate vectors
  // changes glibc's `rep movsb` path speed by 30x for 4 KiB on some CPUs (page-offset aliasing
  // of source and destination), which made the figure depend on the benchmarks run before.
  std::vector<uint8_t> buf(2 * n + 4096 + 256, 0x5a);
  uint8_t* src = buf.data() + (4096 - reinterpret_cast<uintptr_t>(buf.data()) % 4096);
  uint8_t* dst = src + n + 256;
  for (auto _ : state) {
    std::memcpy(dst, src, n);
    benchmark::DoNotOptimize(dst);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Memcpy)->Arg(4 << 10)->Arg(1 << 20);

}  // namespace
