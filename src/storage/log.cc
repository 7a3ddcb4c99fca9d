#include "src/storage/log.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>

#include "src/base/byte_order.h"
#include "src/base/crc32c.h"
#include "src/protocol/record_batch.h"
#include "src/storage/compaction.h"

namespace sluice::storage {

// Shared by a log and its sync tasks; everything but `written`'s loads is under the log's
// group_commit::sync_mutex(), which a sync task holds while it runs after_rolled().
struct recovery_point_state {
  bool closed = false;  // the log closed: its directory may be renamed for deletion, or reused
  // The file's offset; -1 while there is none. Only grows (compaction relies on it).
  std::atomic<int64_t> written{-1};
};

namespace {

constexpr size_t kDigits = 20;
constexpr size_t kMaxTimestampOffset = 35;  // docs/formats/record_batch.md
constexpr const char* kStartOffsetFile = "log-start-offset";
constexpr const char* kStartOffsetTemp = "log-start-offset.tmp";
constexpr const char* kRecoveryPointFile = "recovery-point";
constexpr const char* kRecoveryPointTemp = "recovery-point.tmp";
constexpr size_t kOffsetFileSize = 14;  // version int16, offset int64, crc32c uint32

// An offset file (log-start-offset, recovery-point: docs/formats/segment.md); nullopt when absent.
// Written by rename, so it is whole or absent; anything else is damage, not a crash.
result<std::optional<int64_t>> read_offset_file(file_system& fs, const std::string& path) {
  auto f = fs.open(path);
  if (!f) {
    if (f.error() == errc::not_found) return std::optional<int64_t>{};
    return f.error();
  }
  std::array<uint8_t, kOffsetFileSize + 1> buf;
  auto n = f.value()->pread(0, buf);
  if (!n) return n.error();
  if (n.value() != kOffsetFileSize || be::load_i16(buf.data()) != 0 ||
      be::load_u32(&buf[10]) != crc32c::value(buf.data(), 10)) {
    return errc::invalid_data;
  }
  return std::optional<int64_t>{be::load_i64(&buf[2])};
}

std::error_code write_offset_file(file_system& fs, const std::string& dir, const char* name,
                                  const char* temp, int64_t offset) {
  std::array<uint8_t, kOffsetFileSize> buf;
  be::store_i16(buf.data(), 0);
  be::store_i64(&buf[2], offset);
  be::store_u32(&buf[10], crc32c::value(buf.data(), 10));
  return replace_file(fs, dir, name, temp, buf);
}

std::error_code store_point_locked(file_system& fs, const std::string& dir,
                                   recovery_point_state& st, int64_t offset) {
  if (st.written.load(std::memory_order_relaxed) >= offset) return {};
  if (auto ec = write_offset_file(fs, dir, kRecoveryPointFile, kRecoveryPointTemp, offset)) {
    return ec;
  }
  st.written.store(offset, std::memory_order_release);
  return {};
}

struct pending_trim {
  std::shared_ptr<file> f;
  uint64_t size;
};

// What follows the sync of rolled segments, on the sync thread (a sync task's after_before step,
// under the sync mutex) or in flush(): here, not at the roll, because each of these waits
// behind other partitions' writeback, and on the owner thread that stalled the whole shard
// (docs/performance.md, change 13).
std::error_code after_rolled(file_system& fs, const std::string& dir, recovery_point_state& st,
                             int64_t point, const std::vector<pending_trim>& trims) {
  for (const auto& t : trims) (void)t.f->truncate(t.size);  // best effort, like the reservation
  // The new segments' names must be durable before anything appended to them is called durable.
  // A log closed since may have had its directory renamed away; close() synced it first (a log
  // destroyed without close() has no waiters left to credit).
  if (auto ec = fs.sync_dir(dir); ec && !(st.closed && ec == errc::not_found)) return ec;
  // Best effort (a stale point only makes recovery longer); never into a directory that may
  // belong to another log by now.
  if (!st.closed) (void)store_point_locked(fs, dir, st, point);
  return {};
}

// LogAppendTime, as Kafka stamps a batch in place: attribute bit and maxTimestamp; both lie in
// the CRC's range, so the CRC is recomputed.
void stamp_log_append_time(std::span<uint8_t> batch, int64_t now_ms) {
  const auto attributes = be::load_i16(&batch[records::kAttributesOffset]);
  be::store_i16(&batch[records::kAttributesOffset],
                static_cast<int16_t>(attributes | records::attr::kTimestampType));
  be::store_i64(&batch[kMaxTimestampOffset], now_ms);
  be::store_u32(&batch[records::kCrcOffset], records::compute_crc(batch));
}

// "<20 digits>.log" -> base offset; anything else is not a segment.
bool parse_segment_name(const std::string& name, int64_t& base) {
  if (name.size() != kDigits + 4 || !name.ends_with(".log")) return false;
  auto [p, ec] = std::from_chars(name.data(), name.data() + kDigits, base);
  return ec == std::errc() && p == name.data() + kDigits && base >= 0;
}

constexpr char kMarkerName[] = "clean_shutdown";
constexpr char kMarkerTemp[] = "clean_shutdown.tmp";
constexpr uint32_t kMarkerMagic = 0x534c4353;  // "SLCS"
constexpr uint16_t kMarkerVersion = 1;
constexpr size_t kMarkerSize = 4 + 2 + 8 + 8 + 8 + 8 + 4;

}  // namespace

struct clean_marker {
  int64_t log_end_offset = 0;
  int64_t active_base_offset = 0;
  uint64_t active_size = 0;
  uint64_t last_batch_position = 0;  // == active_size when the segment is empty
};

namespace {

wire::bytes encode_marker(const clean_marker& m) {
  wire::bytes b(kMarkerSize);
  be::store_u32(&b[0], kMarkerMagic);
  be::store_u16(&b[4], kMarkerVersion);
  be::store_i64(&b[6], m.log_end_offset);
  be::store_i64(&b[14], m.active_base_offset);
  be::store_u64(&b[22], m.active_size);
  be::store_u64(&b[30], m.last_batch_position);
  be::store_u32(&b[38], crc32c::value(b.data(), 38));
  return b;
}

// The marker in `dir` if there is a well-formed one. Any marker file found is removed (and the
// removal made durable) before the log takes appends: a stale one would vouch for a tail that a
// later crash may have torn.
result<std::optional<clean_marker>> take_marker(file_system& fs, const std::string& dir) {
  const std::string path = dir + "/" + kMarkerName;
  auto f = fs.open(path);
  if (!f) {
    if (f.error() == errc::not_found) return std::optional<clean_marker>{};
    return f.error();
  }
  std::optional<clean_marker> out;
  wire::bytes b(kMarkerSize);
  auto n = f.value()->pread(0, b);
  auto size = f.value()->size();
  if (n && n.value() == kMarkerSize && size && size.value() == kMarkerSize &&
      be::load_u32(&b[0]) == kMarkerMagic && be::load_u16(&b[4]) == kMarkerVersion &&
      be::load_u32(&b[38]) == crc32c::value(b.data(), 38)) {
    out = clean_marker{be::load_i64(&b[6]), be::load_i64(&b[14]), be::load_u64(&b[22]),
                       be::load_u64(&b[30])};
  }
  f.value().reset();
  if (auto ec = fs.remove(path)) return ec;
  if (auto ec = fs.sync_dir(dir)) return ec;
  return out;
}

}  // namespace

std::unique_ptr<segment> log::open_clean(file_system& fs, const std::string& dir, int64_t base,
                                         segment_options opts, const clean_marker& m) {
  if (m.active_base_offset != base || m.last_batch_position > m.active_size) return nullptr;
  auto s = segment::open(fs, dir, base, opts);  // index from close(), headers after its last entry
  if (!s) return nullptr;
  segment& seg = *s.value();
  if (seg.size_bytes() != m.active_size || seg.next_offset() != m.log_end_offset) return nullptr;
  if (m.active_size > 0) {
    // The last batch must be the one close() saw, CRC and all: cheap, and it catches a tail
    // that changed under a matching size.
    auto last = seg.read_bytes({m.last_batch_position, m.active_size - m.last_batch_position});
    if (!last) return nullptr;
    auto h = records::validate_batch(last.value());
    if (!h || h.value().size_bytes() != last.value().size() ||
        h.value().last_offset() + 1 != m.log_end_offset) {
      return nullptr;
    }
  }
  return std::move(s).value();
}

log::log(file_system& fs, std::string dir, log_options opts)
    : _fs(&fs),
      _dir(std::move(dir)),
      _opts(opts),
      _point(std::make_shared<recovery_point_state>()) {}

log::~log() {
  if (!_gc) return;
  _gc->detach();
  std::lock_guard lock(_gc->sync_mutex());  // waits out a sync task in after_rolled()
  _point->closed = true;
}

result<std::unique_ptr<log>> log::open(file_system& fs, std::string dir, log_options opts) {
  if (opts.segment_bytes == 0 || opts.segment_bytes > segment::kMaxSize) {
    return errc::invalid_config;
  }
  std::unique_ptr<log> l(new log(fs, std::move(dir), opts));
  l->_gc =
      std::make_shared<group_commit>(l->_opts.sync_executor, l->_opts.post_back, [p = l.get()] {
        // Any sync resets the flush policy's counters.
        p->_unsynced_records = 0;
        p->_last_sync_ms = p->_now_ms;
        group_commit::target t{
            {}, {}, p->_segments.back()->shared_log_file(), p->log_end_offset(), p->_written_end};
        if (p->_unflushed.empty()) return t;
        std::vector<pending_trim> trims;
        for (const auto& u : p->_unflushed) {
          t.before.insert(t.before.end(), u.files.begin(), u.files.end());
          if (u.trim_to) trims.push_back({u.files.front(), *u.trim_to});
        }
        t.after_before = [fs = p->_fs, dir = p->_dir, st = p->_point,
                          point = p->_unflushed.back().end, trims = std::move(trims)] {
          return after_rolled(*fs, dir, *st, point, trims);
        };
        return t;
      });
  l->_gc->on_durable([p = l.get()](int64_t end) { p->on_durable(end); });
  if (auto ec = fs.mkdir(l->_dir)) return ec;
  if (auto ec = compaction::recover(fs, l->_dir)) return ec;
  SLUICE_TRY(marker, take_marker(fs, l->_dir));
  SLUICE_TRY(point, read_offset_file(fs, l->_dir + "/" + kRecoveryPointFile));
  SLUICE_TRY(names, fs.list_dir(l->_dir));
  std::vector<int64_t> bases;
  for (const auto& name : names) {
    int64_t base;
    if (parse_segment_name(name, base)) bases.push_back(base);
  }
  std::sort(bases.begin(), bases.end());

  if (bases.empty()) {
    SLUICE_TRY(s, segment::create(fs, l->_dir, 0, l->seg_opts()));
    l->_segments.push_back(std::move(s));
    l->reset_written_end();
    if (auto ec = fs.sync_dir(l->_dir)) return ec;
    // Now, so that no roll has to (best effort: the first roll tries again).
    (void)l->write_recovery_point(0);
    if (auto ec = l->load_start_offset()) return ec;
    return l;
  }
  std::unique_ptr<segment> clean_active;
  if (marker) clean_active = open_clean(fs, l->_dir, bases.back(), l->seg_opts(), *marker);
  // A roll leaves the closed segment's fdatasync to the next group-commit sync, and only then
  // moves the recovery point past it. So after a crash every segment from the recovery point on
  // may have lost data; without the file (a log from before it existed) only the active one.
  const int64_t recover_from =
      clean_active || !point ? bases.back() : std::min(*point, bases.back());
  for (size_t i = 0; i < bases.size(); ++i) {
    const bool active = i + 1 == bases.size();
    const bool recover = bases[i] >= recover_from && !(active && clean_active);
    std::unique_ptr<segment> s;
    if (active && clean_active) {
      s = std::move(clean_active);
      l->_recovery = recovery_result{s->size_bytes(), 0, 0};
      l->_opened_clean = true;
    } else if (recover) {
      recovery_result r;
      SLUICE_TRY(opened, segment::open_and_recover(fs, l->_dir, bases[i], l->seg_opts(), &r));
      s = std::move(opened);
      l->_recovery.valid_bytes += r.valid_bytes;
      l->_recovery.truncated_bytes += r.truncated_bytes;
      l->_recovery.batches += r.batches;
    } else {
      SLUICE_TRY(opened, segment::open(fs, l->_dir, bases[i], l->seg_opts()));
      s = std::move(opened);
    }
    // Offsets only grow from one segment to the next.
    if (!l->_segments.empty() && s->base_offset() < l->_segments.back()->next_offset()) {
      return errc::invalid_data;
    }
    l->_segments.push_back(std::move(s));
    if (active || !recover) continue;
    segment& closed = *l->_segments.back();
    // Rolled at exactly its next offset, and never compacted (compaction stops at the recovery
    // point): if it now ends short, what followed it is after a hole and goes too (Kafka's rule).
    if (closed.next_offset() > bases[i + 1]) return errc::invalid_data;  // overlap: damage
    if (closed.next_offset() < bases[i + 1]) {
      if (auto ec = l->remove_segments_from(bases, i + 1)) return ec;
      break;
    }
    // Recovery rewrote its indexes without a sync; they must be durable before the recovery
    // point passes it: the txn index now (it is not checked again on open), the others with
    // the segment's data (group commit, below).
    if (auto ec = closed.txn().sync()) return ec;
    (void)closed.write_index(false);
    // Read back, but perhaps only from the page cache (a process crash): sync before trusting.
    l->_unflushed.push_back({closed.durable_files(), bases[i + 1], std::nullopt});
  }
  if (point) {
    l->_point->written.store(*point, std::memory_order_relaxed);
  }
  // Without the file every closed segment was synced at roll (or there is none); after a clean
  // shutdown everything was. Best effort: a stale recovery point only means a longer recovery
  // (and a missing one is written at the first roll).
  if (l->_unflushed.empty() &&
      l->_point->written.load(std::memory_order_relaxed) != l->active_base_offset() &&
      (l->_opened_clean || !point)) {
    (void)l->write_recovery_point(l->active_base_offset());
  }
  l->reset_written_end();
  l->_active_since_ms = l->_segments.back()->first_batch_timestamp();
  if (auto ec = l->load_start_offset()) return ec;
  // After a clean shutdown everything was synced; otherwise the recovered tail may sit only in
  // the page cache, so the first durable wait syncs it.
  if (l->_opened_clean) l->_gc->mark_durable(l->log_end_offset());
  if (!l->_unflushed.empty()) l->_gc->request_sync();
  return l;
}

std::error_code log::load_start_offset() {
  _log_start_offset = _segments.front()->base_offset();
  auto start = read_offset_file(*_fs, _dir + "/" + kStartOffsetFile);
  if (!start) return start.error();
  // Flushed before it was written, so it cannot pass the durable log end unless files were lost.
  if (start.value()) {
    _log_start_offset = std::clamp(*start.value(), _log_start_offset, log_end_offset());
  }
  return {};
}

std::error_code log::write_start_offset(int64_t offset) {
  return write_offset_file(*_fs, _dir, kStartOffsetFile, kStartOffsetTemp, offset);
}

std::error_code log::write_recovery_point(int64_t offset) {
  std::lock_guard lock(_gc->sync_mutex());  // a sync task may be writing it
  return store_point_locked(*_fs, _dir, *_point, offset);
}

int64_t log::recovery_point() const {
  // As the file says; a sync task may move it meanwhile (only up, past synced segments).
  return std::max<int64_t>(0, _point->written.load(std::memory_order_acquire));
}

void log::on_durable(int64_t /*durable_end*/) {
  // A sync task writes the point only after syncing the segments below it. One that failed to
  // write it leaves them here: the next sync syncs them again (cheap) and retries.
  const int64_t point = recovery_point();
  size_t synced = 0;
  while (synced < _unflushed.size() && _unflushed[synced].end <= point) ++synced;
  _unflushed.erase(_unflushed.begin(), _unflushed.begin() + static_cast<ptrdiff_t>(synced));
}

result<log::append_result> log::append(std::span<uint8_t> batch, int64_t now_ms) {
  if (_gc->error()) return errc::io_error;
  SLUICE_TRY(checked, records::check_batch(batch));
  return append(checked, now_ms);
}

result<log::append_result> log::append(const records::checked_batch& checked, int64_t now_ms) {
  if (_gc->error()) return errc::io_error;
  const std::span<uint8_t> batch = checked.bytes();
  const records::batch_header& h = checked.header();
  int64_t append_time = -1;
  if (_opts.log_append_time) {
    if (now_ms < 0) return errc::invalid_config;
    stamp_log_append_time(batch, now_ms);
    append_time = now_ms;
  }
  segment* active = _segments.back().get();
  const bool full = active->size_bytes() + batch.size() > _opts.segment_bytes;
  const bool offsets_full =
      active->next_offset() + h.last_offset_delta - active->base_offset() > int64_t{UINT32_MAX};
  const bool too_old = _opts.segment_ms >= 0 && now_ms >= 0 && _active_since_ms >= 0 &&
                       now_ms - _active_since_ms > _opts.segment_ms;
  if (!active->empty() && (full || offsets_full || too_old)) {
    if (auto ec = roll()) return ec;
    active = _segments.back().get();
  }
  SLUICE_TRY(a, active->append(batch));
  _written_end->store(a.last_offset + 1, std::memory_order_release);
  _unsynced_records += a.last_offset - a.base_offset + 1;
  if (_unsynced_records >= _opts.flush_messages) request_sync();
  if (_active_since_ms < 0) _active_since_ms = now_ms;
  return append_result{a.base_offset, a.last_offset, append_time};
}

result<log::append_result> log::append_durable(std::span<uint8_t> batch, int64_t now_ms,
                                               completion on_durable) {
  SLUICE_TRY(a, append(batch, now_ms));
  _gc->wait(a.last_offset, std::move(on_durable));
  return a;
}

void log::wait_durable(int64_t offset, completion done) {
  if (_gc->error()) {
    done(errc::io_error);
    return;
  }
  // An offset not yet appended would never be covered (and would make every sync start another).
  if (offset >= log_end_offset()) {
    done(errc::not_found);
    return;
  }
  _gc->wait(offset, std::move(done));
}

void log::request_sync() {
  _unsynced_records = 0;  // also reset by the snapshot; keeps a coalesced request from repeating
  _gc->request_sync();
}

void log::tick(int64_t now_ms) {
  _now_ms = now_ms;
  if (_unsynced_records == 0 || _last_sync_ms < 0) {
    _last_sync_ms = now_ms;  // nothing to sync: the flush.ms clock starts at the next append
    return;
  }
  if (now_ms - _last_sync_ms >= _opts.flush_ms) {
    _last_sync_ms = now_ms;
    request_sync();
  }
}

std::error_code log::roll() {
  segment* active = _segments.back().get();
  if (active->empty()) return {};
  if (_gc->error()) return errc::io_error;
  // The old segment's data is left to the next group-commit sync (below), not synced here: that
  // fdatasync writes back up to a whole segment (1.5 s for 1 GiB on the benchmark VM) and would
  // stall every partition and connection of this shard meanwhile. Until it is done the recovery
  // point stays below the old segment, so an unclean open checks it again. Its trim, the
  // recovery point and the directory sync go with it (after_rolled()).
  // Unlike the offset index this one is not rebuilt for closed segments: it must be durable.
  if (auto ec = active->txn().sync()) {
    _gc->fail(ec);
    return errc::io_error;
  }
  // The index is an accelerator that open() validates and rebuilds; a failure here is not fatal.
  // Its fdatasyncs go with the segment's (durable_files()): here they would wait behind other
  // partitions' writeback on the shard thread (docs/performance.md, change 12).
  (void)active->write_index(false);
  // Without the file, open() would take every closed segment for durable (as before rolls left
  // their sync to group commit): write it once, while that is still true. Nothing changed yet
  // if this (or the create) fails; the next append tries the roll again.
  if (_point->written.load(std::memory_order_relaxed) < 0) {
    if (auto ec = write_recovery_point(active->base_offset())) return ec;
  }
  auto s = segment::create(*_fs, _dir, active->next_offset(), seg_opts());
  if (!s) return s.error();
  // Blocks reserved past the end only waste space (freed by the sync, best effort).
  _unflushed.push_back({active->durable_files(), active->next_offset(), active->take_trim()});
  _segments.push_back(std::move(s).value());
  reset_written_end();  // after the push: a snapshot in between pairs the old end with the new file
  _active_since_ms = -1;
  // The new file's name is made durable by that sync, before it covers anything appended here.
  _gc->request_sync();
  return {};
}

std::error_code log::remove_segments_from(const std::vector<int64_t>& bases, size_t first) {
  for (size_t k = first; k < bases.size(); ++k) {
    const int64_t base = bases[k];
    if (auto ec = _fs->remove(_dir + "/" + segment::log_name(base))) return ec;
    (void)_fs->remove(_dir + "/" + segment::index_name(base));
    (void)_fs->remove(_dir + "/" + segment::time_index_name(base));
    (void)_fs->remove(_dir + "/" + txn_index::name(base));
  }
  return _fs->sync_dir(_dir);
}

result<log::read_result> log::read(int64_t offset, size_t max_bytes) {
  if (offset < log_start_offset() || offset > log_end_offset()) return errc::not_found;
  if (offset == log_end_offset()) return read_result{};
  auto it = std::upper_bound(_segments.begin(), _segments.end(), offset,
                             [](int64_t o, const auto& s) { return o < s->base_offset(); });
  // upper_bound > begin() because offset >= the first base offset.
  for (--it; it != _segments.end(); ++it) {
    segment& s = **it;
    if (offset >= s.next_offset()) continue;  // past this segment (or it is empty)
    SLUICE_TRY(r, s.read(std::max(offset, s.base_offset()), max_bytes));
    return read_result{&s, r};
  }
  return read_result{};
}

result<wire::bytes> log::read_bytes(int64_t offset, size_t max_bytes) {
  SLUICE_TRY(r, read(offset, max_bytes));
  if (r.seg == nullptr) return wire::bytes{};
  return r.seg->read_bytes(r.range);
}

result<timestamp_offset> log::offset_for_time(int64_t timestamp) {
  switch (timestamp) {
    case kEarliestTimestamp:
    case kEarliestLocalTimestamp:
      return timestamp_offset{log_start_offset(), -1};
    case kLatestTimestamp:
      return timestamp_offset{log_end_offset(), -1};
    case kMaxTimestamp: {
      segment* best = nullptr;  // the first segment holding the largest timestamp
      for (auto& s : _segments) {
        if (s->next_offset() > _log_start_offset &&
            (best == nullptr || s->max_timestamp() > best->max_timestamp())) {
          best = s.get();
        }
      }
      if (best == nullptr) return timestamp_offset{};
      return best->find_max_timestamp();
    }
    default:
      break;
  }
  if (timestamp < 0) return errc::invalid_data;
  for (auto& s : _segments) {
    if (s->next_offset() <= _log_start_offset || s->max_timestamp() < timestamp) continue;
    SLUICE_TRY(r, s->find_by_timestamp(timestamp, _log_start_offset));
    if (r.offset >= 0) return r;
  }
  return timestamp_offset{};
}

result<int64_t> log::delete_records(int64_t offset) {
  if (offset < 0 || offset > log_end_offset()) return errc::not_found;
  if (offset <= _log_start_offset) return _log_start_offset;
  // The checkpoint must never name an offset a crash could take back.
  if (auto ec = flush()) return ec;
  if (auto ec = write_start_offset(offset)) return ec;
  _log_start_offset = offset;
  return offset;
}

std::error_code log::remove_oldest_segment() {
  const int64_t base = _segments.front()->base_offset();
  // Without its .log a segment no longer exists for open(); leftover indexes are ignored there
  // and truncated if the name is ever reused.
  if (auto ec = _fs->remove(_dir + "/" + segment::log_name(base))) return ec;
  _segments.erase(_segments.begin());
  (void)_fs->remove(_dir + "/" + segment::index_name(base));
  (void)_fs->remove(_dir + "/" + segment::time_index_name(base));
  (void)_fs->remove(_dir + "/" + txn_index::name(base));
  _log_start_offset = std::max(_log_start_offset, _segments.front()->base_offset());
  return {};
}

result<size_t> log::apply_retention(int64_t now_ms) {
  uint64_t total = 0;
  for (const auto& s : _segments) total += s->size_bytes();
  size_t deleted = 0;
  std::error_code failed;
  while (_segments.size() > 1) {  // never the active segment
    const segment& s = *_segments.front();
    const bool below_start = s.next_offset() <= _log_start_offset;
    // Kafka judges a segment by its largest timestamp; one without timestamps never expires.
    const bool expired = _opts.retention_ms >= 0 && s.max_timestamp() >= 0 &&
                         now_ms - s.max_timestamp() > _opts.retention_ms;
    const bool over_size = _opts.retention_bytes >= 0 &&
                           total - s.size_bytes() >= static_cast<uint64_t>(_opts.retention_bytes);
    if (!below_start && !expired && !over_size) break;
    const uint64_t size = s.size_bytes();
    if ((failed = remove_oldest_segment())) break;
    total -= size;
    ++deleted;
  }
  if (deleted > 0) {
    if (auto ec = _fs->sync_dir(_dir)) return ec;
  }
  if (failed) return failed;
  return deleted;
}

std::error_code log::flush() {
  if (_gc->error()) return errc::io_error;
  std::error_code ec;
  {
    // Not at the same time as a sync task of this log (group_commit::sync_mutex()).
    std::lock_guard lock(_gc->sync_mutex());
    ec = _gc->sync_failure();
    std::vector<pending_trim> trims;
    for (const auto& u : _unflushed) {
      if (u.trim_to) trims.push_back({u.files.front(), *u.trim_to});
      for (const auto& f : u.files) {
        if (ec) break;
        _gc->count_fsync();
        ec = f->fdatasync();
      }
    }
    if (!ec && !_unflushed.empty()) {
      ec = after_rolled(*_fs, _dir, *_point, _unflushed.back().end, trims);
    }
    if (!ec) {
      _gc->count_fsync();
      ec = _segments.back()->flush();
    }
    if (ec) _gc->record_sync_failure(ec);
  }
  if (ec) {
    _gc->fail(ec);
    return errc::io_error;
  }
  on_durable(log_end_offset());  // drops the segments the point passed (mark_durable may not)
  _unsynced_records = 0;
  _last_sync_ms = _now_ms;
  _gc->mark_durable(log_end_offset());
  return {};
}

std::vector<segment_info> log::segment_infos() const {
  std::vector<segment_info> out;
  out.reserve(_segments.size());
  for (const auto& s : _segments)
    out.push_back({s->base_offset(), s->next_offset(), s->size_bytes()});
  return out;
}

std::error_code log::replace_segments(std::span<const segment_info> expected,
                                      std::unique_ptr<segment> replacement) {
  if (expected.empty() || replacement == nullptr) return errc::invalid_data;
  auto first = std::find_if(_segments.begin(), _segments.end(), [&](const auto& s) {
    return s->base_offset() == expected.front().base_offset;
  });
  // The active segment (back()) is never replaced.
  if (first == _segments.end() ||
      _segments.end() - first <= static_cast<ptrdiff_t>(expected.size())) {
    return errc::not_found;
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    const segment& s = *first[static_cast<ptrdiff_t>(i)];
    if (segment_info{s.base_offset(), s.next_offset(), s.size_bytes()} != expected[i]) {
      return errc::not_found;
    }
  }
  auto last = first + static_cast<ptrdiff_t>(expected.size());
  *first = std::move(replacement);
  _segments.erase(first + 1, last);
  return {};
}

std::error_code log::close() {
  (void)_segments.back()->trim();  // best effort, as after a roll (after_rolled())
  if (auto ec = flush()) return ec;
  if (auto ec = _segments.back()->write_index()) return ec;
  if (auto ec = _segments.back()->txn().sync()) return ec;
  if (auto ec = write_clean_marker()) return ec;
  std::lock_guard lock(_gc->sync_mutex());  // no sync task writes in the directory from now on
  _point->closed = true;
  return {};
}

std::error_code log::write_clean_marker() {
  segment& active = *_segments.back();
  clean_marker m{log_end_offset(), active.base_offset(), active.size_bytes(), active.size_bytes()};
  if (!active.empty()) {
    // The last batch starts at the last index entry or later: walk headers from there.
    auto r = active.read(log_end_offset() - 1, 1);
    if (!r) return r.error();
    m.last_batch_position = r.value().position;
  }
  return replace_file(*_fs, _dir, kMarkerName, kMarkerTemp, encode_marker(m));
}

std::error_code log::append_aborted(const aborted_txn& e) {
  auto it = std::upper_bound(_segments.begin(), _segments.end(), e.last_offset,
                             [](int64_t o, const auto& s) { return o < s->base_offset(); });
  if (it == _segments.begin() || e.last_offset >= (*std::prev(it))->next_offset()) {
    return errc::not_found;
  }
  if (auto ec = (*std::prev(it))->txn().append(e)) {
    _gc->fail(ec);
    return errc::io_error;
  }
  return {};
}

result<std::vector<aborted_txn>> log::collect_aborted(int64_t from, int64_t to) {
  std::vector<aborted_txn> out;
  auto it = std::upper_bound(_segments.begin(), _segments.end(), from,
                             [](int64_t o, const auto& s) { return o < s->base_offset(); });
  if (it != _segments.begin()) --it;
  for (; it != _segments.end(); ++it) {
    SLUICE_TRY(complete, (*it)->txn().collect(from, to, out));
    if (complete) break;
  }
  return out;
}

int64_t log::txn_rebuild_offset() const {
  for (const auto& s : _segments) {
    if (s->txn().needs_rebuild()) return s->base_offset();
  }
  return -1;
}

std::error_code log::begin_txn_rebuild(int64_t from) {
  for (auto& s : _segments) {
    if (s->next_offset() > from || s->txn().needs_rebuild()) {
      if (auto ec = s->txn().truncate_from(from)) return ec;
    }
  }
  return {};
}

std::error_code log::sync_txn_indexes() {
  for (auto& s : _segments) {
    if (auto ec = s->txn().sync()) return ec;
  }
  return {};
}

void log::set_policy(const log_options& opts) {
  executor sync = std::move(_opts.sync_executor);
  executor back = std::move(_opts.post_back);
  _opts = opts;
  _opts.sync_executor = std::move(sync);
  _opts.post_back = std::move(back);
}

}  // namespace sluice::storage
