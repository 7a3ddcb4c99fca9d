#include "src/meta/topic_config.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <variant>

namespace sluice::meta {
namespace {

using S = topic_settings;
using apply_fn = void (*)(S&, std::string_view normalized);
using field = std::variant<bool S::*, int32_t S::*, int64_t S::*, double S::*, apply_fn>;

struct def {
  topic_config_key key;
  int64_t lo = 0, hi = 0;                          // int32/int64 bounds, inclusive
  double dlo = 0, dhi = 0;                         // float64 bounds, inclusive
  std::vector<std::string_view> choices;           // string/list: allowed values (empty = any)
  std::string (*broker)(const config&) = nullptr;  // the synonym's value in sluice::config
  field target;
};

constexpr int64_t kI32 = INT32_MAX;
constexpr int64_t kI64 = INT64_MAX;

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

template <class T>
bool parse_number(std::string_view v, T& out) {
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && ptr == v.data() + v.size() && !v.empty();
}

std::string join(const std::vector<std::string_view>& items) {
  std::string s;
  for (auto i : items) s += (s.empty() ? "" : ", ") + std::string(i);
  return s;
}

const std::vector<def>& table() {
  static const std::vector<def> defs = [] {
    std::vector<def> d;
    using T = config_type;
    auto i32 = [&](std::string_view n, std::string_view dflt, int64_t lo, std::string_view bk,
                   std::string (*broker)(const config&), int32_t S::*m, std::string_view doc) {
      d.push_back({{n, T::int32, dflt, bk, doc}, lo, kI32, 0, 0, {}, broker, m});
    };
    auto i64 = [&](std::string_view n, std::string_view dflt, int64_t lo, std::string_view bk,
                   std::string (*broker)(const config&), int64_t S::*m, std::string_view doc) {
      d.push_back({{n, T::int64, dflt, bk, doc}, lo, kI64, 0, 0, {}, broker, m});
    };
    auto boolean = [&](std::string_view n, std::string_view dflt, std::string_view bk, bool S::*m,
                       std::string_view doc) {
      d.push_back({{n, T::boolean, dflt, bk, doc}, 0, 0, 0, 0, {}, nullptr, m});
    };
    auto str = [&](std::string_view n, config_type t, std::string_view dflt,
                   std::vector<std::string_view> choices, std::string_view bk,
                   std::string (*broker)(const config&), apply_fn fn, std::string_view doc) {
      d.push_back({{n, t, dflt, bk, doc}, 0, 0, 0, 0, std::move(choices), broker, fn});
    };

    str(
        "cleanup.policy", T::list, "delete", {"delete", "compact"}, "log.cleanup.policy",
        [](const config& c) { return c.log_cleanup_policy; },
        [](S& s, std::string_view v) {
          s.cleanup_delete = v.find("delete") != std::string_view::npos;
          s.cleanup_compact = v.find("compact") != std::string_view::npos;
        },
        "delete: drop old segments (retention); compact: keep the last record per key.");
    str(
        "compression.type", T::string, "producer",
        {"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}, "compression.type", nullptr,
        [](S& s, std::string_view v) {
          using C = topic_compression;
          s.compression = v == "uncompressed" ? C::uncompressed
                          : v == "zstd"       ? C::zstd
                          : v == "lz4"        ? C::lz4
                          : v == "snappy"     ? C::snappy
                          : v == "gzip"       ? C::gzip
                                              : C::producer;
        },
        "Codec batches are stored with; producer keeps the producer's.");
    i64(
        "delete.retention.ms", "86400000", 0, "log.cleaner.delete.retention.ms",
        [](const config& c) { return std::to_string(c.log_cleaner_delete_retention_ms); },
        &S::delete_retention_ms, "How long tombstones survive compaction.");
    i64("file.delete.delay.ms", "60000", 0, "log.segment.delete.delay.ms", nullptr,
        &S::file_delete_delay_ms, "Delay before a deleted segment's files are removed.");
    i64(
        "flush.messages", "9223372036854775807", 1, "log.flush.interval.messages",
        [](const config& c) { return std::to_string(c.log_flush_interval_messages); },
        &S::flush_messages, "fdatasync after this many messages.");
    i64(
        "flush.ms", "9223372036854775807", 0, "log.flush.interval.ms",
        [](const config& c) { return std::to_string(c.log_flush_interval_ms); }, &S::flush_ms,
        "fdatasync at least this often.");
    i32(
        "index.interval.bytes", "4096", 0, "log.index.interval.bytes",
        [](const config& c) { return std::to_string(c.log_index_interval_bytes); },
        &S::index_interval_bytes, "Bytes of log between two index entries.");
    i64("max.compaction.lag.ms", "9223372036854775807", 1, "log.cleaner.max.compaction.lag.ms",
        nullptr, &S::max_compaction_lag_ms, "Longest a record stays ineligible for compaction.");
    i32(
        "max.message.bytes", "1048588", 0, "message.max.bytes",
        [](const config& c) { return std::to_string(c.message_max_bytes); }, &S::max_message_bytes,
        "Largest record batch accepted.");
    boolean("message.downconversion.enable", "true", "log.message.downconversion.enable",
            &S::message_downconversion_enable,
            "Down-convert batches for old Fetch versions (Sluice serves v2 batches only).");
    str(
        "message.timestamp.type", T::string, "CreateTime", {"CreateTime", "LogAppendTime"},
        "log.message.timestamp.type", [](const config& c) { return c.log_message_timestamp_type; },
        [](S& s, std::string_view v) { s.log_append_time = v == "LogAppendTime"; },
        "CreateTime keeps the producer's timestamp; LogAppendTime stamps the broker's clock.");
    i64(
        "message.timestamp.difference.max.ms", "9223372036854775807", 0,
        "log.message.timestamp.difference.max.ms",
        [](const config& c) { return std::to_string(c.log_message_timestamp_difference_max_ms); },
        &S::message_timestamp_difference_max_ms,
        "Largest allowed gap between a CreateTime timestamp and the broker's clock.");
    d.push_back({{"min.cleanable.dirty.ratio", T::float64, "0.5", "log.cleaner.min.cleanable.ratio",
                  "Dirty share of the log above which it is compacted."},
                 0,
                 0,
                 0.0,
                 1.0,
                 {},
                 nullptr,
                 &S::min_cleanable_dirty_ratio});
    i64("min.compaction.lag.ms", "0", 0, "log.cleaner.min.compaction.lag.ms", nullptr,
        &S::min_compaction_lag_ms, "Shortest a record stays uncompacted.");
    i32("min.insync.replicas", "1", 1, "min.insync.replicas", nullptr, &S::min_insync_replicas,
        "Replicas that must acknowledge an acks=all write.");
    boolean("preallocate", "false", "log.preallocate", &S::preallocate,
            "Preallocate segment files when rolling.");
    i64(
        "retention.bytes", "-1", INT64_MIN, "log.retention.bytes",
        [](const config& c) { return std::to_string(c.log_retention_bytes); }, &S::retention_bytes,
        "Delete oldest segments beyond this partition size; negative = no limit.");
    i64(
        "retention.ms", "604800000", -1, "log.retention.ms",
        [](const config& c) { return std::to_string(c.log_retention_ms); }, &S::retention_ms,
        "Delete segments older than this; -1 = keep forever.");
    // 14 = the smallest record (magic 0 overhead), Kafka's lower bound.
    i32(
        "segment.bytes", "1073741824", 14, "log.segment.bytes",
        [](const config& c) { return std::to_string(c.log_segment_bytes); }, &S::segment_bytes,
        "Segment size before rolling.");
    i32("segment.index.bytes", "10485760", 4, "log.index.size.max.bytes", nullptr,
        &S::segment_index_bytes, "Largest offset index file of a segment.");
    i64("segment.jitter.ms", "0", 0, "log.roll.jitter.ms", nullptr, &S::segment_jitter_ms,
        "Random jitter subtracted from segment.ms, so segments do not all roll together.");
    i64(
        "segment.ms", "604800000", 1, "log.roll.ms",
        [](const config& c) { return std::to_string(c.log_roll_ms); }, &S::segment_ms,
        "Segment age before rolling.");
    boolean("unclean.leader.election.enable", "false", "unclean.leader.election.enable",
            &S::unclean_leader_election_enable,
            "Allow an out-of-sync replica to lead (Sluice has one replica).");
    return d;
  }();
  return defs;
}

const def* find_def(std::string_view name) {
  for (const auto& d : table()) {
    if (d.key.name == name) return &d;
  }
  return nullptr;
}

// Checks `raw` against `d`; on success `out` is its normalized text and the result is "".
std::string normalize(const def& d, std::string_view raw, std::string& out) {
  auto fail = [&](const std::string& what) { return std::string(d.key.name) + ": " + what; };
  auto quoted = "'" + std::string(raw) + "'";
  std::string_view v = trim(raw);
  switch (d.key.type) {
    case config_type::boolean: {
      std::string lower(v);
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      if (lower != "true" && lower != "false") {
        return fail("expected true or false, got " + quoted);
      }
      out = lower;
      return {};
    }
    case config_type::int32:
    case config_type::int64: {
      int64_t n = 0;
      auto range = "[" + std::to_string(d.lo) + ", " + std::to_string(d.hi) + "]";
      if (!parse_number(v, n)) {
        auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec == std::errc::result_out_of_range && ptr == v.data() + v.size()) {
          return fail(std::string(v) + " is out of range " + range);
        }
        return fail("expected an integer, got " + quoted);
      }
      if (n < d.lo || n > d.hi) return fail(std::to_string(n) + " is out of range " + range);
      out = std::to_string(n);
      return {};
    }
    case config_type::float64: {
      double x = 0;
      if (!parse_number(v, x)) return fail("expected a number, got " + quoted);
      if (!(x >= d.dlo && x <= d.dhi)) {  // written so NaN fails too
        return fail(std::string(v) + " is out of range [" + std::to_string(d.dlo) + ", " +
                    std::to_string(d.dhi) + "]");
      }
      out = std::string(v);
      return {};
    }
    case config_type::string:
      if (!d.choices.empty() &&
          std::find(d.choices.begin(), d.choices.end(), v) == d.choices.end()) {
        return fail(quoted + " is not one of: " + join(d.choices));
      }
      out = std::string(v);
      return {};
    case config_type::list: {
      // Comma-separated, items trimmed, each one of the choices (any order, e.g. delete,compact).
      std::vector<std::string_view> items;
      std::string_view rest = v;
      while (true) {
        auto comma = rest.find(',');
        auto item = trim(rest.substr(0, comma));
        if (item.empty() || (!d.choices.empty() && std::find(d.choices.begin(), d.choices.end(),
                                                             item) == d.choices.end())) {
          return fail(quoted + " is not a comma-separated list of: " + join(d.choices));
        }
        if (std::find(items.begin(), items.end(), item) == items.end()) items.push_back(item);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      out.clear();
      for (auto i : items) out += (out.empty() ? "" : ",") + std::string(i);
      return {};
    }
  }
  return fail("unsupported type");
}

// Effective value of `d`: the override, else the broker synonym, else Kafka's default.
std::string effective(const def& d, const config_map& overrides, const config& broker,
                      resolved_config& out) {
  out.broker_key = d.key.broker_key;
  if (auto it = overrides.find(std::string(d.key.name)); it != overrides.end()) {
    out.source = config_source::topic_override;
    return normalize(d, it->second, out.value);
  }
  if (d.broker != nullptr) {
    static const config defaults;
    std::string value = d.broker(broker);
    out.source =
        value == d.broker(defaults) ? config_source::default_config : config_source::broker_config;
    return normalize(d, value, out.value);
  }
  out.source = config_source::default_config;
  out.value = std::string(d.key.default_value);
  return {};
}

}  // namespace

const std::vector<topic_config_key>& topic_config_keys() {
  static const std::vector<topic_config_key> keys = [] {
    std::vector<topic_config_key> k;
    for (const auto& d : table()) k.push_back(d.key);
    return k;
  }();
  return keys;
}

const topic_config_key* find_topic_config(std::string_view name) {
  const def* d = find_def(name);
  return d == nullptr ? nullptr : &d->key;
}

std::string validate_topic_config(std::string_view name, std::string_view value) {
  const def* d = find_def(name);
  if (d == nullptr) return "unknown topic config '" + std::string(name) + "'";
  std::string normalized;
  return normalize(*d, value, normalized);
}

std::string validate_topic_configs(const config_map& overrides) {
  for (const auto& [name, value] : overrides) {
    if (auto err = validate_topic_config(name, value); !err.empty()) return err;
  }
  // Kafka rejects a topic whose min lag exceeds its max lag (values checked above).
  auto min_it = overrides.find("min.compaction.lag.ms");
  auto max_it = overrides.find("max.compaction.lag.ms");
  int64_t min_lag = 0, max_lag = kI64;
  if (min_it != overrides.end()) parse_number(trim(min_it->second), min_lag);
  if (max_it != overrides.end()) parse_number(trim(max_it->second), max_lag);
  if (min_lag > max_lag) {
    return "min.compaction.lag.ms (" + std::to_string(min_lag) +
           ") is greater than max.compaction.lag.ms (" + std::to_string(max_lag) + ")";
  }
  return {};
}

result<resolved_config> resolve_topic_config(std::string_view name, const config_map& overrides,
                                             const config& broker) {
  const def* d = find_def(name);
  if (d == nullptr) return errc::not_found;
  resolved_config r;
  if (!effective(*d, overrides, broker, r).empty()) return errc::invalid_config;
  return r;
}

result<topic_settings> resolve_topic_settings(const config_map& overrides, const config& broker) {
  for (const auto& [name, value] : overrides) {
    if (find_def(name) == nullptr) return errc::invalid_config;
  }
  topic_settings s;
  for (const auto& d : table()) {
    resolved_config r;
    if (!effective(d, overrides, broker, r).empty()) return errc::invalid_config;
    const std::string& v = r.value;
    std::visit(
        [&](auto target) {
          using F = decltype(target);
          if constexpr (std::is_same_v<F, apply_fn>) {
            target(s, v);
          } else if constexpr (std::is_same_v<F, bool S::*>) {
            s.*target = v == "true";
          } else {
            parse_number(v, s.*target);  // validated by normalize, cannot fail
          }
        },
        d.target);
  }
  return s;
}

}  // namespace sluice::meta
