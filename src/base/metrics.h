#pragma once
// Metrics: counters, gauges and histograms any module may update, rendered in the Prometheus
// text exposition format (version 0.0.4) at scrape time.
//
// Contract:
// - Updating a metric (counter::inc, gauge::add/set, histogram::observe) is lock-free: relaxed
//   atomics only. Counters and histograms are striped over kStripes cache-line-sized cells
//   chosen per thread, so shards updating the same metric do not share a cache line; a scrape
//   sums the stripes. A scrape may see an update in a counter and not yet in its twin (sum vs
//   count): Prometheus tolerates that, and nothing reads these values for decisions.
// - Families (one metric name, fixed label names) hand out children per label values with
//   with(). That takes the family's mutex: look children up once (at startup, topic creation)
//   and keep the reference, never per request. Children live as long as the registry.
// - Collectors are callbacks run at scrape time for values that are cheaper to read than to
//   track (partition offsets, process RSS/CPU, group lag): they write whole families through a
//   text_writer.
//
// Thread safety: everything is safe from any thread. A collector runs on the scraping thread.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::metrics {

inline constexpr size_t kStripes = 8;
// The calling thread's stripe (assigned round-robin on a thread's first use).
size_t this_stripe();

class counter {
 public:
  void inc(uint64_t n = 1) { _cells[this_stripe()].v.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const;

 private:
  struct alignas(64) cell {
    std::atomic<uint64_t> v{0};
  };
  std::array<cell, kStripes> _cells;
};

// A value that goes up and down (connections, waiters). One atomic: gauges change at the rate
// of connections or waits, not of bytes.
class gauge {
 public:
  void set(int64_t v) { _v.store(v, std::memory_order_relaxed); }
  void add(int64_t n = 1) { _v.fetch_add(n, std::memory_order_relaxed); }
  void sub(int64_t n = 1) { _v.fetch_sub(n, std::memory_order_relaxed); }
  int64_t value() const { return _v.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> _v{0};
};

class histogram {
 public:
  // `bounds`: the buckets' inclusive upper bounds, ascending; +Inf is implied.
  explicit histogram(std::vector<double> bounds);
  void observe(double v);
  void observe(std::chrono::steady_clock::duration d) {
    observe(std::chrono::duration<double>(d).count());
  }

  struct snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  snapshot collect() const;

 private:
  struct alignas(64) sum_cell {
    std::atomic<double> v{0};
  };
  // Bucket counts, one run of whole cache lines per stripe so stripes never share a line.
  struct alignas(64) line {
    std::array<std::atomic<uint64_t>, 8> v{};
  };
  std::atomic<uint64_t>& count_at(size_t stripe, size_t bucket) const {
    const size_t i = stripe * _stride + bucket;
    return _counts[i / 8].v[i % 8];
  }
  std::vector<double> _bounds;
  size_t _stride;  // atomics per stripe (bounds + 1, rounded up to a cache line)
  std::unique_ptr<line[]> _counts;
  std::array<sum_cell, kStripes> _sums;
};

// Latency buckets in seconds (100 us .. 10 s), for request and fsync times.
std::vector<double> latency_buckets();

using labels = std::vector<std::pair<std::string, std::string>>;

// Writes the text format: one header per family, then its samples.
class text_writer {
 public:
  explicit text_writer(std::string& out) : _out(out) {}
  // type: "counter", "gauge" or "histogram".
  void header(std::string_view name, std::string_view help, std::string_view type);
  void sample(std::string_view name, const labels& l, double value);
  void sample(std::string_view name, const labels& l, uint64_t value);
  void sample(std::string_view name, const labels& l, int64_t value);
  void histogram_samples(std::string_view name, const labels& l, const histogram::snapshot& s);

 private:
  void name_and_labels(std::string_view name, const labels& l);
  std::string& _out;
};

enum class kind { counter, gauge, histogram };

class family_base {
 public:
  family_base(std::string name, std::string help, std::vector<std::string> label_names)
      : _name(std::move(name)), _help(std::move(help)), _label_names(std::move(label_names)) {}
  virtual ~family_base() = default;
  virtual kind what() const = 0;
  virtual void render(text_writer& w) const = 0;
  const std::string& name() const { return _name; }

 protected:
  labels zip(const std::vector<std::string>& values) const;
  std::string _name;
  std::string _help;
  std::vector<std::string> _label_names;
  mutable std::mutex _mu;
};

template <class T>
class family final : public family_base {
 public:
  family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<T>()> make)
      : family_base(std::move(name), std::move(help), std::move(label_names)),
        _make(std::move(make)) {}
  // The child for these label values (one per label name), created on first use.
  T& with(std::vector<std::string> values) {
    std::lock_guard lock(_mu);
    auto& slot = _children[std::move(values)];
    if (!slot) slot = _make();
    return *slot;
  }
  kind what() const override;
  void render(text_writer& w) const override;

 private:
  std::function<std::unique_ptr<T>()> _make;
  std::map<std::vector<std::string>, std::unique_ptr<T>> _children;
};

template <>
kind family<counter>::what() const;
template <>
kind family<gauge>::what() const;
template <>
kind family<histogram>::what() const;
template <>
void family<counter>::render(text_writer& w) const;
template <>
void family<gauge>::render(text_writer& w) const;
template <>
void family<histogram>::render(text_writer& w) const;

using collector = std::function<void(text_writer&)>;

class registry {
 public:
  // The process-wide registry (what sluiced serves at /metrics).
  static registry& global();

  // Registering a name again returns the existing family: callers need not coordinate. A name
  // registered with another kind or label set is a programming error (aborts).
  family<counter>& counters(std::string name, std::string help, std::vector<std::string> labels);
  family<gauge>& gauges(std::string name, std::string help, std::vector<std::string> labels);
  family<histogram>& histograms(std::string name, std::string help, std::vector<std::string> labels,
                                std::vector<double> bounds);
  // Shorthands for a metric without labels.
  counter& counter_metric(std::string name, std::string help) {
    return counters(std::move(name), std::move(help), {}).with({});
  }
  gauge& gauge_metric(std::string name, std::string help) {
    return gauges(std::move(name), std::move(help), {}).with({});
  }
  histogram& histogram_metric(std::string name, std::string help, std::vector<double> bounds) {
    return histograms(std::move(name), std::move(help), {}, std::move(bounds)).with({});
  }

  // Runs `c` on every scrape until remove_collector(id). The caller keeps what `c` captures
  // alive until then, and past any scrape still running (render() runs collectors without the
  // registry's lock): stop scraping threads before removing a collector whose state goes away.
  uint64_t add_collector(collector c);
  void remove_collector(uint64_t id);

  // Every family (sorted by name), then every collector's output.
  std::string render() const;

 private:
  template <class T>
  family<T>& find_or_add(std::string name, std::string help, std::vector<std::string> labels,
                         std::function<std::unique_ptr<T>()> make);

  mutable std::mutex _mu;
  std::map<std::string, std::unique_ptr<family_base>, std::less<>> _families;
  std::map<uint64_t, collector> _collectors;
  uint64_t _next_collector = 1;
};

// Adds process_resident_memory_bytes, process_virtual_memory_bytes, process_cpu_seconds_total,
// process_open_fds and process_start_time_seconds (the names Prometheus client libraries use),
// read from /proc/self at scrape time.
void add_process_collector(registry& r);

// RAII for a collector registration.
class collector_handle {
 public:
  collector_handle() = default;
  collector_handle(registry& r, collector c) : _r(&r), _id(r.add_collector(std::move(c))) {}
  collector_handle(const collector_handle&) = delete;
  collector_handle& operator=(const collector_handle&) = delete;
  ~collector_handle() {
    if (_r != nullptr) _r->remove_collector(_id);
  }

 private:
  registry* _r = nullptr;
  uint64_t _id = 0;
};

}  // namespace sluice::metrics
