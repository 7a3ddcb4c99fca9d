#include "src/storage/compaction.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <memory>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "src/base/byte_order.h"
#include "src/protocol/record_batch.h"

namespace sluice::storage::compaction {
namespace {

constexpr std::string_view kCleaned = ".cleaned";
constexpr std::string_view kSwap = ".swap";
constexpr std::string_view kDeleted = ".deleted";

std::string path_of(const std::string& dir, const std::string& name) { return dir + "/" + name; }

// Reads the batches of one segment file, [0, size), charging the throttle.
class batch_reader {
 public:
  batch_reader(file& f, uint64_t size, throttle& t, stats& st)
      : _f(&f), _size(size), _t(&t), _st(&st) {}

  // The next whole batch, or an empty span at the end. A batch that does not fit the snapshot
  // size or has a bad header ends the walk (closed segments were validated when they rolled).
  result<std::span<const uint8_t>> next(records::batch_header& h) {
    if (_size - _pos < records::kHeaderSize) return std::span<const uint8_t>{};
    std::array<uint8_t, records::kHeaderSize> head;
    SLUICE_TRY(n, _f->pread(_pos, head));
    if (n != head.size()) return std::span<const uint8_t>{};
    auto parsed = records::parse_batch_header(head);
    if (!parsed || parsed.value().size_bytes() > _size - _pos) return std::span<const uint8_t>{};
    h = parsed.value();
    _buf.resize(h.size_bytes());
    SLUICE_TRY(m, _f->pread(_pos, _buf));
    if (m != _buf.size()) return errc::truncated;
    _pos += _buf.size();
    _t->charge(_buf.size());
    _st->bytes_read += _buf.size();
    return std::span<const uint8_t>(_buf);
  }

 private:
  file* _f;
  uint64_t _size;
  throttle* _t;
  stats* _st;
  uint64_t _pos = 0;
  wire::bytes _buf;
};

std::string key_of(records::byte_span k) {
  return {reinterpret_cast<const char*>(k.data()), k.size()};
}

// Whether a batch's records take part in compaction (see the contract in compaction.h).
bool compactable(const records::batch_header& h) {
  return !h.is_control() && !h.is_transactional();
}

// What the first pass learns about the whole log.
struct key_map {
  std::unordered_map<std::string, int64_t> latest;  // key -> offset of its latest record
  std::unordered_map<int64_t, int64_t> last_batch;  // producer id -> base offset of its last batch
};

std::error_code build_map(file_system& fs, const snapshot_t& snap, const options& opts, throttle& t,
                          stats& st, key_map& m) {
  for (const auto& seg : snap.segments) {
    if (seg.size_bytes == 0) continue;
    auto f = fs.open(path_of(snap.dir, segment::log_name(seg.base_offset)));
    if (!f) return f.error();
    batch_reader r(*f.value(), seg.size_bytes, t, st);
    records::batch_header h;
    for (;;) {
      auto next = r.next(h);
      if (!next) return next.error();
      auto bytes = next.value();
      if (bytes.empty()) break;
      if (h.producer_id != records::kNoProducerId) m.last_batch[h.producer_id] = h.base_offset;
      if (!compactable(h)) continue;
      auto d = records::decode_records(bytes, opts.max_batch_bytes);
      if (!d) continue;  // kept as is in the rewrite, so it supersedes nothing
      for (const auto& rec : d.value().records) {
        if (rec.key) m.latest[key_of(*rec.key)] = d.value().offset_of(rec);
      }
    }
  }
  return {};
}

// Writes one cleaned segment: `<base>.log.cleaned` and its sparse index.
class cleaned_writer {
 public:
  cleaned_writer(file_system& fs, std::string dir, const options& opts, throttle& t, stats& st)
      : _fs(&fs), _dir(std::move(dir)), _opts(&opts), _t(&t), _st(&st) {}

  std::error_code start(int64_t base) {
    _base = base;
    _size = 0;
    _since_entry = 0;
    _index.clear();
    _aborted.clear();
    auto f = _fs->create(path_of(_dir, segment::log_name(base) + std::string(kCleaned)));
    if (!f) return f.error();
    _log = std::move(f).value();
    return _log->truncate(0);  // create() keeps a stale leftover's bytes
  }

  std::error_code add(std::span<const uint8_t> batch, int64_t batch_base) {
    // Same rule as segment::maybe_index, so the index matches what a rebuild would give.
    const bool indexed = !_index.empty() && _index.back().position >= _size;
    if (!indexed && _since_entry >= _opts->index_interval_bytes) {
      _index.push_back({static_cast<uint32_t>(batch_base - _base), static_cast<uint32_t>(_size)});
      _since_entry = 0;
    }
    if (auto ec = _log->append(batch)) return ec;
    _since_entry += batch.size();
    _size += batch.size();
    _t->charge(batch.size());
    _st->bytes_written += batch.size();
    return {};
  }

  uint64_t size() const { return _size; }
  // Control batches are kept, so a source's aborted transactions stay valid as they are.
  void add_aborted(const std::vector<aborted_txn>& entries) {
    _aborted.insert(_aborted.end(), entries.begin(), entries.end());
  }

  std::error_code finish() {
    if (auto ec = _log->fdatasync()) return ec;
    _log.reset();
    auto f = _fs->create(path_of(_dir, segment::index_name(_base) + std::string(kCleaned)));
    if (!f) return f.error();
    wire::bytes buf(_index.size() * 8);
    for (size_t i = 0; i < _index.size(); ++i) {
      be::store_u32(&buf[i * 8], _index[i].relative_offset);
      be::store_u32(&buf[i * 8 + 4], _index[i].position);
    }
    if (auto ec = f.value()->truncate(0)) return ec;
    if (!buf.empty()) {
      if (auto ec = f.value()->pwrite(0, buf)) return ec;
    }
    _t->charge(buf.size());
    if (auto ec = f.value()->fdatasync()) return ec;
    auto txn = _fs->create(path_of(_dir, txn_index::name(_base) + std::string(kCleaned)));
    if (!txn) return txn.error();
    const std::vector<uint8_t> entries = txn_index::encode(_aborted);
    if (auto ec = txn.value()->truncate(0)) return ec;
    if (!entries.empty()) {
      if (auto ec = txn.value()->pwrite(0, entries)) return ec;
    }
    return txn.value()->fdatasync();
  }

 private:
  file_system* _fs;
  std::string _dir;
  const options* _opts;
  throttle* _t;
  stats* _st;
  std::unique_ptr<file> _log;
  int64_t _base = 0;
  uint64_t _size = 0;
  uint64_t _since_entry = 0;
  std::vector<index_entry> _index;
  std::vector<aborted_txn> _aborted;
};

// The cleaned form of one batch: appended to `out`, or nothing when no record survives.
std::error_code clean_batch(std::span<const uint8_t> bytes, const records::batch_header& h,
                            const key_map& m, const options& opts, int64_t now_ms, stats& st,
                            wire::bytes& out) {
  if (!compactable(h)) {
    out.assign(bytes.begin(), bytes.end());
    return {};
  }
  auto decoded = records::decode_records(bytes, opts.max_batch_bytes);
  if (!decoded) {
    out.assign(bytes.begin(), bytes.end());
    return {};
  }
  const records::decoded_batch& d = decoded.value();
  // Tombstones live delete.retention.ms past their batch's newest timestamp.
  const bool tombstones_expired = now_ms - h.max_timestamp >= opts.delete_retention_ms;
  records::batch_builder b;
  b.base_offset(h.base_offset)
      .partition_leader_epoch(h.partition_leader_epoch)
      .producer(h.producer_id, h.producer_epoch, h.base_sequence)
      .compression(h.compression());
  if (h.timestamp_type() == records::timestamp_type::log_append_time) {
    b.log_append_time(h.max_timestamp);
  }
  b.base_timestamp(h.base_timestamp);
  std::vector<records::header_input> headers;
  size_t dropped = 0;
  for (const auto& rec : d.records) {
    bool keep = true;
    if (rec.key) {
      auto it = m.latest.find(key_of(*rec.key));
      const bool latest = it == m.latest.end() || it->second <= d.offset_of(rec);
      const bool expired = !rec.value && tombstones_expired;
      keep = latest && !expired;
      if (latest && expired) ++st.tombstones_dropped;
    }
    if (!keep) {
      ++dropped;
      continue;
    }
    headers.clear();
    for (const auto& hd : d.headers_of(rec)) headers.push_back({hd.key, hd.value});
    // The record's own timestamp (base + delta, wrapping like the builder), so its delta is
    // written back unchanged, LogAppendTime batches included.
    const auto ts = static_cast<int64_t>(static_cast<uint64_t>(h.base_timestamp) +
                                         static_cast<uint64_t>(rec.timestamp_delta));
    b.add_at(rec.offset_delta, ts, rec.key, rec.value, headers);
  }
  st.records_dropped += dropped;
  st.records_kept += d.records.size() - dropped;
  out.clear();
  if (dropped == 0) {
    out.assign(bytes.begin(), bytes.end());  // nothing to do: keep the original bytes
    return {};
  }
  if (b.record_count() == 0) {
    auto last = m.last_batch.find(h.producer_id);
    if (h.producer_id != records::kNoProducerId && last != m.last_batch.end() &&
        last->second == h.base_offset) {
      out.assign(bytes.begin(), bytes.end());  // the producer's last sequence stays visible
      return {};
    }
    ++st.batches_dropped;
    return {};
  }
  if (errc e = b.build_into(out); e != errc::ok) return e;
  return {};
}

void remove_cleaned(file_system& fs, const std::string& dir, int64_t base) {
  (void)fs.remove(path_of(dir, segment::log_name(base) + std::string(kCleaned)));
  (void)fs.remove(path_of(dir, segment::index_name(base) + std::string(kCleaned)));
  (void)fs.remove(path_of(dir, txn_index::name(base) + std::string(kCleaned)));
}

// "<20 digits>.log.swap" -> base offset.
bool parse_swap_name(const std::string& name, int64_t& base) {
  const std::string suffix = ".log" + std::string(kSwap);
  if (name.size() != 20 + suffix.size() || !name.ends_with(suffix)) return false;
  auto [p, ec] = std::from_chars(name.data(), name.data() + 20, base);
  return ec == std::errc() && p == name.data() + 20 && base >= 0;
}

// Completes a committed swap of the group based at `base`: drop the old files, then move the
// new index and log into place. Every step may already have happened before a crash.
std::error_code finish_group(file_system& fs, const std::string& dir, int64_t base) {
  auto listed = fs.list_dir(dir);
  if (!listed) return listed.error();
  const auto& names = listed.value();
  for (const auto& n : names) {
    if (n.ends_with(kDeleted)) {
      if (auto ec = fs.remove(path_of(dir, n))) return ec;
    }
  }
  // Gone for good before the new files take their names, so nothing can roll this back.
  if (auto ec = fs.sync_dir(dir)) return ec;
  const std::string index = segment::index_name(base);
  auto ec = fs.rename(path_of(dir, index + std::string(kCleaned)), path_of(dir, index));
  if (ec && ec != errc::not_found) return ec;
  const std::string txn = txn_index::name(base);
  ec = fs.rename(path_of(dir, txn + std::string(kCleaned)), path_of(dir, txn));
  if (ec && ec != errc::not_found) return ec;
  const std::string log = segment::log_name(base);
  if (auto ec2 = fs.rename(path_of(dir, log + std::string(kSwap)), path_of(dir, log))) return ec2;
  return fs.sync_dir(dir);
}

}  // namespace

throttle::throttle(uint64_t bytes_per_sec, clock_fn now_us, sleep_fn sleep_us)
    : _rate(bytes_per_sec), _now(std::move(now_us)), _sleep(std::move(sleep_us)) {}

throttle throttle::real(uint64_t bytes_per_sec) {
  return throttle(
      bytes_per_sec,
      [] {
        return std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
            .count();
      },
      [](int64_t us) { std::this_thread::sleep_for(std::chrono::microseconds(us)); });
}

void throttle::charge(uint64_t bytes) {
  _bytes += bytes;
  if (_rate == 0) return;
  const int64_t now = _now();
  if (_start_us < 0) _start_us = now;
  // Where the clock should be if we ran exactly at the rate: sleep off any lead.
  const auto due = static_cast<int64_t>(static_cast<long double>(_bytes) * 1e6L / _rate);
  const int64_t lead = due - (now - _start_us);
  if (lead > 0) {
    _sleep(lead);
    _slept_us += lead;
  }
}

double dirty_ratio(std::span<const segment_info> segments, int64_t cleaned_up_to) {
  uint64_t total = 0;
  uint64_t dirty = 0;
  for (size_t i = 0; i + 1 < segments.size(); ++i) {  // the active segment is not cleanable
    total += segments[i].size_bytes;
    if (segments[i].base_offset >= cleaned_up_to) dirty += segments[i].size_bytes;
  }
  return total == 0 ? 0.0 : static_cast<double>(dirty) / static_cast<double>(total);
}

snapshot_t snapshot(const log& l) {
  std::vector<segment_info> infos = l.segment_infos();
  // Segments from the recovery point on may still lack a sync, and an unclean open checks that
  // each ends where the next begins, which a cleaned one need not: the first of them stands in
  // for the active segment (not cleaned; its keys still count) and later ones are left out.
  auto first = std::find_if(infos.begin(), infos.end(), [&](const segment_info& s) {
    return s.base_offset >= l.recovery_point();
  });
  if (first != infos.end()) infos.erase(first + 1, infos.end());
  return {l.dir(), std::move(infos)};
}

result<cleaned> clean(file_system& fs, const snapshot_t& snap, const options& opts, int64_t now_ms,
                      throttle& t) {
  cleaned out;
  out.dir = snap.dir;
  if (snap.segments.size() < 2) return out;  // only the active segment
  key_map m;
  if (auto ec = build_map(fs, snap, opts, t, out.totals, m)) return ec;

  cleaned_writer w(fs, snap.dir, opts, t, out.totals);
  auto fail = [&](std::error_code ec) -> result<cleaned> {
    discard(fs, out);
    return ec;
  };
  wire::bytes batch_out;
  const size_t closed = snap.segments.size() - 1;  // the active segment stays as it is
  for (size_t i = 0; i < closed; ++i) {
    const segment_info& src = snap.segments[i];
    cleaned_group* g = out.groups.empty() ? nullptr : &out.groups.back();
    // Merge into the open group while the source, uncleaned, would still fit it.
    const bool fits = g != nullptr && w.size() + src.size_bytes <= opts.segment_bytes &&
                      src.next_offset - g->base_offset <= int64_t{UINT32_MAX};
    if (!fits) {
      if (g != nullptr) {
        g->size_bytes = w.size();
        if (auto ec = w.finish()) return fail(ec);
      }
      out.groups.push_back({src.base_offset, {}, 0});
      g = &out.groups.back();
      if (auto ec = w.start(src.base_offset)) return fail(ec);
    }
    g->sources.push_back(src);
    // A missing index was rebuilt when the log opened; one missing now is damage: stop.
    auto aborted = txn_index::read_entries(fs, path_of(snap.dir, txn_index::name(src.base_offset)));
    if (!aborted) return fail(aborted.error());
    w.add_aborted(aborted.value());
    if (src.size_bytes == 0) continue;
    auto f = fs.open(path_of(snap.dir, segment::log_name(src.base_offset)));
    if (!f) return fail(f.error());
    batch_reader r(*f.value(), src.size_bytes, t, out.totals);
    records::batch_header h;
    for (;;) {
      auto bytes = r.next(h);
      if (!bytes) return fail(bytes.error());
      if (bytes.value().empty()) break;
      if (auto ec = clean_batch(bytes.value(), h, m, opts, now_ms, out.totals, batch_out)) {
        return fail(ec);
      }
      if (batch_out.empty()) continue;
      if (auto ec = w.add(batch_out, h.base_offset)) return fail(ec);
    }
  }
  out.groups.back().size_bytes = w.size();
  out.cleaned_up_to = snap.segments[closed - 1].next_offset;
  if (auto ec = w.finish()) return fail(ec);
  if (auto ec = fs.sync_dir(snap.dir)) return fail(ec);
  return out;
}

void discard(file_system& fs, const cleaned& c) {
  for (const auto& g : c.groups) remove_cleaned(fs, c.dir, g.base_offset);
}

std::error_code swap(file_system& fs, log& l, const cleaned& c, segment_options seg_opts) {
  const std::string& dir = c.dir;
  for (size_t gi = 0; gi < c.groups.size(); ++gi) {
    const cleaned_group& g = c.groups[gi];
    // Still the segments we cleaned? (Retention may have removed some meanwhile.)
    auto now = l.segment_infos();
    auto it = std::search(now.begin(), now.end() - 1, g.sources.begin(), g.sources.end());
    if (it == now.end() - 1) {
      remove_cleaned(fs, dir, g.base_offset);
      continue;
    }
    auto settle = [&](std::error_code ec) {
      (void)recover(fs, dir);  // rolls back, or forward once committed
      for (size_t k = gi + 1; k < c.groups.size(); ++k) {
        remove_cleaned(fs, dir, c.groups[k].base_offset);
      }
      return ec;
    };
    const std::string log_name = segment::log_name(g.base_offset);
    // 1. Old files aside (open handles keep serving reads until the in-memory swap): every
    // file of a source segment (.log, .index, and whatever other per-segment files exist,
    // such as a time index), so no stale one survives next to the cleaned segment.
    auto names = fs.list_dir(dir);
    if (!names) return settle(names.error());
    for (const auto& s : g.sources) {
      const std::string log_file = segment::log_name(s.base_offset);
      const std::string prefix = log_file.substr(0, log_file.size() - 3);  // "<base>."
      for (const auto& name : names.value()) {
        if (!name.starts_with(prefix) || name.ends_with(kCleaned) || name.ends_with(kSwap) ||
            name.ends_with(kDeleted)) {
          continue;
        }
        if (auto ec = fs.rename(path_of(dir, name), path_of(dir, name + std::string(kDeleted)))) {
          return settle(ec);
        }
      }
    }
    if (auto ec = fs.sync_dir(dir)) return settle(ec);
    // 2. The commit point: one rename.
    if (auto ec = fs.rename(path_of(dir, log_name + std::string(kCleaned)),
                            path_of(dir, log_name + std::string(kSwap)))) {
      return settle(ec);
    }
    if (auto ec = fs.sync_dir(dir)) return settle(ec);
    // 3. Past the commit point: finish (recover() does the same after a crash).
    if (auto ec = finish_group(fs, dir, g.base_offset)) return ec;
    auto seg = segment::open(fs, dir, g.base_offset, seg_opts);
    if (!seg) return seg.error();
    if (auto ec = l.replace_segments(g.sources, std::move(seg).value())) return ec;
  }
  return {};
}

std::error_code recover(file_system& fs, const std::string& dir) {
  auto listed = fs.list_dir(dir);
  if (!listed) return listed.error();
  const auto& names = listed.value();
  std::vector<int64_t> swapped;
  bool changed = false;  // a directory fsync is only needed when an entry moved
  for (const auto& n : names) {
    int64_t base;
    if (parse_swap_name(n, base)) swapped.push_back(base);
  }
  if (swapped.empty()) {
    // No commit point reached: put the old segments back.
    for (const auto& n : names) {
      if (!n.ends_with(kDeleted)) continue;
      if (auto ec =
              fs.rename(path_of(dir, n), path_of(dir, n.substr(0, n.size() - kDeleted.size())))) {
        return ec;
      }
      changed = true;
    }
  }
  // swap() runs one group at a time, so there is at most one; be lenient anyway.
  for (int64_t base : swapped) {
    if (auto ec = finish_group(fs, dir, base)) return ec;
    changed = true;
  }
  auto left = fs.list_dir(dir);
  if (!left) return left.error();
  for (const auto& n : left.value()) {
    if (n.ends_with(kCleaned)) {
      if (auto ec = fs.remove(path_of(dir, n))) return ec;
      changed = true;
    }
  }
  // Nothing moved: skip the fsync, which on ext4 would wait for all the log's dirty data.
  return changed ? fs.sync_dir(dir) : std::error_code();
}

}  // namespace sluice::storage::compaction
