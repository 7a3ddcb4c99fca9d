#pragma once
// Small parsers and formatters shared by the verbs: durations, points in time, progress meter.
//
// Values only, except `progress`, which one thread owns; it writes to stderr only when enabled
// (the caller decides: a terminal, not a pipe).

#include <chrono>
#include <cstdint>
#include <string>

#include "src/cli/failure.h"

namespace sluice::cli {

// "500ms", "10s", "2m", "1h"; a bare number is seconds.
outcome<std::chrono::milliseconds> parse_duration(const std::string& s);

// A point in time as Unix milliseconds: an integer (ms since the epoch), an ISO-8601 UTC time
// ("2026-11-27T06:00:00Z", "2026-11-27 06:00:00", "2026-11-27"), or "-<duration>" (that long ago).
outcome<int64_t> parse_time(const std::string& s);

// Prints "<what> N records (R/s)" on one rewritten stderr line at most 4 times a second.
class progress {
 public:
  progress(const char* what, bool enabled);
  void add(uint64_t records, uint64_t bytes);
  // Prints the final totals and a newline (when enabled).
  void finish();

 private:
  void print(bool final);

  const char* _what;
  bool _enabled;
  uint64_t _records = 0;
  uint64_t _bytes = 0;
  std::chrono::steady_clock::time_point _start;
  std::chrono::steady_clock::time_point _last;
};

}  // namespace sluice::cli
