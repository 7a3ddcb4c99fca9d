// sluice-sendfile-floor: the CPU cost of an ideal zero-copy Fetch server over loopback TCP.
//
// The consume workload of issue 8 asks the broker to spend <= 0.15 CPU-seconds per GB served.
// This tool measures what the kernel alone charges for serving a page-cached file over loopback
// on this machine, so a broker's figure can be read against a floor rather than a guess:
//
// - A server process (forked) answers each request with a small header write (a Fetch
//   response's bytes before its records) and then the requested piece of the file, with
//   sendfile(2) (`--mode sendfile`) or with pread into a buffer plus write (`--mode copy`).
//   Blocking sockets, TCP_NODELAY (as sluiced sets it), nothing else: no event loop, no timers,
//   no index lookups.
// - The client (this process) works like librdkafka 2.0.2's broker thread: one request in
//   flight, poll(POLLIN), then recvmsg(MSG_DONTWAIT) until EAGAIN, first the 8-byte size and
//   correlation id, then the rest in reads of at most SO_RCVBUF bytes (rdkafka_transport.c).
// - `--parts N` makes each response N (header + piece) pairs, the shape of a Fetch answering N
//   partitions (sluiced writes one header sendmsg and one sendfile per partition).
// - `--client-us-per-mib U` makes the client spin U µs per MiB received before its next request,
//   to pace it like a consumer that parses what it gets (librdkafka takes ~1 ms per MiB here).
// - The server's CPU comes from wait4()'s rusage (utime + stime) when it exits; the client's
//   from getrusage. Figures are per 1e9 bytes of file data served (as sluice-load reports the
//   broker's CPU per GB of payload).
//
// Usage: sluice-sendfile-floor [--file PATH] [--mb 2000] [--piece-kib 1024] [--parts 1]
//                              [--mode sendfile|copy] [--header 80] [--client-us-per-mib 0]
// Prints one JSON object. The file is created (once) if it is missing or short and read once
// before the run so it is in the page cache (warm regime).
//
// Not part of sluiced; single-threaded per process; Linux only.

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct options {
  std::string file = "/var/tmp/sluice-sendfile-floor.dat";
  uint64_t bytes = 2000ull * 1000 * 1000;
  size_t piece = 1 << 20;
  int parts = 1;
  bool copy = false;
  size_t header = 80;
  double client_us_per_mib = 0;  // CPU the client burns per MiB received (a slower consumer)
};

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "sluice-sendfile-floor: %s: %s\n", what, std::strerror(errno));
  std::exit(2);
}

double seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; }

double now_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

void write_all(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) die("write");
    p += w;
    n -= static_cast<size_t>(w);
  }
}

bool read_all(int fd, uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return false;
    if (r < 0) die("read");
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}

// Makes sure `path` holds at least o.bytes, then reads it once into the page cache.
int prepare_file(const options& o) {
  std::vector<uint8_t> buf(1 << 20, 0x5a);
  struct stat st {};
  if (::stat(o.file.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_size) < o.bytes) {
    int w = ::open(o.file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (w < 0) die("open for writing");
    for (uint64_t off = 0; off < o.bytes; off += buf.size()) write_all(w, buf.data(), buf.size());
    ::close(w);
  }
  int fd = ::open(o.file.c_str(), O_RDONLY);  // an existing file (e.g. a segment) is only read
  if (fd < 0) die("open");
  for (uint64_t off = 0; off < o.bytes; off += buf.size()) {
    if (::pread(fd, buf.data(), buf.size(), static_cast<off_t>(off)) < 0) die("pread");
  }
  return fd;
}

// Request: 8-byte offset, 8-byte length. Response per part: 8 bytes (size, correlation id),
// the rest of the header, then the piece.
void serve(int sock, int file, const options& o) {
  int one = 1;
  ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::vector<uint8_t> header(o.header, 0);
  std::vector<uint8_t> buf(o.copy ? o.piece : 0);
  uint8_t req[16];
  while (read_all(sock, req, sizeof req)) {
    uint64_t offset = get_u64(req);
    const uint64_t length = get_u64(req + 8);
    for (int part = 0; part < o.parts; ++part) {
      const size_t n = static_cast<size_t>(length / static_cast<uint64_t>(o.parts));
      put_u64(header.data(), o.header - 8 + n);  // bytes after these 8
      write_all(sock, header.data(), header.size());
      size_t left = n;
      while (left > 0) {
        ssize_t w;
        if (o.copy) {
          w = ::pread(file, buf.data(), left, static_cast<off_t>(offset));
          if (w <= 0) die("pread");
          write_all(sock, buf.data(), static_cast<size_t>(w));
          offset += static_cast<uint64_t>(w);
        } else {
          off_t off = static_cast<off_t>(offset);
          w = ::sendfile(sock, file, &off, left);
          if (w < 0 && errno == EINTR) continue;
          if (w <= 0) die("sendfile");
          offset = static_cast<uint64_t>(off);
        }
        left -= static_cast<size_t>(w);
      }
    }
  }
}

// Reads n bytes the way librdkafka does: poll for POLLIN, then recvmsg(MSG_DONTWAIT) until
// EAGAIN, each read at most `cap` bytes.
void recv_like_librdkafka(int sock, uint8_t* p, size_t n, size_t cap) {
  while (n > 0) {
    iovec iov{p, n < cap ? n : cap};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t r = ::recvmsg(sock, &msg, MSG_DONTWAIT);
    if (r > 0) {
      p += r;
      n -= static_cast<size_t>(r);
      continue;
    }
    if (r == 0) die("peer closed");
    if (errno == EINTR) continue;
    if (errno != EAGAIN) die("recvmsg");
    pollfd pfd{sock, POLLIN, 0};
    if (::poll(&pfd, 1, -1) < 0 && errno != EINTR) die("poll");
  }
}

void usage() {
  std::fprintf(stderr,
               "usage: sluice-sendfile-floor [--file PATH] [--mb 2000] [--piece-kib 1024] "
               "[--parts 1] [--mode sendfile|copy] [--header 80] [--client-us-per-mib 0]\n");
  std::exit(2);
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) usage();
    std::string v = argv[++i];
    if (a == "--file")
      o.file = v;
    else if (a == "--mb")
      o.bytes = std::stoull(v) * 1000 * 1000;
    else if (a == "--piece-kib")
      o.piece = std::stoul(v) * 1024;
    else if (a == "--parts")
      o.parts = std::stoi(v);
    else if (a == "--header")
      o.header = std::stoul(v);
    else if (a == "--client-us-per-mib")
      o.client_us_per_mib = std::stod(v);
    else if (a == "--mode" && (v == "sendfile" || v == "copy"))
      o.copy = v == "copy";
    else
      usage();
  }
  if (o.parts < 1 || o.piece == 0 || o.header < 8) usage();
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  const int file = prepare_file(o);

  int lsock = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(lsock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("bind");
  if (::listen(lsock, 1) != 0) die("listen");
  if (::getsockname(lsock, reinterpret_cast<sockaddr*>(&addr), &len) != 0) die("getsockname");

  const pid_t server = ::fork();
  if (server < 0) die("fork");
  if (server == 0) {
    int s = ::accept(lsock, nullptr, nullptr);
    if (s < 0) die("accept");
    serve(s, file, o);
    std::_Exit(0);
  }
  ::close(lsock);

  int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("connect");
  int rcvbuf = 0;
  socklen_t optlen = sizeof rcvbuf;
  ::getsockopt(sock, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &optlen);
  const size_t cap = rcvbuf > 0 ? static_cast<size_t>(rcvbuf) : (1 << 20);

  const uint64_t per_response = o.piece * static_cast<uint64_t>(o.parts);
  std::vector<uint8_t> frame(o.piece + o.header);
  rusage self0{};
  ::getrusage(RUSAGE_SELF, &self0);
  const double t0 = now_s();
  uint64_t served = 0, responses = 0;
  while (served < o.bytes) {
    uint64_t want = o.bytes - served < per_response ? o.bytes - served : per_response;
    want -= want % static_cast<uint64_t>(o.parts);
    if (want == 0) break;
    uint8_t req[16];
    put_u64(req, served);
    put_u64(req + 8, want);
    write_all(sock, req, sizeof req);
    for (int part = 0; part < o.parts; ++part) {
      recv_like_librdkafka(sock, frame.data(), 8, cap);  // size + correlation id
      const uint64_t rest = get_u64(frame.data());
      recv_like_librdkafka(sock, frame.data(), static_cast<size_t>(rest), cap);
    }
    served += want;
    ++responses;
    // Spin (not sleep) like a consumer parsing what it got, before asking for more.
    const double until = now_s() + o.client_us_per_mib * 1e-6 * static_cast<double>(want) /
                                       static_cast<double>(1 << 20);
    while (o.client_us_per_mib > 0 && now_s() < until) {
    }
  }
  const double elapsed = now_s() - t0;
  rusage self1{};
  ::getrusage(RUSAGE_SELF, &self1);
  ::close(sock);
  int status = 0;
  rusage srv{};
  if (::wait4(server, &status, 0, &srv) != server) die("wait4");

  const double gb = static_cast<double>(served) / 1e9;
  const double s_user = seconds(srv.ru_utime), s_sys = seconds(srv.ru_stime);
  const double c_cpu = seconds(self1.ru_utime) - seconds(self0.ru_utime) + seconds(self1.ru_stime) -
                       seconds(self0.ru_stime);
  std::printf(
      "{\"mode\":\"%s\",\"piece_bytes\":%zu,\"parts\":%d,\"header_bytes\":%zu,\"bytes\":%llu,"
      "\"responses\":%llu,\"seconds\":%.3f,\"mb_per_s\":%.1f,\"server_user_s\":%.3f,"
      "\"server_sys_s\":%.3f,\"server_cpu_s_per_gb\":%.3f,\"server_ctx_switches\":%ld,"
      "\"client_cpu_s_per_gb\":%.3f,\"client_rcvbuf\":%d}\n",
      o.copy ? "copy" : "sendfile", o.piece, o.parts, o.header,
      static_cast<unsigned long long>(served), static_cast<unsigned long long>(responses), elapsed,
      static_cast<double>(served) / 1e6 / elapsed, s_user, s_sys, (s_user + s_sys) / gb,
      srv.ru_nvcsw + srv.ru_nivcsw, c_cpu / gb, rcvbuf);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
