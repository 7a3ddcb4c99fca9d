// sluice-sync-floor: the acks=all latency floor of an ideal group-commit broker on this disk.
//
//   sluice-sync-floor [--dir D] [--rate 5000] [--size 1024] [--duration 4] [--files 1]
//                     [--sync-threads 1] [--overlap 1] [--prezero 0|1] [--pace-us 0]
//                     [--dump-syncs FILE]
//
// No network, no client, no broker: a writer thread appends `size`-byte records with pwrite at
// exactly `rate` per second on a fixed schedule (open loop, record i is due at start + i/rate;
// a writer that falls behind writes at once and the delay counts), spreading them round-robin
// over `files` files (the partitions). Sync threads run fdatasync on any file with unsynced
// bytes, at most one sync per file in flight (like src/storage/group_commit.h) and start the
// next one as soon as the last returns. A record is acknowledged when the first fdatasync of its
// file that started after its pwrite returned completes, so its latency is that completion time
// minus the record's intended time: what a broker that fdatasyncs before acknowledging could
// offer at best, with zero cost for the network, the client, framing and thread hand-offs.
//
// Variants that ask whether another design could beat one-sync-per-file group commit:
// --overlap K lets up to K syncs of one file run at once (a new one starts whenever there are
// unsynced records; a record is acknowledged by the first of the syncs started after its write
// to complete). --prezero 1 writes and fdatasyncs zeros over the whole run's extent of every file
// before the clock starts, so the run overwrites allocated, written blocks and its fdatasyncs
// change neither the file size nor its extents (no inode write). --pace-us P starts syncs (of
// any file) at least P µs apart, which caps the device's request rate (each sync of an appended
// file is a data write, an inode write and a cache flush).
//
// Prints one JSON object: record latency p50/p99/p999/max (µs), each record on its own and with
// acknowledgements delivered in write order (in_order_latency_us: one Kafka connection answers
// its requests in order, so with several files a slow sync holds back other files' answers;
// the same as latency_us with one file), fdatasyncs/s, sync duration
// p50/p99/max, the number of syncs over 5 ms and the time spent in them, and the slowest
// pwrite. --dump-syncs writes every sync as "start_ns duration_ns file" (start from the run's
// start). The files are created fresh (truncated) in --dir and removed at the end.
//
// Threading: one writer, N sync threads; they share per-file counters under one mutex (the
// writer holds it only to publish a record count, never across a system call).

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;
using ns = std::chrono::nanoseconds;

struct options {
  std::string dir = "/var/tmp";
  double rate = 5000;
  size_t size = 1024;
  double duration = 4;
  size_t files = 1;
  size_t sync_threads = 1;
  size_t overlap = 1;
  bool prezero = false;
  int64_t pace_ns = 0;
  std::string dump_syncs;
};

struct file_state {
  int fd = -1;
  uint64_t end = 0;         // bytes written (writer only)
  size_t written = 0;       // records whose pwrite returned (under mu)
  size_t synced_upto = 0;   // records covered by a started sync (under mu)
  size_t in_flight = 0;     // syncs running (under mu)
  std::vector<size_t> ids;  // global record index of the file's k-th record (writer, then read)
};

struct sync_record {
  int64_t start_ns, end_ns;
  size_t file;
  size_t upto;  // the file's records [0, upto) were written before the sync started
};

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr, "sluice-sync-floor: %s\n(see the comment at the top of sync_floor.cc)\n",
               msg);
  std::exit(2);
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) usage(("missing value for " + a).c_str());
    const char* v = argv[++i];
    if (a == "--dir")
      o.dir = v;
    else if (a == "--rate")
      o.rate = std::atof(v);
    else if (a == "--size")
      o.size = std::strtoul(v, nullptr, 10);
    else if (a == "--duration")
      o.duration = std::atof(v);
    else if (a == "--files")
      o.files = std::strtoul(v, nullptr, 10);
    else if (a == "--sync-threads")
      o.sync_threads = std::strtoul(v, nullptr, 10);
    else if (a == "--overlap")
      o.overlap = std::strtoul(v, nullptr, 10);
    else if (a == "--prezero")
      o.prezero = std::atoi(v) != 0;
    else if (a == "--pace-us")
      o.pace_ns = std::atoll(v) * 1000;
    else if (a == "--dump-syncs")
      o.dump_syncs = v;
    else
      usage(("unknown option " + a).c_str());
  }
  if (o.rate <= 0 || o.size == 0 || o.duration <= 0 || o.files == 0 || o.sync_threads == 0 ||
      o.overlap == 0)
    usage("rate, size, duration, files, sync-threads and overlap must be positive");
  return o;
}

int64_t pct(std::vector<int64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  const size_t total = static_cast<size_t>(o.rate * o.duration);
  const int64_t period_ns = static_cast<int64_t>(1e9 / o.rate);

  std::vector<file_state> files(o.files);
  std::vector<std::string> paths;
  for (size_t f = 0; f < o.files; ++f) {
    paths.push_back(o.dir + "/sluice-sync-floor-" + std::to_string(getpid()) + "-" +
                    std::to_string(f) + ".log");
    files[f].fd = ::open(paths.back().c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (files[f].fd < 0) usage(("cannot create " + paths.back()).c_str());
    if (o.prezero) {
      std::vector<char> zeros(1 << 20, 0);
      const uint64_t extent = (total / o.files + 1) * o.size;
      for (uint64_t off = 0; off < extent; off += zeros.size())
        if (::pwrite(files[f].fd, zeros.data(), zeros.size(), static_cast<off_t>(off)) < 0)
          usage("pwrite of zeros failed");
      if (::fdatasync(files[f].fd) != 0) usage("fdatasync failed");
    }
  }

  std::vector<sync_record> syncs;
  syncs.reserve(static_cast<size_t>(o.duration * 20000));
  std::mutex mu;
  std::condition_variable cv;
  bool writer_done = false;
  size_t idle_syncers = 0;
  int64_t next_start = 0;  // --pace-us: no sync starts before this (ns since t0, under mu)
  const auto t0 = clk::now();
  auto since = [t0](clk::time_point t) { return std::chrono::duration_cast<ns>(t - t0).count(); };

  auto syncer = [&](size_t first) {
    std::unique_lock lock(mu);
    size_t next = first;  // round-robin start, so threads do not all favour file 0
    for (;;) {
      size_t pick = o.files;
      for (size_t k = 0; k < o.files; ++k) {
        size_t f = (next + k) % o.files;
        if (files[f].in_flight < o.overlap && files[f].written > files[f].synced_upto) {
          pick = f;
          break;
        }
      }
      if (pick == o.files) {
        if (writer_done) return;
        ++idle_syncers;
        cv.wait(lock);
        --idle_syncers;
        continue;
      }
      if (o.pace_ns > 0) {
        const int64_t now = since(clk::now());
        if (now < next_start) {  // too soon after the last sync started: wait, then look again
          lock.unlock();
          std::this_thread::sleep_for(ns(next_start - now));
          lock.lock();
          continue;
        }
        next_start = now + o.pace_ns;
      }
      next = pick + 1;
      file_state& fs = files[pick];
      const size_t upto = fs.written;
      fs.synced_upto = upto;
      ++fs.in_flight;
      lock.unlock();
      const int64_t s = since(clk::now());
      if (::fdatasync(fs.fd) != 0) usage("fdatasync failed");
      const int64_t e = since(clk::now());
      lock.lock();
      --fs.in_flight;
      syncs.push_back({s, e, pick, upto});
      if (idle_syncers) cv.notify_one();  // this file may have more for another thread
    }
  };

  std::vector<std::thread> threads;
  for (size_t t = 0; t < o.sync_threads; ++t) threads.emplace_back(syncer, t % o.files);

  std::vector<char> record(o.size, 'x');
  int64_t slowest_write_ns = 0;
  for (auto& fs : files) fs.ids.reserve(total / o.files + 1);
  for (size_t i = 0; i < total; ++i) {
    const auto due = t0 + ns(static_cast<int64_t>(i) * period_ns);
    std::this_thread::sleep_until(due);
    file_state& fs = files[i % o.files];
    const auto w0 = clk::now();
    if (::pwrite(fs.fd, record.data(), o.size, static_cast<off_t>(fs.end)) !=
        static_cast<ssize_t>(o.size))
      usage("pwrite failed");
    slowest_write_ns = std::max<int64_t>(slowest_write_ns, since(clk::now()) - since(w0));
    fs.end += o.size;
    fs.ids.push_back(i);
    std::lock_guard lock(mu);
    ++fs.written;
    if (idle_syncers) cv.notify_one();
  }
  {
    std::lock_guard lock(mu);
    writer_done = true;
  }
  cv.notify_all();
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(clk::now() - t0).count();

  // A record is acknowledged by the earliest-completing sync of its file that started after its
  // write: walk each file's syncs in completion order.
  std::vector<int64_t> acked(total, -1);
  std::vector<sync_record> by_end = syncs;
  std::sort(by_end.begin(), by_end.end(),
            [](const sync_record& a, const sync_record& b) { return a.end_ns < b.end_ns; });
  std::vector<size_t> covered(o.files, 0);
  for (const auto& s : by_end) {
    for (size_t k = covered[s.file]; k < s.upto; ++k) acked[files[s.file].ids[k]] = s.end_ns;
    covered[s.file] = std::max(covered[s.file], s.upto);
  }
  // lat: each record on its own. in_order: acknowledgements delivered in write order, as one
  // Kafka connection must answer its requests (with several files a record whose sync is slow
  // holds back the answers for later records of other files).
  std::vector<int64_t> lat, in_order;
  lat.reserve(total);
  in_order.reserve(total);
  int64_t answered = 0;
  for (size_t i = 0; i < total; ++i) {
    const int64_t intended = static_cast<int64_t>(i) * period_ns;
    answered = std::max(answered, acked[i]);
    lat.push_back((acked[i] - intended) / 1000);
    in_order.push_back((answered - intended) / 1000);
  }
  std::vector<int64_t> dur;
  int64_t long_count = 0, long_ns = 0;
  for (const auto& s : syncs) {
    dur.push_back((s.end_ns - s.start_ns) / 1000);
    if (s.end_ns - s.start_ns > 5'000'000) {
      ++long_count;
      long_ns += s.end_ns - s.start_ns;
    }
  }
  if (!o.dump_syncs.empty()) {
    if (FILE* d = std::fopen(o.dump_syncs.c_str(), "w")) {
      // First line: the run's start on CLOCK_MONOTONIC (ns), to line up with `perf -k mono`.
      std::fprintf(
          d, "# t0 %lld\n",
          static_cast<long long>(std::chrono::duration_cast<ns>(t0.time_since_epoch()).count()));
      for (const auto& s : syncs)
        std::fprintf(d, "%lld %lld %zu\n", static_cast<long long>(s.start_ns),
                     static_cast<long long>(s.end_ns - s.start_ns), s.file);
      std::fclose(d);
    }
  }
  for (size_t f = 0; f < o.files; ++f) {
    ::close(files[f].fd);
    ::unlink(paths[f].c_str());
  }

  std::printf(
      "{\"records\": %zu, \"files\": %zu, \"sync_threads\": %zu, \"overlap\": %zu, "
      "\"prezero\": %s, \"pace_us\": %lld, \"rate\": %.0f, \"size\": %zu, "
      "\"seconds\": %.3f, \"latency_us\": {\"p50\": %lld, \"p99\": %lld, \"p999\": %lld, "
      "\"max\": %lld}, \"in_order_latency_us\": {\"p50\": %lld, \"p99\": %lld, \"p999\": %lld, "
      "\"max\": %lld}, \"fsyncs\": %zu, \"fsyncs_per_s\": %.0f, \"sync_us\": {\"p50\": %lld, "
      "\"p99\": %lld, \"p999\": %lld, \"max\": %lld}, \"syncs_over_5ms\": %lld, "
      "\"ms_in_syncs_over_5ms\": %.1f, \"slowest_pwrite_us\": %lld}\n",
      total, o.files, o.sync_threads, o.overlap, o.prezero ? "true" : "false",
      static_cast<long long>(o.pace_ns / 1000), o.rate, o.size, elapsed,
      static_cast<long long>(pct(lat, 0.5)), static_cast<long long>(pct(lat, 0.99)),
      static_cast<long long>(pct(lat, 0.999)), static_cast<long long>(pct(lat, 1.0)),
      static_cast<long long>(pct(in_order, 0.5)), static_cast<long long>(pct(in_order, 0.99)),
      static_cast<long long>(pct(in_order, 0.999)), static_cast<long long>(pct(in_order, 1.0)),
      syncs.size(), static_cast<double>(syncs.size()) / elapsed,
      static_cast<long long>(pct(dur, 0.5)), static_cast<long long>(pct(dur, 0.99)),
      static_cast<long long>(pct(dur, 0.999)), static_cast<long long>(pct(dur, 1.0)),
      static_cast<long long>(long_count), static_cast<double>(long_ns) / 1e6,
      static_cast<long long>(slowest_write_ns / 1000));
  return 0;
}
