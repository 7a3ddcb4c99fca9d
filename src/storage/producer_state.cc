#include "src/storage/producer_state.h"

#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cstdio>

#include "src/base/byte_order.h"
#include "src/base/crc32c.h"
#include "src/storage/log.h"

namespace sluice::storage {
namespace {

constexpr int16_t kSnapshotVersion = 2;    // 1 held the aborted list, now in txn indexes
constexpr size_t kFileHeader = 2 + 4 + 4;  // version, crc, count
constexpr size_t kEntryFixed = 8 + 2 + 8 + 4 + 8 + 1;  // see docs/formats/producer_snapshot.md
constexpr size_t kBatchSize = 4 + 4 + 8 + 8 + 8;
constexpr char kPrefix[] = "producer-state-";
constexpr char kSuffix[] = ".snapshot";
constexpr size_t kDigits = 20;
constexpr char kTemp[] = "producer-state.snapshot.tmp";
constexpr size_t kReplayChunk = size_t{1} << 20;
constexpr size_t kSnapshotsKept = 2;

bool parse_snapshot_name(const std::string& name, int64_t& offset) {
  const size_t prefix = sizeof(kPrefix) - 1;
  const size_t suffix = sizeof(kSuffix) - 1;
  if (name.size() != prefix + kDigits + suffix || !name.starts_with(kPrefix) ||
      !name.ends_with(kSuffix)) {
    return false;
  }
  const char* b = name.data() + prefix;
  auto [p, ec] = std::from_chars(b, b + kDigits, offset);
  return ec == std::errc() && p == b + kDigits && offset >= 0;
}

bool in_sequence(int32_t last_seq, int32_t next_seq) {
  return int64_t{next_seq} == int64_t{last_seq} + 1 || (next_seq == 0 && last_seq == INT32_MAX);
}

// Snapshot offsets present in `dir`, newest first.
result<std::vector<int64_t>> list_snapshots(file_system& fs, const std::string& dir) {
  SLUICE_TRY(names, fs.list_dir(dir));
  std::vector<int64_t> offsets;
  for (const auto& n : names) {
    int64_t o;
    if (parse_snapshot_name(n, o)) offsets.push_back(o);
  }
  std::sort(offsets.rbegin(), offsets.rend());
  return offsets;
}

result<std::vector<uint8_t>> read_file(file_system& fs, const std::string& path) {
  SLUICE_TRY(f, fs.open(path));
  SLUICE_TRY(size, f->size());
  if (size > (uint64_t{64} << 20)) return errc::invalid_data;  // no state is this large
  std::vector<uint8_t> bytes(size);
  SLUICE_TRY(n, f->pread(0, bytes));
  if (n != size) return errc::invalid_data;
  return bytes;
}

}  // namespace

int32_t last_sequence(const records::batch_header& h) {
  const int64_t last = int64_t{h.base_sequence} + h.last_offset_delta;
  return static_cast<int32_t>(last > INT32_MAX ? last - INT32_MAX - 1 : last);
}

std::string producer_state::snapshot_name(int64_t offset) {
  char digits[kDigits + 1];
  std::snprintf(digits, sizeof(digits), "%020" PRId64, offset);
  return std::string(kPrefix) + digits + kSuffix;
}

const producer_entry* producer_state::find(int64_t producer_id) const {
  auto it = _producers.find(producer_id);
  return it == _producers.end() ? nullptr : &it->second;
}

producer_state::decision producer_state::check(const records::batch_header& h) const {
  decision d;
  if (h.producer_id < 0) return d;
  const producer_entry* e = find(h.producer_id);
  if (e == nullptr || e->epoch == records::kNoProducerEpoch) return d;  // unknown: any sequence
  if (h.producer_epoch < e->epoch) {
    d.what = verdict::invalid_epoch;
    d.message = "Epoch " + std::to_string(h.producer_epoch) + " of producer " +
                std::to_string(h.producer_id) + " is older than its current epoch " +
                std::to_string(e->epoch);
    return d;
  }
  const int32_t first = h.base_sequence;
  if (h.producer_epoch == e->epoch) {
    const int32_t last = last_sequence(h);
    for (const auto& b : e->batches) {
      if (b.first_seq == first && b.last_seq == last) {
        d.what = verdict::duplicate;
        d.original = b;
        return d;
      }
    }
    if (!in_sequence(e->last_seq(), first)) {
      d.what = verdict::out_of_order;
      d.message = "Out of order sequence number for producer " + std::to_string(h.producer_id) +
                  ": " + std::to_string(first) + " (incoming seq. number), " +
                  std::to_string(e->last_seq()) + " (current end sequence number)";
    }
    return d;
  }
  if (first != 0) {  // a new (bumped) epoch starts over at 0
    d.what = verdict::out_of_order;
    d.message = "Invalid sequence number for new epoch " + std::to_string(h.producer_epoch) +
                " of producer " + std::to_string(h.producer_id) + ": " + std::to_string(first);
  }
  return d;
}

void producer_state::apply(const records::batch_header& h, int64_t now_ms) {
  if (h.producer_id < 0 || h.is_control()) return;
  producer_entry& e = _producers[h.producer_id];
  if (h.producer_epoch != e.epoch) {
    e.epoch = h.producer_epoch;
    e.batches.clear();
  }
  e.last_update_ms = now_ms;
  if (h.is_transactional() && e.txn_first_offset < 0) e.txn_first_offset = h.base_offset;
  if (e.batches.size() == kRetainedBatches) e.batches.erase(e.batches.begin());
  e.batches.push_back(
      {h.base_sequence, last_sequence(h), h.base_offset, h.last_offset(), h.max_timestamp});
}

producer_state::decision producer_state::check_marker(const records::batch_header& h) const {
  decision d;
  const producer_entry* e = find(h.producer_id);
  if (e != nullptr && h.producer_epoch < e->epoch) {
    d.what = verdict::invalid_epoch;
    d.message = "Marker epoch " + std::to_string(h.producer_epoch) + " of producer " +
                std::to_string(h.producer_id) + " is older than its current epoch " +
                std::to_string(e->epoch);
  }
  return d;
}

std::optional<aborted_txn> producer_state::apply_marker(const records::batch_header& h,
                                                        records::control_type type,
                                                        int64_t now_ms) {
  if (h.producer_id < 0) return std::nullopt;
  producer_entry& e = _producers[h.producer_id];
  if (h.producer_epoch != e.epoch) {
    e.epoch = h.producer_epoch;
    e.batches.clear();
  }
  e.last_update_ms = now_ms;
  const int64_t first = e.txn_first_offset;
  e.txn_first_offset = -1;
  if (type != records::control_type::abort || first < 0) return std::nullopt;
  // The LSO once this transaction is closed: the oldest other open one, else past the marker.
  const int64_t unstable = first_unstable_offset();
  return aborted_txn{h.producer_id, first, h.base_offset,
                     unstable >= 0 ? unstable : h.base_offset + 1};
}

int64_t producer_state::first_unstable_offset() const {
  int64_t first = -1;
  for (const auto& [id, e] : _producers) {
    if (e.txn_first_offset >= 0 && (first < 0 || e.txn_first_offset < first)) {
      first = e.txn_first_offset;
    }
  }
  return first;
}

size_t producer_state::remove_expired(int64_t now_ms, int64_t expiration_ms) {
  return std::erase_if(_producers, [&](const auto& kv) {
    const producer_entry& e = kv.second;
    return e.txn_first_offset < 0 && now_ms - e.last_update_ms >= expiration_ms;
  });
}

std::vector<uint8_t> producer_state::encode() const {
  std::vector<int64_t> ids;
  ids.reserve(_producers.size());
  for (const auto& [id, e] : _producers) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  size_t size = kFileHeader;
  for (const auto& [id, e] : _producers) size += kEntryFixed + e.batches.size() * kBatchSize;
  std::vector<uint8_t> out(size);
  uint8_t* p = out.data();
  be::store_i16(p, kSnapshotVersion);
  be::store_i32(p + 6, static_cast<int32_t>(ids.size()));
  p += kFileHeader;
  for (int64_t id : ids) {
    const producer_entry& e = _producers.at(id);
    be::store_i64(p, id);
    be::store_i16(p + 8, e.epoch);
    be::store_i64(p + 10, e.last_update_ms);
    be::store_i32(p + 18, e.coordinator_epoch);
    be::store_i64(p + 22, e.txn_first_offset);
    p[30] = static_cast<uint8_t>(e.batches.size());
    p += kEntryFixed;
    for (const auto& b : e.batches) {
      be::store_i32(p, b.first_seq);
      be::store_i32(p + 4, b.last_seq);
      be::store_i64(p + 8, b.first_offset);
      be::store_i64(p + 16, b.last_offset);
      be::store_i64(p + 24, b.timestamp);
      p += kBatchSize;
    }
  }
  be::store_u32(out.data() + 2, crc32c::value(out.data() + 6, out.size() - 6));
  return out;
}

result<producer_state> producer_state::decode(std::span<const uint8_t> bytes) {
  if (bytes.size() < kFileHeader) return errc::invalid_data;
  if (be::load_i16(bytes.data()) != kSnapshotVersion) return errc::invalid_data;
  if (be::load_u32(bytes.data() + 2) != crc32c::value(bytes.data() + 6, bytes.size() - 6)) {
    return errc::invalid_data;
  }
  const int32_t count = be::load_i32(bytes.data() + 6);
  if (count < 0) return errc::invalid_data;
  producer_state s;
  size_t pos = kFileHeader;
  for (int32_t i = 0; i < count; ++i) {
    if (bytes.size() - pos < kEntryFixed) return errc::invalid_data;
    const uint8_t* p = bytes.data() + pos;
    const int64_t id = be::load_i64(p);
    producer_entry e;
    e.epoch = be::load_i16(p + 8);
    e.last_update_ms = be::load_i64(p + 10);
    e.coordinator_epoch = be::load_i32(p + 18);
    e.txn_first_offset = be::load_i64(p + 22);
    const size_t batches = p[30];
    pos += kEntryFixed;
    if (id < 0 || batches > kRetainedBatches || bytes.size() - pos < batches * kBatchSize) {
      return errc::invalid_data;
    }
    for (size_t j = 0; j < batches; ++j) {
      const uint8_t* q = bytes.data() + pos;
      e.batches.push_back({be::load_i32(q), be::load_i32(q + 4), be::load_i64(q + 8),
                           be::load_i64(q + 16), be::load_i64(q + 24)});
      pos += kBatchSize;
    }
    if (!s._producers.emplace(id, std::move(e)).second) return errc::invalid_data;
  }
  if (pos != bytes.size()) return errc::invalid_data;
  return s;
}

result<producer_state> producer_state::load(file_system& fs, log& lg, size_t* replayed) {
  const std::string& dir = lg.dir();
  SLUICE_TRY(offsets, list_snapshots(fs, dir));
  producer_state s;
  int64_t from = -1;
  // A segment whose txn index is missing or damaged is rebuilt by replaying it: no snapshot
  // past its base offset will do (kept on disk, it is still good for the next open).
  const int64_t rebuild = lg.txn_rebuild_offset();
  const int64_t limit = rebuild >= 0 ? std::min(rebuild, lg.log_end_offset()) : lg.log_end_offset();
  for (int64_t o : offsets) {
    const std::string path = dir + "/" + snapshot_name(o);
    if (from < 0 && o > limit && o <= lg.log_end_offset()) continue;
    if (from < 0 && o <= limit) {
      auto bytes = read_file(fs, path);
      if (bytes) {
        auto decoded = decode(bytes.value());
        if (decoded) {
          s = std::move(decoded).value();
          from = o;
          continue;
        }
      }
    }
    if (from < 0) (void)fs.remove(path);  // past the log end, or damaged: never usable
  }
  int64_t offset = std::max(from, lg.log_start_offset());
  if (auto ec = lg.begin_txn_rebuild(offset)) return ec;
  size_t batches = 0;
  while (offset < lg.log_end_offset()) {
    SLUICE_TRY(chunk, lg.read_bytes(offset, kReplayChunk));
    records::batch_iterator it(chunk);
    const int64_t before = offset;
    while (const auto* b = it.next()) {
      if (b->header.last_offset() < offset) continue;
      if (b->header.is_control()) {
        auto decoded = records::decode_records(b->bytes, size_t{1} << 20);
        if (!decoded || decoded.value().records.empty()) return errc::invalid_data;
        const auto& key = decoded.value().records.front().key;
        if (!key) return errc::invalid_data;
        auto type = records::parse_control_key(*key);
        if (type) {
          if (auto aborted = s.apply_marker(b->header, type.value(), b->header.max_timestamp)) {
            if (auto ec = lg.append_aborted(*aborted)) return ec;
          }
        }
      } else {
        s.apply(b->header, b->header.max_timestamp);
      }
      offset = b->header.last_offset() + 1;
      ++batches;
    }
    if (offset == before) return errc::invalid_data;  // no progress: the log is damaged
  }
  // Closed segments' indexes are not rebuilt again on the next open: make them durable.
  if (auto ec = lg.sync_txn_indexes()) return ec;
  if (replayed != nullptr) *replayed = batches;
  return s;
}

std::error_code producer_state::write_snapshot(file_system& fs, const std::string& dir,
                                               int64_t offset, bool durable) {
  const std::vector<uint8_t> bytes = encode();
  if (auto ec = replace_file(fs, dir, snapshot_name(offset), kTemp, bytes, durable)) return ec;
  auto offsets = list_snapshots(fs, dir);
  if (!offsets) return offsets.error();
  for (size_t i = kSnapshotsKept; i < offsets.value().size(); ++i) {
    (void)fs.remove(dir + "/" + snapshot_name(offsets.value()[i]));
  }
  return {};
}

}  // namespace sluice::storage
