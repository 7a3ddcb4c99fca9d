#include "src/net/connection.h"

#include <spdlog/spdlog.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <boost/asio/read.hpp>
#include <cerrno>
#include <cstring>

#include "src/base/byte_order.h"
#include "src/base/metrics.h"

namespace sluice::net {

namespace asio = boost::asio;

namespace {

struct connection_metrics {
  metrics::counter& accepted = metrics::registry::global().counter_metric(
      "sluice_connections_accepted_total", "Kafka client connections accepted.");
  metrics::gauge& active = metrics::registry::global().gauge_metric(
      "sluice_connections_active", "Kafka client connections open now.");
};

connection_metrics& conn_metrics() {
  static connection_metrics m;
  return m;
}

}  // namespace

connection::connection(asio::ip::tcp::socket socket, unsigned shard, dispatcher& d,
                       const connection_options& opts)
    : _socket(std::move(socket)), _idle(_socket.get_executor()), _dispatcher(d), _opts(opts) {
  boost::system::error_code ec;
  auto ep = _socket.remote_endpoint(ec);
  _info.peer = ec ? "unknown" : ep.address().to_string() + ":" + std::to_string(ep.port());
  _info.shard = shard;
  conn_metrics().accepted.inc();
  conn_metrics().active.add();
  _socket.set_option(asio::ip::tcp::no_delay(true), ec);
  // sendfile(2) is called on the raw descriptor; it must not block the shard.
  _socket.native_non_blocking(true, ec);
}

connection::~connection() { conn_metrics().active.sub(); }

void connection::start() {
  _rbuf = std::make_unique_for_overwrite<uint8_t[]>(kReadBuffer);
  _last_request = std::chrono::steady_clock::now();
  arm_idle_timer();
  read_more();
}

void connection::close() {
  if (_closed) return;
  _closed = true;
  boost::system::error_code ec;
  _idle.cancel();
  _socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  _socket.close(ec);
}

// One timer per connection that re-arms itself from the time of the last request, instead of a
// cancel and re-arm (a posted handler and often a timerfd update) on every request.
void connection::arm_idle_timer() {
  if (_opts.max_idle_ms <= 0) return;
  _idle.expires_at(_last_request + std::chrono::milliseconds(_opts.max_idle_ms));
  _idle.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->_closed) return;
    if (std::chrono::steady_clock::now() <
        self->_last_request + std::chrono::milliseconds(self->_opts.max_idle_ms)) {
      return self->arm_idle_timer();
    }
    spdlog::debug("closing idle connection from {}", self->_info.peer);
    self->close();
  });
}

// Takes every whole request out of the buffer. A body that does not fit the buffer gets its own
// frame: the buffered part is copied in and the rest is read straight into it.
bool connection::take_buffered() {
  while (!_closed && !_close_after_write) {
    if (_next_seq - _next_write >= kMaxInFlight) {
      _reading_paused = true;  // resumed by write_ready once replies drain
      return false;
    }
    const size_t have = _rend - _rbegin;
    if (have < 4) return true;
    const int32_t size = be::load_i32(_rbuf.get() + _rbegin);
    if (size < 0 || size > _opts.max_request_bytes) {
      spdlog::warn("closing connection from {}: request size {} outside [0, {}]", _info.peer, size,
                   _opts.max_request_bytes);
      close();
      return false;
    }
    const auto need = static_cast<size_t>(size);
    if (have - 4 >= need) {
      frame f = frame::allocate(need);
      if (need > 0) std::memcpy(f.data.get(), _rbuf.get() + _rbegin + 4, need);
      _rbegin += 4 + need;
      deliver(std::move(f));
      continue;
    }
    if (4 + need <= kReadBuffer) return true;  // a small request, not all here yet
    const size_t part = have - 4;
    _body = frame::allocate(need);
    std::memcpy(_body.data.get(), _rbuf.get() + _rbegin + 4, part);
    _rbegin = _rend = 0;
    asio::async_read(_socket, asio::buffer(_body.data.get() + part, need - part),
                     [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                       if (ec) return self->close();
                       self->deliver(std::move(self->_body));
                       self->_body = {};
                       self->read_more();
                     });
    return false;
  }
  return false;
}

void connection::deliver(frame f) {
  _last_request = std::chrono::steady_clock::now();
  const uint64_t seq = _next_seq++;
  std::weak_ptr<connection> weak = shared_from_this();
  _dispatcher.dispatch(_info, std::move(f), [weak, seq](reply r) {
    if (auto c = weak.lock()) c->on_reply(seq, std::move(r));
  });
}

// Takes the whole requests out of the buffer, then reads more. asio tries the read at once and
// waits for readability only when it finds nothing (no epoll_ctl re-arm, unlike async_wait).
void connection::read_more() {
  if (!take_buffered()) return;
  if (_rbegin > 0) {
    std::memmove(_rbuf.get(), _rbuf.get() + _rbegin, _rend - _rbegin);
    _rend -= _rbegin;
    _rbegin = 0;
  }
  _socket.async_read_some(
      asio::buffer(_rbuf.get() + _rend, kReadBuffer - _rend),
      [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
        if (ec) return self->close();  // the peer closed, or a failure
        self->_rend += n;
        self->read_more();
      });
}

void connection::on_reply(uint64_t seq, reply r) {
  if (_closed) return;
  _ready.emplace(seq, std::move(r));
  write_ready();
}

void connection::write_ready() {
  if (_closed) return;
  // Queue every consecutive ready reply, keeping request order.
  while (!_close_after_write && !_ready.empty() && _ready.begin()->first == _next_write) {
    reply r = std::move(_ready.begin()->second);
    _ready.erase(_ready.begin());
    ++_next_write;
    if (r.what == reply::kind::close) {
      spdlog::warn("closing connection from {}: malformed request", _info.peer);
      _close_after_write = true;
      break;
    }
    if (r.what == reply::kind::none) continue;
    uint64_t total = r.bytes.size();
    for (const auto& f : r.files) total += f.length;
    auto size = std::make_shared<std::vector<uint8_t>>(4);
    be::store_i32(size->data(), static_cast<int32_t>(total));
    _ops.push_back({size, 0, 4, {}, false});
    auto data = std::make_shared<std::vector<uint8_t>>(std::move(r.bytes));
    size_t pos = 0;
    for (auto& f : r.files) {
      if (f.at > pos) _ops.push_back({data, pos, f.at, {}, false});
      pos = f.at;
      if (f.length > 0) _ops.push_back({nullptr, 0, 0, std::move(f), true});
    }
    if (data->size() > pos) _ops.push_back({data, pos, data->size(), {}, false});
  }
  if (_reading_paused && !_close_after_write && _next_seq - _next_write < kMaxInFlight) {
    _reading_paused = false;
    read_more();
  }
  if (!_write_in_progress) write_ops();
}

// Writes queued output for as long as the socket takes it, without a trip through the
// io_context per piece: byte slices up to the next file range in one sendmsg, file ranges with
// sendfile. Only a full send buffer (EAGAIN) waits for writability, then carries on from there.
void connection::write_ops() {
  if (_closed) return;
  const int sock = _socket.native_handle();
  while (!_ops.empty()) {
    out_op& front = _ops.front();
    ssize_t n;
    if (front.is_file) {
      off_t offset = static_cast<off_t>(front.file.offset);
      n = ::sendfile(sock, front.file.fd, &offset, front.file.length);
      if (n > 0) {
        front.file.offset += static_cast<uint64_t>(n);
        front.file.length -= static_cast<uint32_t>(n);
        if (front.file.length == 0) _ops.pop_front();
        continue;
      }
      if (n == 0) {
        // The file ended early: the frame can't be completed, so the stream is lost.
        spdlog::error("closing connection from {}: sendfile: file shorter than expected",
                      _info.peer);
        return close();
      }
    } else {
      // Every byte slice up to the next file range in one sendmsg.
      iovec iov[kMaxIov];
      size_t count = 0;
      for (const auto& op : _ops) {
        if (op.is_file || count == kMaxIov) break;
        iov[count++] = {op.data->data() + op.begin, op.end - op.begin};
      }
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = count;
      n = ::sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n >= 0) {
        size_t left = static_cast<size_t>(n);
        while (left > 0) {
          out_op& op = _ops.front();
          const size_t len = op.end - op.begin;
          if (left < len) {
            op.begin += left;
            break;
          }
          left -= len;
          _ops.pop_front();
        }
        continue;
      }
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      // The send buffer is full: wait until the peer has taken some, then carry on.
      _write_in_progress = true;
      _socket.async_wait(asio::ip::tcp::socket::wait_write,
                         [self = shared_from_this()](const boost::system::error_code& ec) {
                           self->_write_in_progress = false;
                           if (ec) return self->close();
                           self->write_ops();
                         });
      return;
    }
    // A peer that went away mid-reply is ordinary; a file that cannot be read is not.
    if (front.is_file && errno != EPIPE && errno != ECONNRESET) {
      spdlog::error("closing connection from {}: sendfile: {}", _info.peer, std::strerror(errno));
    }
    return close();
  }
  if (_close_after_write) close();
}

}  // namespace sluice::net
