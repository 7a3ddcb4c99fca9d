#include "src/base/metrics.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sluice::metrics {

size_t this_stripe() {
  static std::atomic<size_t> next{0};
  thread_local const size_t stripe = next.fetch_add(1, std::memory_order_relaxed) % kStripes;
  return stripe;
}

uint64_t counter::value() const {
  uint64_t total = 0;
  for (const auto& c : _cells) total += c.v.load(std::memory_order_relaxed);
  return total;
}

histogram::histogram(std::vector<double> bounds)
    : _bounds(std::move(bounds)),
      _stride((_bounds.size() + 1 + 7) / 8 * 8),
      _counts(new line[_stride * kStripes / 8]) {}

void histogram::observe(double v) {
  const size_t bucket =
      static_cast<size_t>(std::lower_bound(_bounds.begin(), _bounds.end(), v) - _bounds.begin());
  const size_t stripe = this_stripe();
  count_at(stripe, bucket).fetch_add(1, std::memory_order_relaxed);
  _sums[stripe].v.fetch_add(v, std::memory_order_relaxed);
}

histogram::snapshot histogram::collect() const {
  snapshot s;
  s.bounds = _bounds;
  std::vector<uint64_t> per_bucket(_bounds.size() + 1, 0);
  for (size_t stripe = 0; stripe < kStripes; ++stripe) {
    for (size_t b = 0; b < per_bucket.size(); ++b) {
      per_bucket[b] += count_at(stripe, b).load(std::memory_order_relaxed);
    }
    s.sum += _sums[stripe].v.load(std::memory_order_relaxed);
  }
  uint64_t running = 0;
  for (uint64_t c : per_bucket) {
    running += c;
    s.cumulative.push_back(running);
  }
  s.count = running;
  return s;
}

std::vector<double> latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};
}

namespace {

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

void escape_label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void escape_help(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

}  // namespace

void text_writer::header(std::string_view name, std::string_view help, std::string_view type) {
  _out += "# HELP ";
  _out += name;
  _out += ' ';
  escape_help(_out, help);
  _out += "\n# TYPE ";
  _out += name;
  _out += ' ';
  _out += type;
  _out += '\n';
}

void text_writer::name_and_labels(std::string_view name, const labels& l) {
  _out += name;
  if (l.empty()) return;
  _out += '{';
  for (size_t i = 0; i < l.size(); ++i) {
    if (i != 0) _out += ',';
    _out += l[i].first;
    _out += "=\"";
    escape_label_value(_out, l[i].second);
    _out += '"';
  }
  _out += '}';
}

void text_writer::sample(std::string_view name, const labels& l, double value) {
  name_and_labels(name, l);
  _out += ' ';
  _out += format_value(value);
  _out += '\n';
}

void text_writer::sample(std::string_view name, const labels& l, uint64_t value) {
  name_and_labels(name, l);
  _out += ' ';
  _out += std::to_string(value);
  _out += '\n';
}

void text_writer::sample(std::string_view name, const labels& l, int64_t value) {
  name_and_labels(name, l);
  _out += ' ';
  _out += std::to_string(value);
  _out += '\n';
}

void text_writer::histogram_samples(std::string_view name, const labels& l,
                                    const histogram::snapshot& s) {
  const std::string bucket = std::string(name) + "_bucket";
  labels with_le = l;
  with_le.emplace_back("le", "");
  for (size_t i = 0; i < s.cumulative.size(); ++i) {
    with_le.back().second = i < s.bounds.size() ? format_value(s.bounds[i]) : "+Inf";
    sample(bucket, with_le, s.cumulative[i]);
  }
  sample(std::string(name) + "_sum", l, s.sum);
  sample(std::string(name) + "_count", l, s.count);
}

labels family_base::zip(const std::vector<std::string>& values) const {
  labels out;
  for (size_t i = 0; i < _label_names.size() && i < values.size(); ++i) {
    out.emplace_back(_label_names[i], values[i]);
  }
  return out;
}

template <>
kind family<counter>::what() const {
  return kind::counter;
}
template <>
kind family<gauge>::what() const {
  return kind::gauge;
}
template <>
kind family<histogram>::what() const {
  return kind::histogram;
}

template <>
void family<counter>::render(text_writer& w) const {
  w.header(_name, _help, "counter");
  std::lock_guard lock(_mu);
  for (const auto& [values, c] : _children) w.sample(_name, zip(values), c->value());
}

template <>
void family<gauge>::render(text_writer& w) const {
  w.header(_name, _help, "gauge");
  std::lock_guard lock(_mu);
  for (const auto& [values, g] : _children) w.sample(_name, zip(values), g->value());
}

template <>
void family<histogram>::render(text_writer& w) const {
  w.header(_name, _help, "histogram");
  std::lock_guard lock(_mu);
  for (const auto& [values, h] : _children) w.histogram_samples(_name, zip(values), h->collect());
}

registry& registry::global() {
  static registry* r = new registry();  // never destroyed: metrics may be touched during exit
  return *r;
}

template <class T>
family<T>& registry::find_or_add(std::string name, std::string help,
                                 std::vector<std::string> labels,
                                 std::function<std::unique_ptr<T>()> make) {
  std::lock_guard lock(_mu);
  auto it = _families.find(name);
  if (it == _families.end()) {
    auto f = std::make_unique<family<T>>(name, std::move(help), std::move(labels), std::move(make));
    it = _families.emplace(std::move(name), std::move(f)).first;
  }
  auto* f = dynamic_cast<family<T>*>(it->second.get());
  if (f == nullptr) {
    std::fprintf(stderr, "metric %s registered twice with different kinds\n", it->first.c_str());
    std::abort();
  }
  return *f;
}

family<counter>& registry::counters(std::string name, std::string help,
                                    std::vector<std::string> labels) {
  return find_or_add<counter>(std::move(name), std::move(help), std::move(labels),
                              [] { return std::make_unique<counter>(); });
}

family<gauge>& registry::gauges(std::string name, std::string help,
                                std::vector<std::string> labels) {
  return find_or_add<gauge>(std::move(name), std::move(help), std::move(labels),
                            [] { return std::make_unique<gauge>(); });
}

family<histogram>& registry::histograms(std::string name, std::string help,
                                        std::vector<std::string> labels,
                                        std::vector<double> bounds) {
  return find_or_add<histogram>(std::move(name), std::move(help), std::move(labels),
                                [bounds] { return std::make_unique<histogram>(bounds); });
}

uint64_t registry::add_collector(collector c) {
  std::lock_guard lock(_mu);
  const uint64_t id = _next_collector++;
  _collectors.emplace(id, std::move(c));
  return id;
}

void registry::remove_collector(uint64_t id) {
  std::lock_guard lock(_mu);
  _collectors.erase(id);
}

std::string registry::render() const {
  // Copy under the lock, render without it: a collector may wait for shards, and a shard may
  // meanwhile register a family (a partition opening) and must not wait for the scrape.
  std::vector<const family_base*> families;
  std::vector<collector> collectors;
  {
    std::lock_guard lock(_mu);
    for (const auto& [name, f] : _families) families.push_back(f.get());
    for (const auto& [id, c] : _collectors) collectors.push_back(c);
  }
  std::string out;
  text_writer w(out);
  for (const auto* f : families) f->render(w);
  for (const auto& c : collectors) c(w);
  return out;
}

namespace {

// Fields of /proc/self/stat after the command name: state is field 3.
struct proc_stat {
  double utime_ticks = 0;
  double stime_ticks = 0;
  double start_ticks = 0;
  double vsize = 0;
  double rss_pages = 0;
};

bool read_proc_stat(proc_stat& s) {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  auto close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(line.substr(close + 2));
  std::vector<std::string> f;
  for (std::string x; fields >> x;) f.push_back(x);
  // f[0] is field 3 (state); utime 14, stime 15, starttime 22, vsize 23, rss 24.
  if (f.size() < 22) return false;
  s.utime_ticks = std::strtod(f[11].c_str(), nullptr);
  s.stime_ticks = std::strtod(f[12].c_str(), nullptr);
  s.start_ticks = std::strtod(f[19].c_str(), nullptr);
  s.vsize = std::strtod(f[20].c_str(), nullptr);
  s.rss_pages = std::strtod(f[21].c_str(), nullptr);
  return true;
}

double boot_time_seconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double v = 0;
      in >> v;
      return v;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace

void add_process_collector(registry& r) {
  r.add_collector([](text_writer& w) {
    proc_stat s;
    if (!read_proc_stat(s)) return;
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    w.header("process_cpu_seconds_total", "User and system CPU time spent in seconds.", "counter");
    w.sample("process_cpu_seconds_total", {}, (s.utime_ticks + s.stime_ticks) / ticks);
    w.header("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge");
    w.sample("process_resident_memory_bytes", {}, s.rss_pages * page);
    w.header("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge");
    w.sample("process_virtual_memory_bytes", {}, s.vsize);
    w.header("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
             "gauge");
    w.sample("process_start_time_seconds", {}, boot_time_seconds() + s.start_ticks / ticks);
    std::error_code ec;
    int64_t fds = 0;
    for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
         it.increment(ec)) {
      ++fds;
    }
    w.header("process_open_fds", "Number of open file descriptors.", "gauge");
    w.sample("process_open_fds", {}, fds);
  });
}

}  // namespace sluice::metrics
