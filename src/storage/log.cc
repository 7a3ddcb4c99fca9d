#include "src/storage/log.h"

#include <algorithm>
#include <charconv>

#include "src/protocol/record_batch.h"

namespace sluice::storage {
namespace {

constexpr size_t kDigits = 20;

// "<20 digits>.log" -> base offset; anything else is not a segment.
bool parse_segment_name(const std::string& name, int64_t& base) {
  if (name.size() != kDigits + 4 || !name.ends_with(".log")) return false;
  auto [p, ec] = std::from_chars(name.data(), name.data() + kDigits, base);
  return ec == std::errc() && p == name.data() + kDigits && base >= 0;
}

}  // namespace

result<std::unique_ptr<log>> log::open(file_system& fs, std::string dir, log_options opts) {
  if (opts.segment_bytes == 0 || opts.segment_bytes > segment::kMaxSize) {
    return errc::invalid_config;
  }
  std::unique_ptr<log> l(new log(fs, std::move(dir), opts));
  if (auto ec = fs.mkdir(l->_dir)) return ec;
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
    if (auto ec = fs.sync_dir(l->_dir)) return ec;
    return l;
  }
  for (size_t i = 0; i < bases.size(); ++i) {
    const bool active = i + 1 == bases.size();
    auto s = active ? segment::open_and_recover(fs, l->_dir, bases[i], l->seg_opts(), &l->_recovery)
                    : segment::open(fs, l->_dir, bases[i], l->seg_opts());
    if (!s) return s.error();
    // Offsets only grow from one segment to the next.
    if (!l->_segments.empty() && s.value()->base_offset() < l->_segments.back()->next_offset()) {
      return errc::invalid_data;
    }
    l->_segments.push_back(std::move(s).value());
  }
  return l;
}

result<log::append_result> log::append(std::span<uint8_t> batch) {
  SLUICE_TRY(h, records::validate_batch(batch));
  segment* active = _segments.back().get();
  const bool full = active->size_bytes() + batch.size() > _opts.segment_bytes;
  const bool offsets_full =
      active->next_offset() + h.last_offset_delta - active->base_offset() > int64_t{UINT32_MAX};
  if (!active->empty() && (full || offsets_full)) {
    if (auto ec = roll()) return ec;
    active = _segments.back().get();
  }
  SLUICE_TRY(a, active->append(batch));
  return append_result{a.base_offset, a.last_offset};
}

std::error_code log::roll() {
  segment* active = _segments.back().get();
  if (active->empty()) return {};
  // Only the active segment may have a torn tail after a crash: make the old one durable.
  if (auto ec = active->flush()) return ec;
  // The index is an accelerator that open() validates and rebuilds; a failure here is not fatal.
  (void)active->write_index();
  auto s = segment::create(*_fs, _dir, active->next_offset(), seg_opts());
  if (!s) return s.error();
  _segments.push_back(std::move(s).value());
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

std::error_code log::flush() { return _segments.back()->flush(); }

std::error_code log::close() {
  if (auto ec = flush()) return ec;
  return _segments.back()->write_index();
}

}  // namespace sluice::storage
