#include "src/http/server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>

namespace sluice::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
constexpr auto kReadTimeout = std::chrono::seconds(30);
constexpr uint32_t kHeaderLimit = 8 * 1024;
constexpr uint64_t kBodyLimit = 64 * 1024;

std::string error_json(unsigned code, std::string_view error, std::string_view message) {
  // Fixed strings only (no user input), so no escaping is needed.
  return "{\"code\":" + std::to_string(code) + ",\"error\":\"" + std::string(error) +
         "\",\"message\":\"" + std::string(message) + "\"}";
}
}  // namespace

class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket socket, server& owner) : _stream(std::move(socket)), _owner(owner) {}

  void start() { read(); }
  void close() {
    beast::error_code ec;
    _stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    _stream.socket().close(ec);
  }

 private:
  void read() {
    _parser.emplace();
    _parser->header_limit(kHeaderLimit);
    _parser->body_limit(kBodyLimit);
    _stream.expires_after(kReadTimeout);
    bhttp::async_read(
        _stream, _buffer, *_parser,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout) {
      return close();
    }
    if (ec == bhttp::error::body_limit) {
      return send_error(413, "payload_too_large", "request body over 64 KiB", false);
    }
    if (ec == bhttp::error::header_limit) {
      return send_error(431, "header_too_large", "request headers over 8 KiB", false);
    }
    if (ec) {
      if (ec == asio::error::eof || ec == asio::error::connection_reset) return close();
      return send_error(400, "bad_request", "malformed HTTP request", false);
    }
    auto& req = _parser->get();
    request r{std::string(req.method_string()), std::string(req.target())};
    response out = _owner._route(r);
    send(out, req.keep_alive(), req.version(), req.method() == bhttp::verb::head);
  }

  void send_error(unsigned code, std::string_view error, std::string_view message,
                  bool keep_alive) {
    response out{code, "application/json", error_json(code, error, message), {}};
    send(out, keep_alive, 11, false);
  }

  void send(const response& out, bool keep_alive, unsigned version, bool head) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(out.status), version);
    res->set(bhttp::field::server, "sluiced");
    res->set(bhttp::field::content_type, out.content_type);
    if (!out.allow.empty()) res->set(bhttp::field::allow, out.allow);
    res->keep_alive(keep_alive);
    res->body() = head ? std::string() : out.body;
    res->prepare_payload();
    if (head) res->content_length(out.body.size());
    _stream.expires_after(kReadTimeout);
    bhttp::async_write(_stream, *res,
                       [self = shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
                         if (ec || !keep_alive) return self->close();
                         self->read();
                       });
  }

  beast::tcp_stream _stream;
  beast::flat_buffer _buffer;
  std::optional<bhttp::request_parser<bhttp::string_body>> _parser;
  server& _owner;
};

server::server(route_fn route) : _route(std::move(route)), _acceptor(_ctx) {}

server::~server() { stop(); }

std::string server::listen(const std::string& host, uint16_t port) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) {
    tcp::resolver resolver(_ctx);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) return "cannot resolve '" + host + "'";
    addr = results.begin()->endpoint().address();
  }
  tcp::endpoint ep(addr, port);
  _acceptor.open(ep.protocol(), ec);
  if (!ec) _acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) _acceptor.bind(ep, ec);
  if (!ec) _acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message();
  _port = _acceptor.local_endpoint().port();
  return {};
}

void server::start() {
  accept();
  _thread = std::thread([this] { _ctx.run(); });
}

void server::accept() {
  _acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !_acceptor.is_open()) return;
    if (!ec) {
      std::erase_if(_sessions, [](const auto& w) { return w.expired(); });
      if (_sessions.size() >= kMaxConnections) {
        spdlog::warn("http: {} connections open, refusing another", _sessions.size());
        socket.close(ec);
      } else {
        auto s = std::make_shared<session>(std::move(socket), *this);
        _sessions.push_back(s);
        s->start();
      }
    } else {
      spdlog::warn("http: accept failed: {}", ec.message());
    }
    accept();
  });
}

void server::stop() {
  if (!_thread.joinable()) return;
  // Closing the listener and every session leaves the io_context without work: run() returns.
  asio::post(_ctx, [this] {
    boost::system::error_code ec;
    _acceptor.close(ec);
    for (auto& w : _sessions) {
      if (auto s = std::static_pointer_cast<session>(w.lock())) s->close();
    }
    _sessions.clear();
  });
  _thread.join();
}

}  // namespace sluice::http
