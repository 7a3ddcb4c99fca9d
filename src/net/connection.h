#pragma once
// One client connection: Kafka framing in, replies out in request order.
//
// Contract:
// - Frames are a 4-byte big-endian size then that many bytes. A size above
//   socket.request.max.bytes (or negative) closes the connection before anything is allocated.
// - Requests are read ahead (pipelining, up to kMaxInFlight) and handed to the dispatcher in
//   arrival order; replies may complete in any order but are written strictly in request order.
// - Reads go through a small buffer (kReadBuffer): a request that fits arrives with one recv,
//   size and body together, and several pipelined small requests share one. A larger body gets
//   its own frame, filled with what the buffer holds and then read straight into it.
// - Replies may splice file ranges into their bytes; those go out with sendfile(2).
// - A dispatcher that reports a malformed request gets the connection closed; the process and
//   the other connections carry on.
// - Idle connections (no complete request for connections.max.idle.ms) are closed.
//
// Thread safety: a connection lives on one shard; every member runs on that shard's thread.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace sluice::net {

// Part of a reply sent from a file with sendfile(2) (zero copy): after the first `at` bytes of
// reply::bytes, `length` bytes of `fd` from `offset`. `owner` keeps the fd open until sent.
struct file_chunk {
  size_t at = 0;
  int fd = -1;
  uint64_t offset = 0;
  uint32_t length = 0;
  std::shared_ptr<void> owner;
};

struct reply {
  enum class kind { send, none, close };
  kind what = kind::send;
  std::vector<uint8_t> bytes;     // the response frame without its size prefix...
  std::vector<file_chunk> files;  // ...with these file ranges spliced in, in order of `at`

  static reply send(std::vector<uint8_t> b, std::vector<file_chunk> f = {}) {
    return {kind::send, std::move(b), std::move(f)};
  }
  static reply none() { return {kind::none, {}, {}}; }
  static reply close() { return {kind::close, {}, {}}; }
};

// Per-connection facts the dispatcher may read and annotate.
struct connection_info {
  std::string peer;  // "ip:port" of the client
  unsigned shard = 0;
  std::string client_software_name;  // from ApiVersions v3+
  std::string client_software_version;
};

using reply_fn = std::function<void(reply)>;

// A request frame (without its size prefix) as read off the socket. The buffer is not zero-filled
// before the read, and it is shared so a decoded request can keep pointing into it: Produce
// records go from here to the log without another copy.
struct frame {
  std::shared_ptr<uint8_t[]> data;
  size_t size = 0;

  static frame allocate(size_t n) { return {std::make_shared_for_overwrite<uint8_t[]>(n), n}; }
  std::span<uint8_t> span() const { return {data.get(), size}; }
};

class dispatcher {
 public:
  virtual ~dispatcher() = default;
  // Called on the connection's shard for each request, in arrival order. `done` must be called
  // exactly once, on the same shard, possibly later.
  virtual void dispatch(connection_info& info, frame request, reply_fn done) = 0;
};

struct connection_options {
  int64_t max_request_bytes = 104857600;
  int64_t max_idle_ms = 600000;
};

class connection : public std::enable_shared_from_this<connection> {
 public:
  static constexpr size_t kMaxInFlight = 64;
  static constexpr size_t kMaxIov = 64;  // byte slices per sendmsg
  static constexpr size_t kReadBuffer = 16384;

  connection(boost::asio::ip::tcp::socket socket, unsigned shard, dispatcher& d,
             const connection_options& opts);
  ~connection();
  void start();
  void close();

 private:
  void read_more();
  bool take_buffered();  // false: stop reading (closed, paused, or a body read is pending)
  void deliver(frame f);
  void on_reply(uint64_t seq, reply r);
  void write_ready();
  void write_ops();
  void arm_idle_timer();

  // One piece of output: a slice of a reply's bytes, or a file range to sendfile.
  struct out_op {
    std::shared_ptr<std::vector<uint8_t>> data;
    size_t begin = 0;
    size_t end = 0;
    file_chunk file;
    bool is_file = false;
  };

  boost::asio::ip::tcp::socket _socket;
  boost::asio::steady_timer _idle;
  dispatcher& _dispatcher;
  connection_options _opts;
  connection_info _info;
  std::unique_ptr<uint8_t[]> _rbuf;  // kReadBuffer bytes; [_rbegin, _rend) not yet taken
  size_t _rbegin = 0;
  size_t _rend = 0;
  frame _body;                                          // a body larger than the buffer, being read
  std::chrono::steady_clock::time_point _last_request;  // the idle timer checks it
  uint64_t _next_seq = 0;                               // sequence number of the next request read
  uint64_t _next_write = 0;  // sequence number of the next reply to write
  std::map<uint64_t, reply> _ready;
  std::deque<out_op> _ops;          // output in order; the front is being written
  bool _write_in_progress = false;  // waiting for the socket to take more output
  bool _reading_paused = false;
  bool _closed = false;
  bool _close_after_write = false;
};

}  // namespace sluice::net
