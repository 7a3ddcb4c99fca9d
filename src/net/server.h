#pragma once
// The Kafka listener: accepts TCP connections and spreads them over the shards.
//
// The acceptor runs on shard 0; each accepted socket is moved to the next shard round-robin and
// lives there for its whole life (see shard_pool.h for the ownership rule).
//
// Out of file descriptors (EMFILE/ENFILE), accepting pauses for kAcceptBackoff instead of
// spinning; pending connections wait in the listen backlog. sluiced raises its soft
// RLIMIT_NOFILE to the hard limit at start (thousands of connections).
//
// Thread safety: listen()/stop() from the main thread; everything else runs on shards.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "src/base/errc.h"
#include "src/net/connection.h"
#include "src/net/shard_pool.h"

namespace sluice::net {

class server {
 public:
  server(shard_pool& shards, dispatcher& d, connection_options opts);
  // Binds and listens; port 0 picks a free port. Returns a one-line error message on failure.
  std::string listen(const std::string& host, uint16_t port);
  uint16_t port() const { return _port; }
  // Closes the listener (shards must be running); open connections close when their shard
  // stops.
  void stop();

 private:
  static constexpr std::chrono::milliseconds kAcceptBackoff{100};
  void accept();

  shard_pool& _shards;
  dispatcher& _dispatcher;
  connection_options _opts;
  boost::asio::ip::tcp::acceptor _acceptor;
  boost::asio::steady_timer _backoff;  // shard 0, like the acceptor
  unsigned _next_shard = 0;
  uint16_t _port = 0;
};

}  // namespace sluice::net
