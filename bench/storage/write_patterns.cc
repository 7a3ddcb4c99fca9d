// sluice-write-patterns: how fast the page cache takes a segment-like sequential write, by write
// pattern, and how fast the resulting file reads back (docs/performance.md, storage section).
//
//   sluice-write-patterns --dir DIR [--mib 512] [--batch 16589] [--ahead-kib 2048] [--sync]
//                         [--no-prime] [--keep] [--read-bytes N] [--read-buf-offset K] VARIANT...
//
// Variants (each writes MIB MiB sequentially to DIR/<variant>.dat, timing everything the pattern
// needs, including its extra syscalls and the final trim to the written length):
//   aligned   pwrite of 16 KiB (fio's reference: every write covers whole pages)
//   batch     pwrite of BATCH bytes (the log's appends: each starts and ends inside a page)
//   zeroahead batch, but the file is first extended in AHEAD-aligned chunks of zeros written with
//             pwrite, so the batches overwrite large folios already in the page cache
//   fallocate batch, with fallocate(2) of AHEAD-aligned chunks ahead (blocks only, no page cache)
//   fallockeep fallocate with FALLOC_FL_KEEP_SIZE (the file's size stays the written length)
//   readahead batch, with ftruncate + readahead(2) of AHEAD chunks ahead (the hole's pages come in
//             zero-filled by the read path, then the batches overwrite them)
//   popread   batch, with ftruncate + MADV_POPULATE_READ of a MADV_HUGEPAGE shared mapping ahead
//   falpop    popread, but the file is extended with fallocate(2) (unwritten extents) not ftruncate
//   mmap      ftruncate ahead in AHEAD chunks, MADV_POPULATE_WRITE each chunk of a shared mapping,
//             memcpy each batch into it (munmap and the trim counted); mmaphuge: with MADV_HUGEPAGE
//   coalesce  batches copied into an AHEAD-sized user buffer written with one pwrite when full
//             (the lower bound: fewer, larger, page-aligned writes)
// Then reads the file back with 1 MiB preads into a page-aligned buffer (or --read-bytes into a
// buffer --read-buf-offset bytes past a page boundary; best of 3; the file is fully cached) and
// deletes it. Every variant starts right after a file of the same size was deleted (a priming write
// first), so each sees the same page-cache regime. Prints one JSON object per variant on stdout.
//
// Threading: single-threaded. Not part of any test; run under /tmp/sluice-build.lock.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace {

constexpr size_t kMiB = 1 << 20;

struct options {
  std::string dir;
  size_t bytes = 512 * kMiB;
  size_t batch = 16589;
  size_t ahead = 2 * kMiB;
  bool sync = false;  // time an fdatasync at the end too (writeback costs deferred by the pattern)
};

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

void pwrite_all(int fd, const char* p, size_t n, off_t at) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, at);
    if (w <= 0) die("pwrite");
    p += w;
    n -= size_t(w);
    at += w;
  }
}

// /proc/vmstat counters that show high-order allocation trouble (compaction, direct reclaim).
std::map<std::string, long> vmstat() {
  std::map<std::string, long> m;
  std::ifstream in("/proc/vmstat");
  std::string k;
  long v;
  while (in >> k >> v) {
    if (k.starts_with("compact_stall") || k.starts_with("allocstall") ||
        k.starts_with("pgsteal_direct") || k == "pgfault") {
      m[k] = v;
    }
  }
  return m;
}

double cpu_s() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

size_t round_up(size_t v, size_t to) { return (v + to - 1) / to * to; }

// Returns the seconds the write pattern took; leaves a file of exactly o.bytes bytes.
double write_file(const std::string& variant, const std::string& path, const options& o) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open");
  std::vector<char> batch(std::max(o.batch, size_t(16384)), 'x');
  std::vector<char> zeros(o.ahead, 0);
  double t0 = now_s();
  size_t pos = 0;
  if (variant == "aligned") {
    for (; pos < o.bytes; pos += 16384) pwrite_all(fd, batch.data(), 16384, off_t(pos));
  } else if (variant == "batch" || variant == "zeroahead" || variant == "fallocate" ||
             variant == "fallockeep" || variant == "readahead" || variant == "popread" ||
             variant == "falpop") {
    // popread: a shared mapping only to fault the file's pages in ahead (MADV_HUGEPAGE so the
    // fault path may allocate PMD-sized folios); the batches are still written with pwrite.
    size_t map_len = round_up(o.bytes, o.ahead);
    char* m = nullptr;
    if (variant == "popread" || variant == "falpop") {
      m = static_cast<char*>(::mmap(nullptr, map_len, PROT_READ, MAP_SHARED, fd, 0));
      if (m == MAP_FAILED) die("mmap");
      if (::madvise(m, map_len, MADV_HUGEPAGE) != 0) die("madvise(MADV_HUGEPAGE)");
    }
    size_t ahead_end = 0;
    for (; pos < o.bytes; pos += o.batch) {
      size_t n = std::min(o.batch, o.bytes - pos);
      while (variant != "batch" && ahead_end < pos + n) {
        if (variant == "zeroahead") {
          pwrite_all(fd, zeros.data(), o.ahead, off_t(ahead_end));
        } else if (variant == "fallocate" || variant == "fallockeep") {
          const int mode = variant == "fallockeep" ? FALLOC_FL_KEEP_SIZE : 0;
          if (::fallocate(fd, mode, off_t(ahead_end), off_t(o.ahead)) != 0) die("fallocate");
        } else {
          if (variant == "falpop") {
            if (::fallocate(fd, 0, off_t(ahead_end), off_t(o.ahead)) != 0) die("fallocate");
          } else if (::ftruncate(fd, off_t(ahead_end + o.ahead)) != 0) {
            die("ftruncate");
          }
          if (variant == "readahead") {
            if (::readahead(fd, off_t(ahead_end), o.ahead) != 0) die("readahead");
          } else if (::madvise(m + ahead_end, o.ahead, MADV_POPULATE_READ) != 0) {
            die("madvise(MADV_POPULATE_READ)");
          }
        }
        ahead_end += o.ahead;
      }
      pwrite_all(fd, batch.data(), n, off_t(pos));
    }
    if (m != nullptr && ::munmap(m, map_len) != 0) die("munmap");
    if (ahead_end > o.bytes && ::ftruncate(fd, off_t(o.bytes)) != 0) die("ftruncate");
  } else if (variant == "mmap" || variant == "mmaphuge") {
    size_t map_len = round_up(o.bytes, o.ahead);
    char* m =
        static_cast<char*>(::mmap(nullptr, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    if (m == MAP_FAILED) die("mmap");
    if (variant == "mmaphuge" && ::madvise(m, map_len, MADV_HUGEPAGE) != 0) die("madvise");
    size_t ahead_end = 0;
    for (; pos < o.bytes; pos += o.batch) {
      size_t n = std::min(o.batch, o.bytes - pos);
      while (ahead_end < pos + n) {
        if (::ftruncate(fd, off_t(ahead_end + o.ahead)) != 0) die("ftruncate");
        if (::madvise(m + ahead_end, o.ahead, MADV_POPULATE_WRITE) != 0) die("madvise");
        ahead_end += o.ahead;
      }
      std::memcpy(m + pos, batch.data(), n);
    }
    if (::munmap(m, map_len) != 0) die("munmap");
    if (::ftruncate(fd, off_t(o.bytes)) != 0) die("ftruncate");
  } else if (variant == "coalesce") {
    std::vector<char> buf(o.ahead);
    size_t used = 0, written = 0;
    for (; pos < o.bytes; pos += o.batch) {
      size_t n = std::min(o.batch, o.bytes - pos);
      for (size_t done = 0; done < n;) {
        size_t k = std::min(n - done, buf.size() - used);
        std::memcpy(buf.data() + used, batch.data() + done, k);
        used += k;
        done += k;
        if (used == buf.size()) {
          pwrite_all(fd, buf.data(), used, off_t(written));
          written += used;
          used = 0;
        }
      }
    }
    if (used > 0) pwrite_all(fd, buf.data(), used, off_t(written));
  } else {
    std::fprintf(stderr, "unknown variant %s\n", variant.c_str());
    std::exit(2);
  }
  if (o.sync && ::fdatasync(fd) != 0) die("fdatasync");
  double t = now_s() - t0;
  if (::close(fd) != 0) die("close");
  return t;
}

// Read-back shape: bytes per pread and the buffer's offset from a page boundary (the log's
// reads are whole batches, so neither a multiple of the page size nor page-aligned in the file).
size_t g_read_bytes = kMiB;
size_t g_read_buf_offset = 0;

double read_back_s(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) die("open");
  void* mem = nullptr;
  if (::posix_memalign(&mem, 4096, g_read_bytes + g_read_buf_offset) != 0) die("posix_memalign");
  char* buf = static_cast<char*>(mem) + g_read_buf_offset;
  double best = 1e9;
  for (int round = 0; round < 3; ++round) {
    double t0 = now_s();
    off_t at = 0;
    for (;;) {
      ssize_t r = ::pread(fd, buf, g_read_bytes, at);
      if (r < 0) die("pread");
      if (r == 0) break;
      at += r;
    }
    best = std::min(best, now_s() - t0);
  }
  std::free(mem);
  ::close(fd);
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  std::vector<std::string> variants;
  bool keep = false;
  bool no_prime = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) die("missing value");
      return argv[++i];
    };
    if (a == "--dir") {
      o.dir = next();
    } else if (a == "--mib") {
      o.bytes = size_t(std::atol(next())) * kMiB;
    } else if (a == "--batch") {
      o.batch = size_t(std::atol(next()));
    } else if (a == "--ahead-kib") {
      o.ahead = size_t(std::atol(next())) * 1024;
    } else if (a == "--read-bytes") {
      g_read_bytes = size_t(std::atol(next()));
    } else if (a == "--read-buf-offset") {
      g_read_buf_offset = size_t(std::atol(next()));
    } else if (a == "--sync") {
      o.sync = true;
    } else if (a == "--no-prime") {
      no_prime = true;  // e.g. when counting page-cache insertions of the variants alone
    } else if (a == "--keep") {
      keep = true;  // leave the last variant's file (e.g. for dd); no read-back
    } else {
      variants.push_back(a);
    }
  }
  if (o.dir.empty() || variants.empty()) {
    std::fprintf(stderr,
                 "usage: %s --dir DIR [--mib N] [--batch B] [--ahead-kib K] [--sync] [--no-prime] "
                 "[--keep] VARIANT...\n",
                 argv[0]);
    return 2;
  }
  if (!no_prime) {
    std::string prime = o.dir + "/prime.dat";
    write_file("aligned", prime, o);
    ::unlink(prime.c_str());
  }
  for (size_t i = 0; i < variants.size(); ++i) {
    const auto& v = variants[i];
    std::string path = o.dir + "/" + v + ".dat";
    auto vm0 = vmstat();
    double c0 = cpu_s();
    double w = write_file(v, path, o);
    double cpu = cpu_s() - c0;
    std::string extra;
    for (auto& [k, val] : vmstat()) {
      if (val != vm0[k]) extra += ", \"" + k + "\": " + std::to_string(val - vm0[k]);
    }
    double mb = double(o.bytes) / 1e6;
    if (keep && i + 1 == variants.size()) {
      std::printf("{\"variant\": \"%s\", \"write_mb_s\": %.1f, \"write_cpu_s\": %.3f%s}\n",
                  v.c_str(), mb / w, cpu, extra.c_str());
      break;
    }
    double r = read_back_s(path);
    std::printf(
        "{\"variant\": \"%s\",%*s\"write_mb_s\": %7.1f, \"read_mb_s\": %7.1f, \"write_cpu_s\": "
        "%.3f%s}\n",
        v.c_str(), int(11 - std::min<size_t>(v.size(), 10)), "", mb / w, mb / r, cpu,
        extra.c_str());
    std::fflush(stdout);
    ::unlink(path.c_str());
  }
  return 0;
}
