// sluice-bench-storage: end-to-end figures for the partition log on this machine's disk.
//
//   sluice-bench-storage [--dir DIR] [--mib N] [--reserve-kib K] [--json]
//
// --reserve-kib sets log_options::reserve_bytes (blocks reserved ahead of the active segment's
// end; default the log's), e.g. 0 for an A/B without it.
//
// append_mb_s         1 KiB records in 16 KiB batches appended to one log, page cache, no fsync
// read_mb_s           sequential reads of the (cached) segments just written, 1 MiB at a time
//                     (log::read for the range, pread into one reused buffer)
//                     SLUICE_BENCH_READ_PASSES=N adds N more passes of that loop, each beside a
//                     plain pread of the same ranges, then ::sync() and N more (stderr)
// recovery_s_per_gib  reopening after an unclean stop: the whole active segment is scanned,
//                     lengths and CRCs validated, the index rebuilt. Includes open()'s directory
//                     fsync, which on ext4 (data=ordered) waits for the writeback of the data
//                     appended just before
// recovery_settled_s_per_gib  the same unclean reopen again, once that data is on disk: the
//                     scan itself
// append_durable_mb_s 8 concurrent writers, each appending a 16 KiB batch with append_durable and
//                     its next one only once that one is durable (acks=all producers with one
//                     batch in flight); all on the log's owner thread, fdatasync on a
//                     sync_worker. MB/s of acknowledged data
// fsyncs_per_s        fdatasyncs per second during that run; acks_per_fsync how many writers one
//                     fdatasync served on average (group commit)
// durable_acks_s      acks=all appends of 1-record batches, 64 waiting at a time, group commit
//                     on a sync_worker (fdatasync); fsyncs_per_ack shows how many acks one
//                     fdatasync served
//
// Figures are wall-clock and depend on the machine; `./dev bench storage` runs this beside fio
// on the same disk and prints the ratios.

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "src/protocol/record_batch.h"
#include "src/storage/file_io.h"
#include "src/storage/group_commit.h"
#include "src/storage/log.h"

namespace {

using namespace sluice;
using clock_type = std::chrono::steady_clock;

// log_options::reserve_bytes for every log the bench opens (--reserve-kib).
uint64_t g_reserve_bytes = storage::log_options{}.reserve_bytes;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

[[noreturn]] void die(const std::string& what, std::error_code ec) {
  std::fprintf(stderr, "sluice-bench-storage: %s: %s\n", what.c_str(), ec.message().c_str());
  std::exit(1);
}

// One 16 KiB batch of 16 x 1 KiB records. append() rewrites only its baseOffset in place (outside
// the CRC), so the same bytes can be appended again and again, as fio writes one buffer.
wire::bytes make_batch() {
  std::vector<uint8_t> value(1024);
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<uint8_t>('a' + i % 26);
  records::batch_builder b;
  for (int i = 0; i < 16; ++i) b.add(1700000000000 + i, std::nullopt, value);
  auto batch = b.build();
  if (!batch) die("build batch", batch.error());
  return std::move(batch.value());
}

struct figures {
  double append_mb_s = 0;
  double read_mb_s = 0;
  double recovery_s_per_gib = 0;
  double recovery_settled_s_per_gib = 0;
  uint64_t bytes = 0;
  uint64_t batch_bytes = 0;  // size of one appended batch (run.sh gives fio the same write size)
  double durable_acks_s = 0;
  double fsyncs_per_ack = 0;
  double append_durable_mb_s = 0;
  double fsyncs_per_s = 0;
  double acks_per_fsync = 0;
};

// The owner's event loop, reduced to a queue that the sync_worker posts completions to.
class owner_loop {
 public:
  storage::executor post_back() {
    return [this](storage::task t) {
      {
        std::lock_guard lock(_mu);
        _q.push_back(std::move(t));
      }
      _cv.notify_one();
    };
  }
  void run_one_batch() {
    std::deque<storage::task> q;
    {
      std::unique_lock lock(_mu);
      _cv.wait(lock, [this] { return !_q.empty(); });
      q.swap(_q);
    }
    for (auto& t : q) t();
  }

 private:
  std::mutex _mu;
  std::condition_variable _cv;
  std::deque<storage::task> _q;
};

// acks=all: keeps `depth` durable appends outstanding until `acks` completed.
void run_durable(const std::string& dir, figures& f) {
  storage::posix_file_system fs;
  storage::sync_worker worker(1);
  owner_loop owner;
  storage::log_options opts;
  opts.reserve_bytes = g_reserve_bytes;
  opts.sync_executor = worker.as_executor();
  opts.post_back = owner.post_back();
  auto lg = storage::log::open(fs, dir + "/durable", opts);
  if (!lg) die("open durable log", lg.error());
  records::batch_builder b;
  std::vector<uint8_t> value(100, 'v');
  b.add(1700000000000, std::nullopt, value);
  const wire::bytes tmpl = b.build().value();
  constexpr int kAcks = 20000;
  constexpr int kDepth = 64;
  int sent = 0;
  int acked = 0;
  auto t0 = clock_type::now();
  while (acked < kAcks) {
    while (sent < kAcks && sent - acked < kDepth) {
      wire::bytes batch = tmpl;
      auto r = lg.value()->append_durable(batch, [&](std::error_code ec) {
        if (ec) die("durable append", ec);
        ++acked;
      });
      if (!r) die("append", r.error());
      ++sent;
    }
    owner.run_one_batch();
  }
  f.durable_acks_s = kAcks / seconds_since(t0);
  f.fsyncs_per_ack = static_cast<double>(lg.value()->fsync_count()) / kAcks;
}

// 8 writers, each with one durable 16 KiB batch outstanding, for about `seconds`.
void run_durable_writers(const std::string& dir, figures& f, double seconds) {
  constexpr int kWriters = 8;
  storage::posix_file_system fs;
  storage::sync_worker worker(1);
  owner_loop owner;
  storage::log_options opts;
  opts.reserve_bytes = g_reserve_bytes;
  opts.sync_executor = worker.as_executor();
  opts.post_back = owner.post_back();
  auto lg = storage::log::open(fs, dir + "/durable-writers", opts);
  if (!lg) die("open durable-writers log", lg.error());
  const wire::bytes tmpl = make_batch();
  std::vector<wire::bytes> batches(kWriters, tmpl);
  uint64_t acked = 0;
  uint64_t acked_bytes = 0;
  int outstanding = 0;
  bool stopping = false;
  std::function<void(int)> send = [&](int w) {
    std::memcpy(batches[w].data(), tmpl.data(), tmpl.size());
    auto r = lg.value()->append_durable(batches[w], [&, w](std::error_code ec) {
      if (ec) die("durable append", ec);
      ++acked;
      acked_bytes += tmpl.size();
      --outstanding;
      if (!stopping) send(w);
    });
    if (!r) die("append", r.error());
    ++outstanding;
  };
  const uint64_t fsyncs0 = lg.value()->fsync_count();
  auto t0 = clock_type::now();
  for (int w = 0; w < kWriters; ++w) send(w);
  while (outstanding > 0) {
    owner.run_one_batch();
    if (!stopping && seconds_since(t0) >= seconds) stopping = true;
  }
  const double elapsed = seconds_since(t0);
  const auto fsyncs = static_cast<double>(lg.value()->fsync_count() - fsyncs0);
  f.append_durable_mb_s = static_cast<double>(acked_bytes) / 1e6 / elapsed;
  f.fsyncs_per_s = fsyncs / elapsed;
  f.acks_per_fsync = fsyncs > 0 ? static_cast<double>(acked) / fsyncs : 0;
}

// One sequential pass of the read phase; appends each range to `ranges` when given.
uint64_t read_pass(storage::log& lg, std::vector<uint8_t>& buf,
                   std::vector<std::pair<storage::segment*, storage::byte_range>>* ranges) {
  uint64_t read = 0;
  int64_t offset = lg.log_start_offset();
  while (offset < lg.log_end_offset()) {
    auto r = lg.read(offset, buf.size());
    if (!r) die("read", r.error());
    if (r.value().seg == nullptr) break;
    const auto len = static_cast<size_t>(r.value().range.length);
    if (len > buf.size()) buf.resize(len);  // KIP-74: one batch larger than max_bytes
    std::span<uint8_t> bytes(buf.data(), len);
    auto n = r.value().seg->log_file().pread(r.value().range.position, bytes);
    if (!n || n.value() != len) die("read", n ? errc::truncated : n.error());
    if (ranges != nullptr) ranges->emplace_back(r.value().seg, r.value().range);
    read += len;
    records::batch_iterator it(bytes, len);
    int64_t last = offset;
    while (const auto* b = it.next()) last = b->header.last_offset();
    offset = last + 1;
  }
  return read;
}

// SLUICE_BENCH_READ_PASSES=N: after the timed read, N alternating passes of the same loop and
// of plain preads of the same ranges (no log::read, no header walk), then ::sync() and N more;
// MB/s to stderr. Tells the read loop's own cost from the page cache's and writeback's.
void diagnose_read(storage::log& lg, int passes) {
  std::vector<std::pair<storage::segment*, storage::byte_range>> ranges;
  std::vector<uint8_t> buf(1 << 20);
  read_pass(lg, buf, &ranges);
  auto plain = [&] {
    uint64_t read = 0;
    for (const auto& [seg, range] : ranges) {
      std::span<uint8_t> bytes(buf.data(), range.length);
      auto n = seg->log_file().pread(range.position, bytes);
      if (!n || n.value() != range.length) die("read", n ? errc::truncated : n.error());
      read += range.length;
    }
    return read;
  };
  for (int round = 0; round < 2; ++round) {
    if (round == 1) ::sync();
    for (int i = 0; i < passes; ++i) {
      auto t = clock_type::now();
      const uint64_t a = read_pass(lg, buf, nullptr);
      const double log_mb_s = static_cast<double>(a) / 1e6 / seconds_since(t);
      t = clock_type::now();
      const uint64_t b = plain();
      const double plain_mb_s = static_cast<double>(b) / 1e6 / seconds_since(t);
      std::fprintf(
          stderr, "read pass %s %d: log loop %.1f MB/s, plain pread %.1f MB/s (%zu reads)\n",
          round == 0 ? "after write" : "after sync", i, log_mb_s, plain_mb_s, ranges.size());
    }
  }
}

figures run(const std::string& dir, uint64_t total_bytes) {
  figures f;
  storage::posix_file_system fs;
  wire::bytes batch = make_batch();
  uint64_t batches = total_bytes / batch.size();
  f.bytes = batches * batch.size();
  f.batch_bytes = batch.size();

  // Append: one log, large segments so the active segment holds everything (recovery below).
  storage::log_options opts;
  opts.reserve_bytes = g_reserve_bytes;
  opts.segment_bytes = storage::segment::kMaxSize;
  {
    auto lg = storage::log::open(fs, dir + "/p0", opts);
    if (!lg) die("open log", lg.error());
    auto t0 = clock_type::now();
    for (uint64_t i = 0; i < batches; ++i) {
      auto r = lg.value()->append(batch);
      if (!r) die("append", r.error());
    }
    f.append_mb_s = static_cast<double>(f.bytes) / 1e6 / seconds_since(t0);

    // Read back sequentially, 1 MiB per read, as a consumer catching up would: log::read() finds
    // the range (what Fetch sends), one pread copies it into a buffer reused across reads (as dd
    // or fio do; log::read_bytes() would allocate and zero a new one each time).
    auto t1 = clock_type::now();
    std::vector<uint8_t> buf(1 << 20);
    const uint64_t read = read_pass(*lg.value(), buf, nullptr);
    f.read_mb_s = static_cast<double>(read) / 1e6 / seconds_since(t1);
    if (const char* e = std::getenv("SLUICE_BENCH_READ_PASSES"))
      diagnose_read(*lg.value(), std::atoi(e));
    // No close(): the next open sees an unclean stop and recovers the active segment.
  }

  auto t2 = clock_type::now();
  auto lg = storage::log::open(fs, dir + "/p0", opts);
  if (!lg) die("reopen log", lg.error());
  double recovery_s = seconds_since(t2);
  f.recovery_s_per_gib = recovery_s / (static_cast<double>(f.bytes) / (1ull << 30));
  if (lg.value()->recovery().valid_bytes != f.bytes) {
    std::fprintf(stderr, "sluice-bench-storage: recovery kept %llu of %llu bytes\n",
                 static_cast<unsigned long long>(lg.value()->recovery().valid_bytes),
                 static_cast<unsigned long long>(f.bytes));
    std::exit(1);
  }
  lg.value().reset();  // unclean again: no close()
  auto t3 = clock_type::now();
  auto again = storage::log::open(fs, dir + "/p0", opts);
  if (!again) die("reopen log", again.error());
  f.recovery_settled_s_per_gib = seconds_since(t3) / (static_cast<double>(f.bytes) / (1ull << 30));
  if (again.value()->recovery().valid_bytes != f.bytes) die("second recovery", errc::invalid_data);
  again.value().reset();
  run_durable(dir, f);
  run_durable_writers(dir, f, 3.0);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  uint64_t mib = 512;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--mib" && i + 1 < argc) {
      mib = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--reserve-kib" && i + 1 < argc) {
      g_reserve_bytes = std::strtoull(argv[++i], nullptr, 10) * 1024;
    } else if (a == "--json") {
      json = true;
    } else {
      std::fprintf(
          stderr, "usage: sluice-bench-storage [--dir DIR] [--mib N] [--reserve-kib K] [--json]\n");
      return 2;
    }
  }
  bool own_dir = dir.empty();
  if (own_dir) {
    dir = (std::filesystem::temp_directory_path() /
           ("sluice-bench-storage-" + std::to_string(::getpid())))
              .string();
  }
  std::filesystem::create_directories(dir);
  figures f = run(dir, mib << 20);
  if (own_dir) std::filesystem::remove_all(dir);
  if (json) {
    std::printf(
        "{\"bytes\": %llu, \"batch_bytes\": %llu, \"append_mb_s\": %.1f, \"read_mb_s\": %.1f, "
        "\"recovery_s_per_gib\": %.3f, \"recovery_settled_s_per_gib\": %.3f, "
        "\"append_durable_mb_s\": %.1f, \"fsyncs_per_s\": %.0f, "
        "\"acks_per_fsync\": %.2f, \"durable_acks_s\": %.0f, \"fsyncs_per_ack\": %.4f}\n",
        static_cast<unsigned long long>(f.bytes), static_cast<unsigned long long>(f.batch_bytes),
        f.append_mb_s, f.read_mb_s, f.recovery_s_per_gib, f.recovery_settled_s_per_gib,
        f.append_durable_mb_s, f.fsyncs_per_s, f.acks_per_fsync, f.durable_acks_s,
        f.fsyncs_per_ack);
  } else {
    std::printf("bytes               %llu\n", static_cast<unsigned long long>(f.bytes));
    std::printf("append_mb_s         %.1f\n", f.append_mb_s);
    std::printf("read_mb_s           %.1f\n", f.read_mb_s);
    std::printf("recovery_s_per_gib  %.3f\n", f.recovery_s_per_gib);
    std::printf("recovery_settled_s_per_gib %.3f\n", f.recovery_settled_s_per_gib);
    std::printf("append_durable_mb_s %.1f\n", f.append_durable_mb_s);
    std::printf("fsyncs_per_s        %.0f\n", f.fsyncs_per_s);
    std::printf("acks_per_fsync      %.2f\n", f.acks_per_fsync);
    std::printf("durable_acks_s      %.0f\n", f.durable_acks_s);
    std::printf("fsyncs_per_ack      %.4f\n", f.fsyncs_per_ack);
  }
  return 0;
}
