#include "src/net/server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <future>

namespace sluice::net {

namespace asio = boost::asio;
using asio::ip::tcp;

server::server(shard_pool& shards, dispatcher& d, connection_options opts)
    : _shards(shards),
      _dispatcher(d),
      _opts(opts),
      _acceptor(shards.context(0)),
      _backoff(shards.context(0)) {}

std::string server::listen(const std::string& host, uint16_t port) {
  boost::system::error_code ec;
  tcp::resolver resolver(_shards.context(0));
  auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec || results.empty()) return "cannot resolve listener host '" + host + "': " + ec.message();
  tcp::endpoint ep = results.begin()->endpoint();
  _acceptor.open(ep.protocol(), ec);
  if (!ec) _acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) _acceptor.bind(ep, ec);
  if (!ec) _acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message();
  }
  _port = _acceptor.local_endpoint().port();
  accept();
  return {};
}

void server::stop() {
  // The acceptor belongs to shard 0; close it there and wait, so no connection is accepted
  // after stop() returns.
  std::promise<void> closed;
  asio::post(_shards.context(0), [this, &closed] {
    boost::system::error_code ec;
    _acceptor.close(ec);
    _backoff.cancel();
    closed.set_value();
  });
  closed.get_future().wait();
}

void server::accept() {
  unsigned shard = _next_shard++ % _shards.size();
  // The socket is created on its target shard's context so all its I/O runs there.
  _acceptor.async_accept(_shards.context(shard), [this, shard](const boost::system::error_code& ec,
                                                               tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec == asio::error::no_descriptors || ec.value() == ENFILE) {
      // Retrying at once would spin; connections wait in the backlog until descriptors free.
      spdlog::warn("accept failed: {}; pausing accepts for {} ms", ec.message(),
                   kAcceptBackoff.count());
      _backoff.expires_after(kAcceptBackoff);
      _backoff.async_wait([this](const boost::system::error_code& e) {
        if (!e && _acceptor.is_open()) accept();
      });
      return;
    }
    if (ec) {
      spdlog::warn("accept failed: {}", ec.message());
    } else {
      asio::post(_shards.context(shard), [this, shard, s = std::move(socket)]() mutable {
        std::make_shared<connection>(std::move(s), shard, _dispatcher, _opts)->start();
      });
    }
    accept();
  });
}

}  // namespace sluice::net
