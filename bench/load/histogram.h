#pragma once
// A log-linear latency histogram (HdrHistogram's layout, simplified): values below 2^kSubBits are
// exact, above that each power of two is split into 2^(kSubBits-1) buckets, so a percentile is
// within 1/64 (1.6%) of the true value. Fixed memory, O(1) record, mergeable.
//
// Thread safety: none; each thread records into its own histogram and they are merged at the end.

#include <bit>
#include <cstdint>
#include <vector>

namespace sluice::load {

class histogram {
 public:
  histogram() : _counts(kBuckets, 0) {}

  void record(uint64_t v) {
    ++_counts[bucket_of(v)];
    ++_total;
    if (v > _max) _max = v;
  }
  void merge(const histogram& o) {
    for (size_t i = 0; i < _counts.size(); ++i) _counts[i] += o._counts[i];
    _total += o._total;
    if (o._max > _max) _max = o._max;
  }
  uint64_t count() const { return _total; }
  uint64_t max() const { return _max; }
  // The value at quantile q in [0, 1] (upper edge of its bucket, capped at the max seen).
  uint64_t percentile(double q) const {
    if (_total == 0) return 0;
    auto rank = static_cast<uint64_t>(q * static_cast<double>(_total - 1)) + 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < _counts.size(); ++i) {
      seen += _counts[i];
      if (seen >= rank) {
        uint64_t v = upper_of(i);
        return v < _max ? v : _max;
      }
    }
    return _max;
  }

 private:
  static constexpr int kSubBits = 7;
  static constexpr uint64_t kSub = uint64_t{1} << kSubBits;  // exact below this
  static constexpr uint64_t kHalf = kSub / 2;                // buckets per power of two
  static constexpr size_t kBuckets = kSub + (64 - kSubBits) * kHalf;

  static size_t bucket_of(uint64_t v) {
    if (v < kSub) return static_cast<size_t>(v);
    int msb = 63 - std::countl_zero(v);  // >= kSubBits
    int shift = msb - (kSubBits - 1);
    uint64_t sub = (v >> shift) - kHalf;  // in [0, kHalf)
    return static_cast<size_t>(kSub + static_cast<uint64_t>(msb - kSubBits) * kHalf + sub);
  }
  static uint64_t upper_of(size_t b) {
    if (b < kSub) return b;
    uint64_t i = b - kSub;
    int msb = static_cast<int>(i / kHalf) + kSubBits;
    int shift = msb - (kSubBits - 1);
    uint64_t sub = i % kHalf + kHalf;
    return ((sub + 1) << shift) - 1;
  }

  std::vector<uint64_t> _counts;
  uint64_t _total = 0;
  uint64_t _max = 0;
};

}  // namespace sluice::load
