#pragma once
// A TCP proxy for integration tests that cuts its connections: each proxied connection is closed
// (both sides) once it has carried a random number of bytes in [min_cut, max_cut], so requests
// are lost before the broker sees them, or answers after the broker acted on them. Clients see
// plain connection failures and reconnect through the proxy again.
//
// Usage: construct (it listens at once on 127.0.0.1, port()), start sluiced advertising that
// port, then start(sluiced_port). stop_cutting() lets traffic flow untouched afterwards.
//
// Thread safety: one forwarding thread; cuts() and stop_cutting() from any thread.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

namespace sluice::testing {

class cutting_proxy {
 public:
  cutting_proxy() {
    _listen = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(_listen, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(_listen, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    ::listen(_listen, 64);
    socklen_t len = sizeof(a);
    ::getsockname(_listen, reinterpret_cast<sockaddr*>(&a), &len);
    _port = ntohs(a.sin_port);
  }
  ~cutting_proxy() {
    _stop = true;
    if (_thread.joinable()) _thread.join();
    for (auto& c : _conns) close_pair(c);
    ::close(_listen);
  }
  cutting_proxy(const cutting_proxy&) = delete;
  cutting_proxy& operator=(const cutting_proxy&) = delete;

  int port() const { return _port; }
  void start(int target_port, size_t min_cut, size_t max_cut) {
    _target = target_port;
    _min_cut = min_cut;
    _max_cut = max_cut;
    _thread = std::thread([this] { run(); });
  }
  void stop_cutting() { _cutting = false; }
  int cuts() const { return _cuts; }

 private:
  struct pair {
    int client = -1;
    int upstream = -1;
    int64_t budget = 0;
  };

  static void close_pair(pair& c) {
    if (c.client >= 0) ::close(c.client);
    if (c.upstream >= 0) ::close(c.upstream);
    c.client = c.upstream = -1;
  }

  static bool write_all(int fd, const uint8_t* p, size_t n) {
    while (n > 0) {
      ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }

  void accept_one() {
    int c = ::accept(_listen, nullptr, nullptr);
    if (c < 0) return;
    int u = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(_target));
    if (::connect(u, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      ::close(u);
      ::close(c);
      return;
    }
    int one = 1;
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ::setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::uniform_int_distribution<size_t> d(_min_cut, _max_cut);
    _conns.push_back({c, u, static_cast<int64_t>(d(_rng))});
  }

  // Forwards what `from` has to `to`; false when the pair must close.
  bool pump(pair& c, int from, int to) {
    uint8_t buf[16384];
    ssize_t n = ::recv(from, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    if (!write_all(to, buf, static_cast<size_t>(n))) return false;
    c.budget -= n;
    if (_cutting && c.budget <= 0) {
      ++_cuts;
      return false;
    }
    return true;
  }

  void run() {
    while (!_stop) {
      std::vector<pollfd> fds;
      fds.push_back({_listen, POLLIN, 0});
      for (auto& c : _conns) {
        fds.push_back({c.client, POLLIN, 0});
        fds.push_back({c.upstream, POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
      const size_t n = _conns.size();  // accept_one() may add more below
      for (size_t i = 0; i < n; ++i) {
        pair& c = _conns[i];
        const auto& fc = fds[1 + 2 * i];
        const auto& fu = fds[2 + 2 * i];
        bool ok = true;
        if (fc.revents & (POLLIN | POLLHUP | POLLERR)) ok = pump(c, c.client, c.upstream);
        if (ok && (fu.revents & (POLLIN | POLLHUP | POLLERR))) ok = pump(c, c.upstream, c.client);
        if (!ok) close_pair(c);
      }
      std::erase_if(_conns, [](const pair& c) { return c.client < 0; });
      if (fds[0].revents & POLLIN) accept_one();
    }
  }

  int _listen = -1;
  int _port = 0;
  int _target = 0;
  size_t _min_cut = 0;
  size_t _max_cut = 0;
  std::mt19937_64 _rng{42};
  std::vector<pair> _conns;
  std::thread _thread;
  std::atomic<bool> _stop{false};
  std::atomic<bool> _cutting{true};
  std::atomic<int> _cuts{0};
};

}  // namespace sluice::testing
