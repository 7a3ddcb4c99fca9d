#include "src/net/connection.h"

#include <spdlog/spdlog.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "src/base/byte_order.h"

namespace sluice::net {

namespace asio = boost::asio;

connection::connection(asio::ip::tcp::socket socket, unsigned shard, dispatcher& d,
                       const connection_options& opts)
    : _socket(std::move(socket)), _idle(_socket.get_executor()), _dispatcher(d), _opts(opts) {
  boost::system::error_code ec;
  auto ep = _socket.remote_endpoint(ec);
  _info.peer = ec ? "unknown" : ep.address().to_string() + ":" + std::to_string(ep.port());
  _info.shard = shard;
  _socket.set_option(asio::ip::tcp::no_delay(true), ec);
}

void connection::start() {
  arm_idle_timer();
  read_size();
}

void connection::close() {
  if (_closed) return;
  _closed = true;
  boost::system::error_code ec;
  _idle.cancel();
  _socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  _socket.close(ec);
}

void connection::arm_idle_timer() {
  if (_opts.max_idle_ms <= 0) return;
  _idle.expires_after(std::chrono::milliseconds(_opts.max_idle_ms));
  _idle.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->_closed) return;
    spdlog::debug("closing idle connection from {}", self->_info.peer);
    self->close();
  });
}

void connection::read_size() {
  if (_closed || _close_after_write) return;
  if (_next_seq - _next_write >= kMaxInFlight) {
    _reading_paused = true;  // resumed by write_ready once replies drain
    return;
  }
  asio::async_read(_socket, asio::buffer(_size_buf),
                   [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                     if (ec) return self->close();
                     int32_t size = be::load_i32(self->_size_buf);
                     if (size < 0 || size > self->_opts.max_request_bytes) {
                       spdlog::warn("closing connection from {}: request size {} outside [0, {}]",
                                    self->_info.peer, size, self->_opts.max_request_bytes);
                       return self->close();
                     }
                     self->read_body(static_cast<uint32_t>(size));
                   });
}

void connection::read_body(uint32_t size) {
  _body.resize(size);
  asio::async_read(_socket, asio::buffer(_body),
                   [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                     if (ec) return self->close();
                     self->arm_idle_timer();
                     uint64_t seq = self->_next_seq++;
                     std::weak_ptr<connection> weak = self;
                     self->_dispatcher.dispatch(self->_info, std::move(self->_body),
                                                [weak, seq](reply r) {
                                                  if (auto c = weak.lock())
                                                    c->on_reply(seq, std::move(r));
                                                });
                     self->_body = {};
                     self->read_size();
                   });
}

void connection::on_reply(uint64_t seq, reply r) {
  if (_closed) return;
  _ready.emplace(seq, std::move(r));
  write_ready();
}

void connection::write_ready() {
  if (_closed || _write_in_progress) return;
  // Move every consecutive ready reply into one gathered write, keeping request order.
  std::vector<asio::const_buffer> bufs;
  while (!_ready.empty() && _ready.begin()->first == _next_write) {
    reply r = std::move(_ready.begin()->second);
    _ready.erase(_ready.begin());
    ++_next_write;
    if (r.what == reply::kind::close) {
      spdlog::warn("closing connection from {}: malformed request", _info.peer);
      _close_after_write = true;
      break;
    }
    if (r.what == reply::kind::none) continue;
    std::vector<uint8_t> frame(4 + r.bytes.size());
    be::store_i32(frame.data(), static_cast<int32_t>(r.bytes.size()));
    std::copy(r.bytes.begin(), r.bytes.end(), frame.begin() + 4);
    _writing.push_back(std::move(frame));
    bufs.emplace_back(asio::buffer(_writing.back()));
  }
  if (_reading_paused && !_close_after_write && _next_seq - _next_write < kMaxInFlight) {
    _reading_paused = false;
    read_size();
  }
  if (bufs.empty()) {
    if (_close_after_write) close();
    return;
  }
  _write_in_progress = true;
  asio::async_write(_socket, bufs,
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                      self->_write_in_progress = false;
                      self->_writing.clear();
                      if (ec || self->_close_after_write) return self->close();
                      self->write_ready();
                    });
}

}  // namespace sluice::net
