// Fetch (key 1, v4-17): reads from each partition's owner shard, answered when min_bytes are
// there, max_wait_ms has passed, or an error needs reporting. A waiting fetch is woken by the
// next append to any of its partitions (long poll), then reads again.
//
// Limits: partition_max_bytes per partition and max_bytes per response, except that the first
// partition with data always returns at least one whole batch (KIP-74). Offsets outside
// [log start, log end] get OFFSET_OUT_OF_RANGE. Topic ids from v13.
//
// Fetch sessions (KIP-227): Sluice declines to create sessions (session_id 0 in every answer),
// which the protocol allows; clients then send full fetch requests. Unknown session ids get
// FETCH_SESSION_ID_NOT_FOUND.

#include "kafka/fetch.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>

#include "src/broker/broker.h"
#include "src/broker/handler.h"
#include "src/broker/partitions.h"

namespace sluice::broker {
namespace {

using kafka::fetch_request;
using kafka::fetch_response;

struct part_read {
  kafka::error error = kafka::error::none;
  int64_t high_watermark = -1;
  int64_t log_start_offset = -1;
  wire::records records;
};

struct part_want {
  std::shared_ptr<const topic_entry> topic;  // null when unknown
  std::string name;
  wire::uuid id{};
  int32_t index = 0;
  int64_t offset = 0;
  int32_t max_bytes = 0;
  kafka::error error = kafka::error::none;  // resolved before reading (unknown topic, ...)
  part_read got;
};

part_read read_one(partition& p, int64_t offset, int32_t max_bytes) {
  part_read r;
  storage::log& log = p.log();
  r.high_watermark = log.log_end_offset();
  r.log_start_offset = log.log_start_offset();
  if (offset < r.log_start_offset || offset > r.high_watermark) {
    r.error = kafka::error::offset_out_of_range;
    return r;
  }
  auto read = log.read(offset, static_cast<size_t>(std::max(max_bytes, 0)));
  if (!read) {
    r.error = read.error() == errc::not_found ? kafka::error::offset_out_of_range
                                              : kafka::error::kafka_storage_error;
    return r;
  }
  if (read.value().seg == nullptr || read.value().range.length == 0) {
    r.records = wire::bytes();
    return r;
  }
  const storage::byte_range range = read.value().range;
  int fd = read.value().seg->log_file().native_handle();
  if (fd >= 0) fd = ::dup(fd);
  if (fd < 0) {
    // No descriptor to sendfile from (e.g. a test file system): copy the bytes instead.
    auto bytes = read.value().seg->read_bytes(range);
    if (!bytes) {
      r.error = kafka::error::kafka_storage_error;
      return r;
    }
    r.records = std::move(bytes).value();
    return r;
  }
  // The duplicate keeps the segment's file open until the connection has sent the range,
  // even if retention deletes the segment meanwhile.
  r.records.file = wire::file_range{std::shared_ptr<void>(nullptr, [fd](void*) { ::close(fd); }),
                                    fd, range.position, static_cast<uint32_t>(range.length)};
  return r;
}

class fetch_op : public std::enable_shared_from_this<fetch_op> {
 public:
  fetch_op(broker& b, unsigned home, int16_t version, const fetch_request& req,
           responder<fetch_response> reply)
      : _b(b),
        _home(home),
        _version(version),
        _min_bytes(req.min_bytes),
        _max_bytes(version >= 3 ? req.max_bytes : INT32_MAX),
        _max_wait(std::chrono::milliseconds(std::max(req.max_wait_ms, 0))),
        _reply(std::move(reply)),
        _timer(b.shard_context(home)) {}

  std::vector<part_want>& wants() { return _wants; }

  void start() {
    _timer.expires_after(_max_wait);
    _timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      self->_expired = true;
      if (!self->_reading) self->read_all();
    });
    read_all();
  }

 private:
  void read_all() {
    if (_done) return;
    _reading = true;
    _pending = 1;
    for (auto& w : _wants) {
      if (!w.topic || w.error != kafka::error::none) continue;
      ++_pending;
      unsigned owner = owner_shard(w.topic->name, w.index, _b.shard_count());
      _b.post(owner, [self = shared_from_this(), &w, owner] {
        part_read r;
        auto p = self->_b.partitions(owner).get(w.topic, w.index);
        if (!p) {
          r.error = kafka::error::kafka_storage_error;
        } else {
          r = read_one(*p.value(), w.offset, std::min(w.max_bytes, self->_max_bytes));
        }
        self->_b.post(self->_home, [self, &w, r = std::move(r)]() mutable {
          w.got = std::move(r);
          self->one_done();
        });
      });
    }
    one_done();
  }

  void one_done() {
    if (--_pending != 0) return;
    _reading = false;
    size_t total = 0;
    bool error = false;
    for (const auto& w : _wants) {
      total += w.got.records.size();
      error |= w.error != kafka::error::none || w.got.error != kafka::error::none;
    }
    if (_expired || error || total >= static_cast<size_t>(std::max(_min_bytes, 1)) ||
        _max_wait.count() == 0) {
      return respond();
    }
    if (_woken) {  // an append arrived while we were reading: read again now
      _woken = false;
      return read_all();
    }
    // Wait for the next append to any of our partitions (or the timer).
    std::weak_ptr<void> weak = shared_from_this();
    for (auto& w : _wants) {
      if (!w.topic) continue;
      unsigned owner = owner_shard(w.topic->name, w.index, _b.shard_count());
      _b.post(owner, [self = shared_from_this(), weak, &w, owner] {
        auto p = self->_b.partitions(owner).get(w.topic, w.index);
        if (!p) return;
        p.value()->watch(weak, [weak, home = self->_home, &b = self->_b] {
          b.post(home, [weak] {
            if (auto s = std::static_pointer_cast<fetch_op>(weak.lock())) s->wake();
          });
        });
      });
    }
  }

  void wake() {
    if (_done) return;
    if (_reading) {
      _woken = true;
    } else {
      read_all();
    }
  }

  void respond() {
    _done = true;
    _timer.cancel();
    fetch_response resp;
    size_t total = 0;
    for (auto& w : _wants) {
      fetch_response::fetchable_topic_response* t =
          resp.responses.empty() ? nullptr : &resp.responses.back();
      bool same = t != nullptr && (_version >= 13 ? t->topic_id == w.id : t->topic == w.name);
      if (!same) {
        t = &resp.responses.emplace_back();
        t->topic = w.name;
        t->topic_id = w.id;
      }
      auto& p = t->partitions.emplace_back();
      p.partition_index = w.index;
      kafka::error e = w.error != kafka::error::none ? w.error : w.got.error;
      p.error_code = kafka::code(e);
      p.high_watermark = w.got.high_watermark;
      p.last_stable_offset = w.got.high_watermark;  // no transactions yet: LSO = HW
      p.log_start_offset = w.got.log_start_offset;
      p.aborted_transactions.emplace();  // empty list, not null
      const size_t size = w.got.records.size();
      // Over the response limit, later partitions send nothing this time (KIP-74 allows going
      // over only for the first batch).
      if (size > 0 && (total == 0 || total + size <= static_cast<size_t>(_max_bytes))) {
        total += size;
        p.records = std::move(w.got.records);
      } else {
        p.records = wire::bytes();
      }
    }
    _reply(std::move(resp));
  }

  broker& _b;
  unsigned _home;
  int16_t _version;
  int32_t _min_bytes;
  int32_t _max_bytes;
  std::chrono::milliseconds _max_wait;
  responder<fetch_response> _reply;
  boost::asio::steady_timer _timer;
  std::vector<part_want> _wants;
  size_t _pending = 0;
  bool _reading = false;
  bool _woken = false;
  bool _expired = false;
  bool _done = false;
};

void handle(request_context& ctx, fetch_request& req, responder<fetch_response> reply) {
  broker& b = ctx.owner;
  const int16_t v = ctx.version();
  if (v >= 7 && req.session_id != 0) {
    fetch_response resp;
    resp.error_code = kafka::code(kafka::error::fetch_session_id_not_found);
    resp.session_id = 0;
    return reply(std::move(resp));
  }
  auto op = std::make_shared<fetch_op>(b, ctx.conn.shard, v, req, std::move(reply));
  auto topics = b.topics().snapshot();
  for (const auto& t : req.topics) {
    std::shared_ptr<const topic_entry> entry;
    if (v >= 13) {
      for (const auto& [name, e] : *topics) {
        if (e->id == t.topic_id) entry = e;
      }
    } else if (auto it = topics->find(t.topic); it != topics->end()) {
      entry = it->second;
    }
    for (const auto& p : t.partitions) {
      auto& w = op->wants().emplace_back();
      w.name = entry ? entry->name : t.topic;
      w.id = t.topic_id;
      w.index = p.partition;
      w.offset = p.fetch_offset;
      w.max_bytes = p.partition_max_bytes;
      if (!entry) {
        w.error =
            v >= 13 ? kafka::error::unknown_topic_id : kafka::error::unknown_topic_or_partition;
      } else if (p.partition < 0 || p.partition >= entry->partitions) {
        w.error = kafka::error::unknown_topic_or_partition;
      } else {
        w.topic = entry;
      }
    }
  }
  op->start();
}

}  // namespace

extern const handler fetch_handler = {fetch_request::api_key, 4, 17,
                                      &typed_handle<fetch_request, fetch_response, &handle>};

}  // namespace sluice::broker
