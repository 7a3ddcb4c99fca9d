#include "src/storage/txn_index.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "src/base/byte_order.h"

namespace sluice::storage {
namespace {

constexpr int16_t kVersion = 0;
// No state file of a segment is this large; a bigger one is damage, not data.
constexpr uint64_t kMaxFileSize = uint64_t{64} << 20;
// Entries read at a time by collect().
constexpr size_t kCollectChunk = 256;

void store(uint8_t* p, const aborted_txn& e) {
  be::store_i16(p, kVersion);
  be::store_i64(p + 2, e.producer_id);
  be::store_i64(p + 10, e.first_offset);
  be::store_i64(p + 18, e.last_offset);
  be::store_i64(p + 26, e.last_stable_offset);
}

aborted_txn load(const uint8_t* p) {
  return {be::load_i64(p + 2), be::load_i64(p + 10), be::load_i64(p + 18), be::load_i64(p + 26)};
}

result<std::vector<uint8_t>> read_all(file& f) {
  SLUICE_TRY(size, f.size());
  if (size > kMaxFileSize) return errc::invalid_data;
  std::vector<uint8_t> buf(size);
  SLUICE_TRY(n, f.pread(0, buf));
  buf.resize(n);
  return buf;
}

// Whole, well-formed entries from the front of `buf`, stopping at the first bad one. Offsets
// are checked against [min_last, max_last) when given (max_last < 0: no upper bound).
std::vector<aborted_txn> parse_prefix(const std::vector<uint8_t>& buf, int64_t min_last,
                                      int64_t max_last) {
  std::vector<aborted_txn> out;
  int64_t prev = -1;
  for (size_t pos = 0; pos + txn_index::kEntrySize <= buf.size(); pos += txn_index::kEntrySize) {
    if (be::load_i16(&buf[pos]) != kVersion) break;
    aborted_txn e = load(&buf[pos]);
    if (e.producer_id < 0 || e.first_offset < 0 || e.first_offset > e.last_offset ||
        e.last_offset <= prev || e.last_offset < min_last ||
        (max_last >= 0 && e.last_offset >= max_last) || e.last_stable_offset < 0) {
      break;
    }
    prev = e.last_offset;
    out.push_back(e);
  }
  return out;
}

}  // namespace

std::string txn_index::name(int64_t base_offset) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%020" PRId64 ".txnindex", base_offset);
  return buf;
}

std::vector<uint8_t> txn_index::encode(const std::vector<aborted_txn>& entries) {
  std::vector<uint8_t> out(entries.size() * kEntrySize);
  for (size_t i = 0; i < entries.size(); ++i) store(&out[i * kEntrySize], entries[i]);
  return out;
}

result<txn_index> txn_index::create(file_system& fs, const std::string& dir, int64_t base_offset) {
  SLUICE_TRY(f, fs.create(dir + "/" + name(base_offset)));
  if (auto ec = f->truncate(0)) return ec;
  txn_index t(std::move(f));
  return t;
}

result<txn_index> txn_index::open(file_system& fs, const std::string& dir, int64_t base_offset,
                                  int64_t next_offset) {
  const std::string path = dir + "/" + name(base_offset);
  bool missing = false;
  auto f = fs.open(path);
  if (!f && f.error() == errc::not_found) {
    // Written before this index existed, or lost: its entries are unknown, not absent.
    missing = true;
    f = fs.create(path);
  }
  if (!f) return f.error();
  txn_index t(std::move(f).value());
  t._needs_rebuild = missing;
  auto buf = read_all(*t._file);
  std::vector<aborted_txn> entries;
  if (buf) entries = parse_prefix(buf.value(), base_offset, next_offset);
  const uint64_t valid = entries.size() * kEntrySize;
  if (!buf || valid != buf.value().size()) {
    t._needs_rebuild = true;
    if (auto ec = t._file->truncate(valid)) return ec;
  }
  t._count = entries.size();
  t._last_offset = entries.empty() ? -1 : entries.back().last_offset;
  return t;
}

result<std::vector<aborted_txn>> txn_index::read_entries(file_system& fs, const std::string& path) {
  SLUICE_TRY(f, fs.open(path));
  SLUICE_TRY(buf, read_all(*f));
  return parse_prefix(buf, 0, -1);
}

std::error_code txn_index::append(const aborted_txn& e) {
  if (e.last_offset <= _last_offset) return errc::invalid_data;  // markers come in offset order
  uint8_t buf[kEntrySize];
  store(buf, e);
  if (auto ec = _file->pwrite(_count * kEntrySize, buf)) {
    (void)_file->truncate(_count * kEntrySize);  // no torn entry left behind
    return ec;
  }
  ++_count;
  _last_offset = e.last_offset;
  _dirty = true;
  return {};
}

std::error_code txn_index::truncate_from(int64_t offset) {
  auto read = entries();
  if (!read) return read.error();
  const auto& all = read.value();
  size_t keep = 0;
  while (keep < all.size() && all[keep].last_offset < offset) ++keep;
  if (keep != all.size() || _needs_rebuild) {
    if (auto ec = _file->truncate(keep * kEntrySize)) return ec;
    _dirty = true;
  }
  _count = keep;
  _last_offset = keep == 0 ? -1 : all[keep - 1].last_offset;
  _needs_rebuild = false;
  return {};
}

std::error_code txn_index::sync() {
  if (!_dirty) return {};
  if (auto ec = _file->fdatasync()) return ec;
  _dirty = false;
  return {};
}

result<std::vector<aborted_txn>> txn_index::entries() {
  if (_count == 0) return std::vector<aborted_txn>{};
  std::vector<uint8_t> buf(_count * kEntrySize);
  SLUICE_TRY(n, _file->pread(0, buf));
  if (n != buf.size()) return errc::truncated;
  std::vector<aborted_txn> out;
  out.reserve(_count);
  for (size_t i = 0; i < _count; ++i) out.push_back(load(&buf[i * kEntrySize]));
  return out;
}

result<bool> txn_index::collect(int64_t from, int64_t to, std::vector<aborted_txn>& out) {
  // Nothing in this segment can end at or after `from`: skip the read.
  if (_count == 0 || _last_offset < from) return false;
  // Entries are sorted by last_offset: binary-search the first one ending at or after `from`
  // (the ones before it can neither overlap nor prove completeness, their LSO is <= from), so a
  // tailing reader does not read the whole index on every fetch.
  size_t lo = 0;
  size_t hi = _count - 1;  // the last entry qualifies (checked above)
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    uint8_t last[8];
    SLUICE_TRY(n, _file->pread(mid * kEntrySize + 18, last));
    if (n != sizeof last) return errc::truncated;
    if (be::load_i64(last) < from) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  std::vector<uint8_t> buf;
  for (size_t i = lo; i < _count;) {
    const size_t n = std::min(kCollectChunk, _count - i);
    buf.resize(n * kEntrySize);
    SLUICE_TRY(got, _file->pread(i * kEntrySize, buf));
    if (got != buf.size()) return errc::truncated;
    for (size_t j = 0; j < n; ++j) {
      const aborted_txn e = load(&buf[j * kEntrySize]);
      if (e.last_offset >= from && e.first_offset < to) out.push_back(e);
      if (e.last_stable_offset >= to) return true;
    }
    i += n;
  }
  return false;
}

}  // namespace sluice::storage
