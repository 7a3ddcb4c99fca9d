#pragma once
// The admin HTTP listener (Boost.Beast): HTTP/1.1 with keep-alive, GET only in practice (the
// router decides), on its own thread and io_context so nothing here ever runs on a shard.
//
// Contract:
// - listen() binds (port 0 picks a free port); start() runs the accept loop on a new thread;
//   stop() closes the listener and every connection and joins the thread.
// - Requests are handed to the route function one at a time per connection, on the HTTP
//   thread; it may block (it waits for shards to report partition state), which only delays
//   other HTTP clients.
// - Limits: request headers 8 KiB, bodies 64 KiB (413 otherwise), 30 s per request read
//   (slowloris), at most kMaxConnections open (further ones are closed at once).
// - A request that does not parse gets 400 and the connection closes.
//
// Thread safety: listen()/start()/stop() from one thread (main); the rest runs on the HTTP
// thread.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace sluice::http {

struct request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
};

struct response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string allow;  // the Allow header of a 405
};

using route_fn = std::function<response(const request&)>;

class server {
 public:
  static constexpr size_t kMaxConnections = 256;

  explicit server(route_fn route);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds and listens. Returns "" or a one-line error.
  std::string listen(const std::string& host, uint16_t port);
  uint16_t port() const { return _port; }
  void start();
  void stop();

 private:
  friend class session;
  void accept();

  route_fn _route;
  boost::asio::io_context _ctx;
  boost::asio::ip::tcp::acceptor _acceptor;
  std::thread _thread;
  uint16_t _port = 0;
  std::vector<std::weak_ptr<void>> _sessions;
};

}  // namespace sluice::http
