#include "src/storage/segment.h"

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "src/base/byte_order.h"
#include "src/protocol/record_batch.h"

namespace sluice::storage {
namespace {

constexpr size_t kIndexEntrySize = 8;
constexpr size_t kTimeIndexEntrySize = 12;
// Read size of scan() (recovery, index rebuild). 256 KiB chunks (so the CRC pass would read
// L2-resident data) measured no different from 1 MiB (docs/performance.md, storage).
constexpr uint64_t kScanChunk = uint64_t{1} << 20;

std::string offset_name(int64_t base_offset, const char* ext) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020" PRId64 "%s", base_offset, ext);
  return buf;
}

// Empties `f` unless it is empty already. ext4 flags a file truncated to size 0, even a new one,
// for writeback when it is closed (auto_da_alloc): a segment created that way had all its data
// flushed when its descriptor closed, and a restart then waited for that writeback.
std::error_code truncate_if_not_empty(file& f) {
  auto size = f.size();
  if (!size) return size.error();
  return size.value() == 0 ? std::error_code{} : f.truncate(0);
}

}  // namespace

std::string segment::log_name(int64_t base_offset) { return offset_name(base_offset, ".log"); }
std::string segment::index_name(int64_t base_offset) { return offset_name(base_offset, ".index"); }
std::string segment::time_index_name(int64_t base_offset) {
  return offset_name(base_offset, ".timeindex");
}

std::error_code segment::open_files(bool truncate) {
  const std::string log_path = _dir + "/" + log_name(_base_offset);
  const std::string index_path = _dir + "/" + index_name(_base_offset);
  auto log = truncate ? _fs->create(log_path) : _fs->open(log_path);
  if (!log) return log.error();
  _log = std::move(log).value();
  auto index = _fs->create(index_path);  // a missing index is rebuilt, not an error
  if (!index) return index.error();
  _index_file = std::move(index).value();
  const std::string time_path = _dir + "/" + time_index_name(_base_offset);
  auto time_index = _fs->open(time_path);
  if (!time_index && time_index.error() == errc::not_found) {
    // Segments written before the time index existed: an empty file would pass validation.
    _time_index_missing = true;
    time_index = _fs->create(time_path);
  }
  if (!time_index) return time_index.error();
  _time_index_file = std::move(time_index).value();
  if (truncate) {
    for (file* f : {_log.get(), _index_file.get(), _time_index_file.get()}) {
      if (auto ec = truncate_if_not_empty(*f)) return ec;
    }
  }
  auto size = _log->size();
  if (!size) return size.error();
  _size = size.value();
  _reserved = _size;
  // A segment from disk may have blocks reserved past its end before a crash.
  _may_have_reserved = !truncate;
  return {};
}

result<std::unique_ptr<segment>> segment::create(file_system& fs, const std::string& dir,
                                                 int64_t base_offset, segment_options opts) {
  std::unique_ptr<segment> s(new segment(fs, dir, base_offset, opts));
  if (auto ec = s->open_files(true)) return ec;
  SLUICE_TRY(txn, txn_index::create(fs, dir, base_offset));
  s->_txn.emplace(std::move(txn));
  return s;
}

result<std::unique_ptr<segment>> segment::open(file_system& fs, const std::string& dir,
                                               int64_t base_offset, segment_options opts) {
  std::unique_ptr<segment> s(new segment(fs, dir, base_offset, opts));
  if (auto ec = s->open_files(false)) return ec;
  if (s->load_index(s->_size) && s->load_time_index()) {
    uint64_t from = s->_index.empty() ? 0 : s->_index.back().position;
    if (!s->_index.empty()) s->_next_offset = base_offset + s->_index.back().relative_offset;
    if (auto ec = s->scan(from, false)) return ec;
    if (from > 0) {
      // The scan skipped the first batch; the log's segment.ms clock wants its timestamp.
      std::array<uint8_t, records::kHeaderSize> head;
      SLUICE_TRY(n, s->_log->pread(0, head));
      if (n != head.size()) return errc::invalid_data;
      SLUICE_TRY(h, records::parse_batch_header(head));
      s->_first_batch_timestamp = h.max_timestamp;
    }
    SLUICE_TRY(txn, txn_index::open(fs, dir, base_offset, s->_next_offset));
    s->_txn.emplace(std::move(txn));
    return s;
  }
  s->_index.clear();
  s->_time_index.clear();
  s->_max_timestamp = s->_max_timestamp_batch = -1;
  s->_next_offset = base_offset;
  if (auto ec = s->_index_file->truncate(0)) return ec;
  if (auto ec = s->_time_index_file->truncate(0)) return ec;
  s->_index_written = s->_time_index_written = 0;
  if (auto ec = s->scan(0, false)) return ec;
  if (auto ec = s->write_index()) return ec;
  SLUICE_TRY(txn, txn_index::open(fs, dir, base_offset, s->_next_offset));
  s->_txn.emplace(std::move(txn));
  return s;
}

result<std::unique_ptr<segment>> segment::open_and_recover(file_system& fs, const std::string& dir,
                                                           int64_t base_offset,
                                                           segment_options opts,
                                                           recovery_result* out) {
  std::unique_ptr<segment> s(new segment(fs, dir, base_offset, opts));
  if (auto ec = s->open_files(false)) return ec;
  if (auto ec = s->scan(0, true)) return ec;
  if (auto ec = truncate_if_not_empty(*s->_index_file)) return ec;
  if (auto ec = truncate_if_not_empty(*s->_time_index_file)) return ec;
  s->_index_written = s->_time_index_written = 0;
  // The active segment's index is rebuilt by every recovery, so it is written without fdatasync:
  // on ext4 each sync commits the journal, which first waits for the log's data that is being
  // written back (a recovery right after a crash would wait for the dead process's tail).
  if (auto ec = s->write_index_entries(false)) return ec;
  // Entries past a truncated tail are dropped here; producer_state::load rebuilds the rest.
  SLUICE_TRY(txn, txn_index::open(fs, dir, base_offset, s->_next_offset));
  s->_txn.emplace(std::move(txn));
  if (out != nullptr) *out = s->_recovery;
  return s;
}

bool segment::load_index(uint64_t log_size) {
  auto size = _index_file->size();
  if (!size || size.value() % kIndexEntrySize != 0) return false;
  wire::bytes buf(size.value());
  auto n = _index_file->pread(0, buf);
  if (!n || n.value() != buf.size()) return false;
  std::vector<index_entry> entries;
  entries.reserve(buf.size() / kIndexEntrySize);
  for (size_t i = 0; i < buf.size(); i += kIndexEntrySize) {
    index_entry e{be::load_u32(&buf[i]), be::load_u32(&buf[i + 4])};
    // Entries strictly increase in both fields and point inside the log.
    if (e.position >= log_size) return false;
    if (!entries.empty() && (e.relative_offset <= entries.back().relative_offset ||
                             e.position <= entries.back().position)) {
      return false;
    }
    entries.push_back(e);
  }
  _index = std::move(entries);
  _index_written = _index.size();
  return true;
}

bool segment::load_time_index() {
  if (_time_index_missing) return false;
  auto size = _time_index_file->size();
  if (!size || size.value() % kTimeIndexEntrySize != 0) return false;
  wire::bytes buf(size.value());
  auto n = _time_index_file->pread(0, buf);
  if (!n || n.value() != buf.size()) return false;
  // Time entries are made together with offset entries and name a batch at or before the
  // indexed one, so none may lie beyond the last offset entry.
  const int64_t limit = _index.empty() ? -1 : int64_t{_index.back().relative_offset};
  std::vector<time_index_entry> entries;
  entries.reserve(buf.size() / kTimeIndexEntrySize);
  for (size_t i = 0; i < buf.size(); i += kTimeIndexEntrySize) {
    time_index_entry e{be::load_i64(&buf[i]), be::load_u32(&buf[i + 8])};
    if (e.timestamp < 0 || int64_t{e.relative_offset} > limit) return false;
    if (!entries.empty() && (e.timestamp <= entries.back().timestamp ||
                             e.relative_offset <= entries.back().relative_offset)) {
      return false;
    }
    entries.push_back(e);
  }
  _time_index = std::move(entries);
  _time_index_written = _time_index.size();
  if (!_time_index.empty()) {
    _max_timestamp = _time_index.back().timestamp;
    _max_timestamp_batch = _base_offset + _time_index.back().relative_offset;
  }
  return true;
}

void segment::note_timestamp(int64_t max_timestamp, int64_t batch_base, uint64_t position) {
  if (position == 0) _first_batch_timestamp = max_timestamp;
  if (max_timestamp > _max_timestamp) {
    _max_timestamp = max_timestamp;
    _max_timestamp_batch = batch_base;
  }
}

void segment::maybe_index(uint64_t position, int64_t base_offset, uint64_t batch_size) {
  bool indexed = !_index.empty() && _index.back().position >= position;
  if (!indexed && _bytes_since_entry >= _opts.index_interval_bytes) {
    _index.push_back(
        {static_cast<uint32_t>(base_offset - _base_offset), static_cast<uint32_t>(position)});
    _bytes_since_entry = 0;
    // Kafka's rule: a time entry only when the max timestamp grew, so lookups can binary-search.
    if (_max_timestamp >= 0 &&
        (_time_index.empty() || _max_timestamp > _time_index.back().timestamp)) {
      _time_index.push_back(
          {_max_timestamp, static_cast<uint32_t>(_max_timestamp_batch - _base_offset)});
    }
  }
  _bytes_since_entry += batch_size;
}

std::error_code segment::scan(uint64_t position, bool validate) {
  const uint64_t file_size = _size;
  uint64_t pos = position;
  int64_t expected = _next_offset;
  bool bad = false;
  // The segment is read in large chunks and consecutive batches are parsed (and CRC-checked) in
  // place: one pread per chunk instead of two per batch. A batch straddling the chunk end is
  // moved to the front and completed by the next read; one larger than the buffer gets a read of
  // its own.
  wire::bytes buf(file_size > pos ? std::min<uint64_t>(kScanChunk, file_size - pos) : 0);
  uint64_t buf_start = pos;  // file position of buf[0]
  size_t buf_len = 0;        // bytes of buf holding file data
  wire::bytes big;
  // Makes [pos, pos + want) available in buf (want <= buf.size()); false when the file is short.
  auto fill = [&](size_t want) -> result<bool> {
    if (pos >= buf_start && pos + want <= buf_start + buf_len) return true;
    size_t keep = 0;
    if (pos >= buf_start && pos < buf_start + buf_len) {
      keep = static_cast<size_t>(buf_start + buf_len - pos);
      std::memmove(buf.data(), buf.data() + (pos - buf_start), keep);
    }
    buf_start = pos;
    buf_len = keep;
    const uint64_t at = pos + keep;
    const auto len = static_cast<size_t>(std::min<uint64_t>(buf.size() - keep, file_size - at));
    if (len > 0) {
      auto n = _log->pread(at, std::span<uint8_t>(buf.data() + keep, len));
      if (!n) return n.error();
      buf_len += n.value();
    }
    return buf_len >= want;
  };
  while (pos < file_size) {
    if (file_size - pos < records::kHeaderSize) {
      bad = true;  // torn header
      break;
    }
    auto got = fill(records::kHeaderSize);
    if (!got) return got.error();
    if (!got.value()) {
      bad = true;
      break;
    }
    auto h = records::parse_batch_header(
        records::byte_span(buf.data() + (pos - buf_start), records::kHeaderSize));
    if (!h || h.value().base_offset < expected || pos + h.value().size_bytes() > file_size ||
        h.value().last_offset() - _base_offset > int64_t{UINT32_MAX}) {
      bad = true;
      break;
    }
    const uint64_t size = h.value().size_bytes();
    if (validate) {
      records::byte_span whole;
      if (size <= buf.size()) {
        auto all = fill(size);
        if (!all) return all.error();
        if (!all.value()) {
          bad = true;
          break;
        }
        whole = records::byte_span(buf.data() + (pos - buf_start), size);
      } else {
        big.resize(size);
        auto m = _log->pread(pos, big);
        if (!m) return m.error();
        if (m.value() != size) {
          bad = true;
          break;
        }
        whole = big;
      }
      if (!records::validate_batch(whole)) {
        bad = true;
        break;
      }
    }
    note_timestamp(h.value().max_timestamp, h.value().base_offset, pos);
    maybe_index(pos, h.value().base_offset, size);
    expected = h.value().last_offset() + 1;
    pos += size;
    ++_recovery.batches;
  }
  if (bad && !validate) return errc::invalid_data;  // only recover() may drop data
  if (bad) {
    if (auto ec = _log->truncate(pos)) return ec;
    if (auto ec = _log->fdatasync()) return ec;
  }
  _recovery.valid_bytes = pos;
  _recovery.truncated_bytes = file_size - pos;
  _size = pos;
  _next_offset = expected;
  return {};
}

result<segment::appended> segment::append(std::span<uint8_t> batch) {
  if (_failed) return errc::io_error;
  SLUICE_TRY(h, records::parse_batch_header(batch));
  if (h.size_bytes() != batch.size()) return errc::invalid_length;
  if (_size + batch.size() > kMaxSize) return errc::too_large;
  if (_next_offset + h.last_offset_delta - _base_offset > int64_t{UINT32_MAX}) {
    return errc::too_large;
  }
  // Assigning the offset touches only baseOffset, which the CRC does not cover.
  be::store_i64(batch.data(), _next_offset);
  if (_opts.reserve_bytes > 0 && _size + batch.size() > _reserved &&
      !(_opts.reserve_paused && _opts.reserve_paused())) {
    reserve_ahead(_size + batch.size());
  }
  if (auto ec = _log->pwrite(_size, batch)) {
    // Drop whatever prefix reached the file, so the log ends on a batch boundary again.
    if (_log->truncate(_size)) _failed = true;
    _reserved = _size;  // the truncate freed the reserved blocks too
    _may_have_reserved = false;
    return ec;
  }
  appended a{_next_offset, _next_offset + h.last_offset_delta, _size};
  note_timestamp(h.max_timestamp, _next_offset, _size);
  maybe_index(_size, _next_offset, batch.size());
  _size += batch.size();
  _next_offset = a.last_offset + 1;
  return a;
}

result<records::batch_header> segment::header_at(uint64_t position) {
  if (position == _header_position) return _header;
  std::array<uint8_t, records::kHeaderSize> head;
  SLUICE_TRY(n, _log->pread(position, head));
  if (n != head.size()) return errc::truncated;
  SLUICE_TRY(h, records::parse_batch_header(head));
  _header_position = position;
  _header = h;
  return h;
}

void segment::reserve_ahead(uint64_t end) {
  constexpr uint64_t kMinStep = 64 * 1024;
  constexpr uint64_t kBlock = 4096;
  // Small, slow partitions reserve little; a busy one reaches reserve_bytes after 8 x that.
  const uint64_t step =
      std::max(std::min(_size / 8, _opts.reserve_bytes), std::min(kMinStep, _opts.reserve_bytes));
  const uint64_t from = std::max(_reserved, _size);
  const uint64_t to = (end + step + kBlock - 1) / kBlock * kBlock;
  // Best effort: on failure the next attempt is a step later; the pwrite reports ENOSPC itself.
  (void)_log->reserve(from, to - from);
  _reserved = to;
  _may_have_reserved = true;
}

std::error_code segment::trim() {
  const auto size = take_trim();  // a failed truncate is not retried: trimming is best effort
  return size ? _log->truncate(*size) : std::error_code{};
}

std::optional<uint64_t> segment::take_trim() {
  if (!_may_have_reserved) return std::nullopt;
  _reserved = _size;
  _may_have_reserved = false;
  return _size;
}

result<uint64_t> segment::lookup(int64_t offset) {
  if (offset < _base_offset || offset >= _next_offset) return errc::not_found;
  const auto rel = static_cast<uint32_t>(offset - _base_offset);
  auto it =
      std::upper_bound(_index.begin(), _index.end(), rel,
                       [](uint32_t r, const index_entry& e) { return r < e.relative_offset; });
  uint64_t pos = it == _index.begin() ? 0 : std::prev(it)->position;
  while (pos < _size) {
    SLUICE_TRY(h, header_at(pos));
    if (h.last_offset() >= offset) return pos;
    pos += h.size_bytes();
  }
  return errc::not_found;
}

result<byte_range> segment::read(int64_t offset, size_t max_bytes) {
  SLUICE_TRY(start, lookup(offset));
  // Tailing consumers usually want everything that is left: no header walk needed.
  if (_size - start <= max_bytes) return byte_range{start, _size - start};
  // Index entries are batch boundaries: the batches before the last entry within max_bytes all
  // fit, so the header walk starts there (one header read per call instead of one per batch).
  const uint64_t limit = start + max_bytes;
  auto past = std::upper_bound(_index.begin(), _index.end(), limit,
                               [](uint64_t p, const index_entry& e) { return p < e.position; });
  uint64_t pos =
      past == _index.begin() ? start : std::max<uint64_t>(start, std::prev(past)->position);
  while (pos < _size) {
    SLUICE_TRY(h, header_at(pos));
    // KIP-74: the first batch goes out whole even when it alone exceeds max_bytes.
    if (pos > start && pos - start + h.size_bytes() > max_bytes) break;
    pos += h.size_bytes();
  }
  return byte_range{start, pos - start};
}

result<int64_t> segment::offset_at(uint64_t position) {
  if (position >= _size) return _next_offset;
  SLUICE_TRY(h, header_at(position));
  return h.base_offset;
}

result<wire::bytes> segment::read_bytes(byte_range r) {
  if (r.position + r.length > _size) return errc::invalid_length;
  wire::bytes out(r.length);
  SLUICE_TRY(n, _log->pread(r.position, out));
  if (n != out.size()) return errc::truncated;
  return out;
}

result<timestamp_offset> segment::first_record_at(uint64_t position, uint64_t size,
                                                  int64_t min_offset, int64_t timestamp,
                                                  bool exact) {
  // `bytes` outlives `d`: decoded records of an uncompressed batch point into it.
  SLUICE_TRY(bytes, read_bytes(byte_range{position, size}));
  SLUICE_TRY(d, records::decode_records(bytes, kMaxDecodeBytes));
  for (const auto& r : d.records) {
    const int64_t ts = d.timestamp_of(r);
    if (d.offset_of(r) >= min_offset && (exact ? ts == timestamp : ts >= timestamp)) {
      return timestamp_offset{d.offset_of(r), ts};
    }
  }
  return timestamp_offset{};
}

result<timestamp_offset> segment::find_by_timestamp(int64_t timestamp, int64_t min_offset) {
  if (_max_timestamp < timestamp || min_offset >= _next_offset) return timestamp_offset{};
  // The last entry with a timestamp <= the target names the first batch reaching it; every
  // batch before that one is older than the target.
  auto it = std::upper_bound(_time_index.begin(), _time_index.end(), timestamp,
                             [](int64_t t, const time_index_entry& e) { return t < e.timestamp; });
  int64_t start =
      it == _time_index.begin() ? _base_offset : _base_offset + std::prev(it)->relative_offset;
  start = std::max(start, min_offset);
  SLUICE_TRY(pos, lookup(start));
  std::array<uint8_t, records::kHeaderSize> head;
  while (pos < _size) {
    SLUICE_TRY(n, _log->pread(pos, head));
    if (n != head.size()) return errc::truncated;
    SLUICE_TRY(h, records::parse_batch_header(head));
    if (h.last_offset() >= min_offset && h.max_timestamp >= timestamp) {
      SLUICE_TRY(found, first_record_at(pos, h.size_bytes(), min_offset, timestamp, false));
      if (found.offset >= 0) return found;
    }
    pos += h.size_bytes();
  }
  return timestamp_offset{};
}

result<timestamp_offset> segment::find_max_timestamp() {
  if (_max_timestamp < 0) return timestamp_offset{};
  SLUICE_TRY(pos, lookup(_max_timestamp_batch));
  std::array<uint8_t, records::kHeaderSize> head;
  SLUICE_TRY(n, _log->pread(pos, head));
  if (n != head.size()) return errc::truncated;
  SLUICE_TRY(h, records::parse_batch_header(head));
  SLUICE_TRY(found, first_record_at(pos, h.size_bytes(), h.base_offset, _max_timestamp, true));
  // A producer's header may claim a max no record has; the batch is still the right answer.
  if (found.offset < 0) return timestamp_offset{h.last_offset(), _max_timestamp};
  return found;
}

std::error_code segment::flush() { return _log->fdatasync(); }

std::error_code segment::write_index(bool sync) { return write_index_entries(sync); }

std::error_code segment::write_index_entries(bool sync) {
  if (_time_index_written < _time_index.size()) {
    wire::bytes buf((_time_index.size() - _time_index_written) * kTimeIndexEntrySize);
    for (size_t i = _time_index_written, j = 0; i < _time_index.size();
         ++i, j += kTimeIndexEntrySize) {
      be::store_i64(&buf[j], _time_index[i].timestamp);
      be::store_u32(&buf[j + 8], _time_index[i].relative_offset);
    }
    if (auto ec = _time_index_file->pwrite(_time_index_written * kTimeIndexEntrySize, buf)) {
      return ec;
    }
    _time_index_written = _time_index.size();
  }
  _time_index_missing = false;
  if (sync) {
    if (auto ec = _time_index_file->fdatasync()) return ec;
  }
  if (_index_written < _index.size()) {
    wire::bytes buf((_index.size() - _index_written) * kIndexEntrySize);
    for (size_t i = _index_written, j = 0; i < _index.size(); ++i, j += kIndexEntrySize) {
      be::store_u32(&buf[j], _index[i].relative_offset);
      be::store_u32(&buf[j + 4], _index[i].position);
    }
    // pwrite at the known end overwrites any torn entry a failed earlier attempt left.
    if (auto ec = _index_file->pwrite(_index_written * kIndexEntrySize, buf)) return ec;
    _index_written = _index.size();
  }
  return sync ? _index_file->fdatasync() : std::error_code{};
}

}  // namespace sluice::storage
