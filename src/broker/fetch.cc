// Fetch (key 1, v4-17): reads from each partition's owner shard, answered when min_bytes are
// there, max_wait_ms has passed, or an error needs reporting. A waiting fetch is woken by the
// next append to any of its partitions (long poll), then reads again.
//
// Limits: partition_max_bytes per partition and max_bytes per response, except that the first
// partition with data always returns at least one whole batch (KIP-74). Offsets outside
// [log start, log end] get OFFSET_OUT_OF_RANGE. Topic ids from v13.
//
// Transactions: every answer carries the last stable offset (the first offset of the oldest
// open transaction, else the high watermark). With isolation_level=read_committed (1) data stops
// before it and the aborted transactions overlapping the returned range are listed from the
// segments' txn indexes (src/storage/txn_index.h), so the client drops their records (KIP-98);
// markers themselves are never delivered to applications.
//
// Fetch sessions (KIP-227, v7+): fetch_session.h has the rules; the session cache of the
// connection's shard is consulted when the request arrives and the session's record of what
// was sent is updated when the response is built.

#include "kafka/fetch.h"

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>

#include "src/broker/broker.h"
#include "src/broker/fetch_session.h"
#include "src/broker/handler.h"
#include "src/broker/partitions.h"

namespace sluice::broker {
namespace {

using kafka::fetch_request;
using kafka::fetch_response;

struct part_read {
  kafka::error error = kafka::error::none;
  int64_t high_watermark = -1;
  int64_t last_stable_offset = -1;
  int64_t log_start_offset = -1;
  wire::records records;
  topic_metrics* metrics = nullptr;           // the partition's, for bytes out
  std::vector<storage::aborted_txn> aborted;  // read_committed only
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

part_read read_one(partition& p, int64_t offset, int32_t max_bytes, bool read_committed) {
  part_read r;
  storage::log& log = p.log();
  r.high_watermark = log.log_end_offset();
  r.log_start_offset = log.log_start_offset();
  const int64_t unstable = p.producers.first_unstable_offset();
  r.last_stable_offset = unstable >= 0 ? unstable : r.high_watermark;
  if (offset < r.log_start_offset || offset > r.high_watermark) {
    r.error = kafka::error::offset_out_of_range;
    return r;
  }
  if (read_committed && offset >= r.last_stable_offset) {
    r.records = wire::bytes();
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
  storage::byte_range range = read.value().range;
  if (read_committed) {
    // Stop before the batch at the last stable offset when it is in the range read (an open
    // transaction's first batch starts there, so it is a batch boundary).
    if (r.last_stable_offset < r.high_watermark) {
      auto stable = log.read(r.last_stable_offset, 0);
      if (stable && stable.value().seg == read.value().seg &&
          stable.value().range.position > range.position &&
          stable.value().range.position < range.position + range.length) {
        range.length = stable.value().range.position - range.position;
      }
    }
    // Kafka's rule: the aborted transactions overlapping exactly what is returned, from the
    // segments' txn indexes (the range ends before the next batch, or at the segment's end).
    auto upper = read.value().seg->offset_at(range.position + range.length);
    auto aborted = upper
                       ? log.collect_aborted(offset, std::min(upper.value(), r.last_stable_offset))
                       : result<std::vector<storage::aborted_txn>>(upper.error());
    if (!aborted || log.error()) {
      // Without the list a client would deliver aborted records: refuse rather than guess.
      r.error = kafka::error::kafka_storage_error;
      return r;
    }
    r.aborted = std::move(aborted).value();
  }
  std::shared_ptr<storage::file> file = read.value().seg->shared_log_file();
  const int fd = file->native_handle();
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
  // Sharing the segment's file keeps its descriptor open until the connection has sent the
  // range, even if retention deletes the segment meanwhile (no dup and close per fetch).
  r.records.file =
      wire::file_range{std::move(file), fd, range.position, static_cast<uint32_t>(range.length)};
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
        _read_committed(req.isolation_level == 1),
        _reply(std::move(reply)),
        _timer(b.shard_context(home)) {}

  std::vector<part_want>& wants() { return _wants; }
  // The session this fetch belongs to; `incremental`: answer only what changed.
  void set_session(std::shared_ptr<fetch_session> s, bool incremental) {
    _session = std::move(s);
    _incremental = incremental;
  }

  void start() {
    // The timer is armed only if the fetch has to wait: a consumer that is behind gets its
    // answer from the first read, without two timer updates per request.
    _deadline = std::chrono::steady_clock::now() + _max_wait;
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
      const int32_t max_bytes = std::min(w.max_bytes, _max_bytes);
      // Inline when the partition is on this shard: a consumer's fetch then costs no thread
      // hop (the `_pending` guard keeps an inline answer from responding early).
      _b.with_partition_async<part_read>(
          _home, w.topic, w.index,
          [offset = w.offset, max_bytes, committed = _read_committed](
              result<partition*> p, std::function<void(part_read)> finish) {
            part_read r;
            if (!p) {
              // A topic deleted while the fetch waited is unknown now, not a storage failure.
              r.error = lookup_error(p.error());
            } else {
              r = read_one(*p.value(), offset, max_bytes, committed);
              r.metrics = &p.value()->metrics();
            }
            finish(std::move(r));
          },
          [self = shared_from_this(), &w](part_read r) {
            w.got = std::move(r);
            self->one_done();
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
        _max_wait.count() == 0 || _wants.empty()) {
      return respond();
    }
    if (_woken) {  // an append arrived while we were reading: read again now
      _woken = false;
      return read_all();
    }
    // Wait for the next append to any of our partitions (or the timer).
    if (!_parked) {
      if (std::chrono::steady_clock::now() >= _deadline) return respond();
      _parked = true;
      fetch_purgatory().add();
      _timer.expires_at(_deadline);
      _timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec) return;
        self->_expired = true;
        if (!self->_reading) self->read_all();
      });
    }
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
    if (_parked) {
      _timer.cancel();
      fetch_purgatory().sub();
    }
    fetch_response resp;
    resp.session_id = _session ? _session->id : 0;
    std::unordered_map<std::string, size_t> topic_at;  // topic name or id -> index in responses
    size_t total = 0;
    for (auto& w : _wants) {
      kafka::error e = w.error != kafka::error::none ? w.error : w.got.error;
      const size_t size = w.got.records.size();
      if (_session) {
        session_partition* sp = _session->find(w.name, w.id, w.index);
        bool send =
            sp == nullptr || sp->must_send(e, size, w.got.high_watermark, w.got.log_start_offset);
        if (_incremental && !send) continue;
      }
      const std::string key = _version >= 13 ? std::string(w.id.begin(), w.id.end()) : w.name;
      auto [it, added] = topic_at.try_emplace(key, resp.responses.size());
      if (added) {
        auto& t = resp.responses.emplace_back();
        t.topic = w.name;
        t.topic_id = w.id;
      }
      auto& p = resp.responses[it->second].partitions.emplace_back();
      p.partition_index = w.index;
      p.error_code = kafka::code(e);
      p.high_watermark = w.got.high_watermark;
      p.last_stable_offset = w.got.last_stable_offset;
      p.log_start_offset = w.got.log_start_offset;
      auto& aborted = p.aborted_transactions.emplace();  // empty list, not null
      for (const auto& a : w.got.aborted) {
        auto& out = aborted.emplace_back();
        out.producer_id = a.producer_id;
        out.first_offset = a.first_offset;
      }
      // Over the response limit, later partitions send nothing this time (KIP-74 allows going
      // over only for the first batch).
      if (size > 0 && (total == 0 || total + size <= static_cast<size_t>(_max_bytes))) {
        total += size;
        if (w.got.metrics != nullptr) w.got.metrics->bytes_out.inc(size);
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
  std::chrono::steady_clock::time_point _deadline;
  bool _read_committed;
  responder<fetch_response> _reply;
  boost::asio::steady_timer _timer;
  std::vector<part_want> _wants;
  std::shared_ptr<fetch_session> _session;
  bool _incremental = false;
  size_t _pending = 0;
  bool _reading = false;
  bool _woken = false;
  bool _expired = false;
  bool _done = false;
  bool _parked = false;  // counted in fetch_purgatory()
};

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Resolves the topic of a request partition (by id from v13) against the current snapshot.
void add_want(fetch_op& op, const std::shared_ptr<const topic_map>& topics, int16_t v,
              const std::string& name, const wire::uuid& id, int32_t index, int64_t offset,
              int32_t max_bytes) {
  std::shared_ptr<const topic_entry> entry;
  if (v >= 13) {
    for (const auto& [n, e] : *topics) {
      if (e->id == id) entry = e;
    }
  } else if (auto it = topics->find(name); it != topics->end()) {
    entry = it->second;
  }
  auto& w = op.wants().emplace_back();
  w.name = entry ? entry->name : name;
  w.id = id;
  w.index = index;
  w.offset = offset;
  w.max_bytes = max_bytes;
  if (!entry) {
    w.error = v >= 13 ? kafka::error::unknown_topic_id : kafka::error::unknown_topic_or_partition;
  } else if (index < 0 || index >= entry->partitions) {
    w.error = kafka::error::unknown_topic_or_partition;
  } else {
    w.topic = entry;
  }
}

void handle(request_context& ctx, fetch_request& req, responder<fetch_response> reply) {
  broker& b = ctx.owner;
  const int16_t v = ctx.version();
  const int64_t now = wall_ms();
  fetch_context session;
  if (v >= 7)
    session = b.fetch_sessions(ctx.conn.shard).open(req.session_id, req.session_epoch, now);
  if (session.error != kafka::error::none) {
    fetch_response resp;
    resp.error_code = kafka::code(session.error);
    resp.session_id = 0;
    return reply(std::move(resp));
  }
  auto op = std::make_shared<fetch_op>(b, ctx.conn.shard, v, req, std::move(reply));
  auto topics = b.topics().snapshot();
  if (std::shared_ptr<fetch_session> s = session.session) {  // incremental
    for (const auto& t : req.topics) {
      for (const auto& p : t.partitions) {
        s->upsert({t.topic, t.topic_id, p.partition, p.fetch_offset, p.partition_max_bytes});
      }
    }
    for (const auto& t : req.forgotten_topics_data) {
      for (int32_t p : t.partitions) s->forget(t.topic, t.topic_id, p);
    }
    if (s->partitions.empty()) {
      b.fetch_sessions(ctx.conn.shard).remove(s->id);
    } else {
      for (const auto& p : s->partitions) {
        add_want(*op, topics, v, p.topic, p.topic_id, p.partition, p.fetch_offset, p.max_bytes);
      }
      op->set_session(std::move(s), true);
    }
    return op->start();
  }
  for (const auto& t : req.topics) {
    for (const auto& p : t.partitions) {
      add_want(*op, topics, v, t.topic, t.topic_id, p.partition, p.fetch_offset,
               p.partition_max_bytes);
    }
  }
  if (session.create && !op->wants().empty()) {
    if (auto s = b.fetch_sessions(ctx.conn.shard).create(now)) {
      s->topic_ids = v >= 13;
      for (const auto& t : req.topics) {
        for (const auto& p : t.partitions) {
          s->upsert({t.topic, t.topic_id, p.partition, p.fetch_offset, p.partition_max_bytes});
        }
      }
      op->set_session(std::move(s), false);
    }
  }
  op->start();
}

}  // namespace

extern const handler fetch_handler = {fetch_request::api_key, 4, 17,
                                      &typed_handle<fetch_request, fetch_response, &handle>};

}  // namespace sluice::broker
