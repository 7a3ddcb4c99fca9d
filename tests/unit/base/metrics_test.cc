// The metrics registry: counters, gauges and histograms, and their Prometheus text rendering.

#include "src/base/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace sluice::metrics {
namespace {

TEST(Metrics, CounterSumsEveryThreadsIncrements) {
  counter c;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&c] {
      for (int i = 0; i < 10000; ++i) c.inc();
    });
  }
  for (auto& t : threads) t.join();
  c.inc(5);
  EXPECT_EQ(c.value(), 80005u);
}

TEST(Metrics, GaugeGoesUpAndDown) {
  gauge g;
  g.add(3);
  g.sub();
  EXPECT_EQ(g.value(), 2);
  g.set(-7);
  EXPECT_EQ(g.value(), -7);
}

TEST(Metrics, HistogramBoundsAreInclusiveAndCumulative) {
  histogram h({1.0, 2.0, 5.0});
  h.observe(0.5);  // le=1
  h.observe(1.0);  // le=1 (bounds are inclusive)
  h.observe(1.5);  // le=2
  h.observe(7.0);  // +Inf only
  auto s = h.collect();
  ASSERT_EQ(s.cumulative.size(), 4u);
  EXPECT_EQ(s.cumulative[0], 2u);
  EXPECT_EQ(s.cumulative[1], 3u);
  EXPECT_EQ(s.cumulative[2], 3u);
  EXPECT_EQ(s.cumulative[3], 4u);
  EXPECT_EQ(s.count, 4u);
  EXPECT_DOUBLE_EQ(s.sum, 10.0);
}

TEST(Metrics, HistogramFromManyThreads) {
  histogram h(latency_buckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h] {
      for (int i = 0; i < 1000; ++i) h.observe(std::chrono::milliseconds(2));
    });
  }
  for (auto& t : threads) t.join();
  auto s = h.collect();
  EXPECT_EQ(s.count, 4000u);
  EXPECT_NEAR(s.sum, 8.0, 1e-9);
  // 2 ms falls in the 2.5 ms bucket, not the 1 ms one.
  const auto& b = s.bounds;
  const size_t le1ms = static_cast<size_t>(std::find(b.begin(), b.end(), 0.001) - b.begin());
  EXPECT_EQ(s.cumulative[le1ms], 0u);
  EXPECT_EQ(s.cumulative[le1ms + 1], 4000u);
}

TEST(Metrics, RendersPrometheusText) {
  registry r;
  auto& req = r.counters("test_requests_total", "Requests.", {"api"});
  req.with({"Produce"}).inc(3);
  req.with({"Fetch"}).inc();
  r.gauge_metric("test_open", "Open things.").set(2);
  r.histogram_metric("test_latency_seconds", "Latency.", {0.5, 1}).observe(0.75);
  r.add_collector([](text_writer& w) {
    w.header("test_collected", "From a collector.", "gauge");
    w.sample("test_collected", {{"topic", "a\"b\\c\nd"}}, int64_t{-4});
  });
  EXPECT_EQ(r.render(),
            "# HELP test_latency_seconds Latency.\n"
            "# TYPE test_latency_seconds histogram\n"
            "test_latency_seconds_bucket{le=\"0.5\"} 0\n"
            "test_latency_seconds_bucket{le=\"1\"} 1\n"
            "test_latency_seconds_bucket{le=\"+Inf\"} 1\n"
            "test_latency_seconds_sum 0.75\n"
            "test_latency_seconds_count 1\n"
            "# HELP test_open Open things.\n"
            "# TYPE test_open gauge\n"
            "test_open 2\n"
            "# HELP test_requests_total Requests.\n"
            "# TYPE test_requests_total counter\n"
            "test_requests_total{api=\"Fetch\"} 1\n"
            "test_requests_total{api=\"Produce\"} 3\n"
            "# HELP test_collected From a collector.\n"
            "# TYPE test_collected gauge\n"
            "test_collected{topic=\"a\\\"b\\\\c\\nd\"} -4\n");
}

TEST(Metrics, RegisteringAgainReturnsTheSameFamily) {
  registry r;
  auto& a = r.counters("test_x_total", "X.", {"k"});
  auto& b = r.counters("test_x_total", "X.", {"k"});
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(&a.with({"1"}), &b.with({"1"}));
  EXPECT_NE(&a.with({"1"}), &a.with({"2"}));
}

TEST(Metrics, RemovedCollectorsStopRunning) {
  registry r;
  int runs = 0;
  auto id = r.add_collector([&runs](text_writer&) { ++runs; });
  r.render();
  r.remove_collector(id);
  r.render();
  EXPECT_EQ(runs, 1);
  {
    collector_handle h(r, [&runs](text_writer&) { ++runs; });
    r.render();
  }
  r.render();
  EXPECT_EQ(runs, 2);
}

TEST(Metrics, ProcessCollectorReadsProc) {
  registry r;
  add_process_collector(r);
  const std::string out = r.render();
  for (const char* name :
       {"process_cpu_seconds_total ", "process_resident_memory_bytes ",
        "process_virtual_memory_bytes ", "process_open_fds ", "process_start_time_seconds "}) {
    EXPECT_NE(out.find(std::string("\n") + name), std::string::npos) << name << "\n" << out;
  }
  // Resident memory of a running test is well above zero.
  auto at = out.find("\nprocess_resident_memory_bytes ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GT(std::stod(out.substr(at + 31)), 1e5);
}

}  // namespace
}  // namespace sluice::metrics
