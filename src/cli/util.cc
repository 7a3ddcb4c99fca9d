#include "src/cli/util.h"

#include <cstdio>
#include <ctime>

namespace sluice::cli {

namespace {

bool parse_int(const std::string& s, int64_t& out) {
  if (s.empty()) return false;
  size_t i = (s[0] == '-') ? 1 : 0;
  if (i == s.size()) return false;
  int64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    if (v > (INT64_MAX - 9) / 10) return false;
    v = v * 10 + (s[i] - '0');
  }
  out = s[0] == '-' ? -v : v;
  return true;
}

}  // namespace

outcome<std::chrono::milliseconds> parse_duration(const std::string& s) {
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  int64_t n = 0;
  if (digits == 0 || !parse_int(s.substr(0, digits), n)) {
    return fail("invalid duration '" + s + "' (examples: 500ms, 10s, 2m)");
  }
  const std::string unit = s.substr(digits);
  int64_t factor = 0;
  if (unit == "ms")
    factor = 1;
  else if (unit.empty() || unit == "s")
    factor = 1000;
  else if (unit == "m")
    factor = 60'000;
  else if (unit == "h")
    factor = 3'600'000;
  else
    return fail("invalid duration '" + s + "' (units: ms, s, m, h)");
  return std::chrono::milliseconds(n * factor);
}

outcome<int64_t> parse_time(const std::string& s) {
  int64_t n = 0;
  if (parse_int(s, n) && n >= 0) return n;
  if (!s.empty() && s[0] == '-') {
    CLI_TRY(ago, parse_duration(s.substr(1)));
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    return (now - ago).count();
  }
  std::tm tm{};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ms = 0;
  char tail[8] = {};
  int fields =
      std::sscanf(s.c_str(), "%4d-%2d-%2d%*[T ]%2d:%2d:%2d%7s", &y, &mo, &d, &h, &mi, &sec, tail);
  if (fields < 3) return fail("invalid time '" + s + "' (ms since epoch, ISO-8601 UTC, or -10m)");
  std::string rest = fields == 7 ? tail : "";
  if (!rest.empty() && rest[0] == '.') {
    size_t i = 1;
    int scale = 100;
    for (; i < rest.size() && rest[i] >= '0' && rest[i] <= '9'; ++i, scale /= 10) {
      ms += (rest[i] - '0') * scale;
    }
    rest = rest.substr(i);
  }
  if (!rest.empty() && rest != "Z") return fail("invalid time '" + s + "' (only UTC, 'Z')");
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

progress::progress(const char* what, bool enabled)
    : _what(what), _enabled(enabled), _start(std::chrono::steady_clock::now()), _last(_start) {}

void progress::add(uint64_t records, uint64_t bytes) {
  _records += records;
  _bytes += bytes;
  if (!_enabled) return;
  auto now = std::chrono::steady_clock::now();
  if (now - _last < std::chrono::milliseconds(250)) return;
  _last = now;
  print(false);
}

void progress::finish() {
  if (_enabled) print(true);
}

void progress::print(bool final) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - _start).count();
  double rate = secs > 0 ? static_cast<double>(_records) / secs : 0;
  double mib = secs > 0 ? static_cast<double>(_bytes) / secs / (1024 * 1024) : 0;
  std::fprintf(stderr, "\r%s %llu records  %.0f records/s  %.1f MiB/s\033[K%s", _what,
               static_cast<unsigned long long>(_records), rate, mib, final ? "\n" : "");
}

}  // namespace sluice::cli
