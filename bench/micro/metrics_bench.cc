// What the metrics cost on the data path: a striped counter increment and a latency histogram
// observation, from one thread and from several at once (the shards).

#include <benchmark/benchmark.h>

#include <chrono>

#include "src/base/metrics.h"

namespace {

sluice::metrics::counter g_counter;
sluice::metrics::histogram g_histogram(sluice::metrics::latency_buckets());

void BM_CounterInc(benchmark::State& state) {
  for (auto _ : state) g_counter.inc();
}
BENCHMARK(BM_CounterInc)->ThreadRange(1, 4);

void BM_HistogramObserve(benchmark::State& state) {
  double v = 0.0003;
  for (auto _ : state) {
    g_histogram.observe(v);
    v = v < 1 ? v * 1.7 : 0.0003;
  }
}
BENCHMARK(BM_HistogramObserve)->ThreadRange(1, 4);

// What the dispatcher does per request: two clock reads and one observation.
void BM_TimedRequest(benchmark::State& state) {
  for (auto _ : state) {
    const auto started = std::chrono::steady_clock::now();
    g_counter.inc();
    g_histogram.observe(std::chrono::steady_clock::now() - started);
  }
}
BENCHMARK(BM_TimedRequest);

}  // namespace
