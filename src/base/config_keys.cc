// The broker settings table (see config_keys.h). Adding a key: add a field to sluice::config,
// a row here, and document it in config/sluice.yaml (a unit test checks they agree).

#include "src/base/config_keys.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <functional>
#include <variant>

namespace sluice {
namespace {

struct int_range {
  int64_t min;
  int64_t max;
};

using member =
    std::variant<int32_t config::*, int64_t config::*, bool config::*, std::string config::*>;

struct key_def {
  std::string_view name;
  member field;
  int_range range;                        // integers only
  std::vector<std::string_view> choices;  // strings only; empty = any
  std::string_view doc;
  setting_type type = setting_type::string;
  // Optional: parses a string key into more than one field (listeners).
  std::function<std::string(config&, std::string_view)> custom = nullptr;
};

constexpr int64_t kI32 = INT32_MAX;
constexpr int64_t kI64 = INT64_MAX;

std::string parse_listener(std::string_view v, std::string& host, int32_t& port) {
  // Kafka form "PLAINTEXT://host:port"; a bare "host:port" is accepted too.
  if (auto p = v.find("://"); p != std::string_view::npos) {
    if (v.substr(0, p) != "PLAINTEXT") {
      return "only PLAINTEXT listeners are supported so far, got '" + std::string(v) + "'";
    }
    v.remove_prefix(p + 3);
  }
  auto colon = v.rfind(':');
  if (colon == std::string_view::npos) return "expected HOST:PORT, got '" + std::string(v) + "'";
  std::string_view h = v.substr(0, colon), ps = v.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  int64_t n = -1;
  auto [ptr, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), n);
  if (ec != std::errc() || ptr != ps.data() + ps.size() || n < 0 || n > 65535) {
    return "port must be a number in [0, 65535], got '" + std::string(ps) + "'";
  }
  host = std::string(h);
  port = static_cast<int32_t>(n);
  return {};
}

const std::vector<key_def>& table() {
  static const std::vector<key_def> defs = [] {
    std::vector<key_def> d;
    auto i32 = [&](std::string_view n, int32_t config::*m, int64_t lo, int64_t hi,
                   std::string_view doc) {
      d.push_back({n, m, {lo, hi}, {}, doc, setting_type::int32});
    };
    auto i64 = [&](std::string_view n, int64_t config::*m, int64_t lo, int64_t hi,
                   std::string_view doc) {
      d.push_back({n, m, {lo, hi}, {}, doc, setting_type::int64});
    };
    auto boolean = [&](std::string_view n, bool config::*m, std::string_view doc) {
      d.push_back({n, m, {0, 0}, {}, doc, setting_type::boolean});
    };
    auto str = [&](std::string_view n, std::string config::*m,
                   std::vector<std::string_view> choices, std::string_view doc) {
      auto t = n == "log.cleanup.policy" ? setting_type::list : setting_type::string;
      d.push_back({n, m, {0, 0}, std::move(choices), doc, t});
    };
    // Process.
    d.push_back({"listeners",
                 &config::advertised_host,
                 {0, 0},
                 {},
                 "Kafka listener, PLAINTEXT://HOST:PORT (flag --listen HOST:PORT).",
                 setting_type::string,
                 [](config& c, std::string_view v) {
                   int32_t port = 0;
                   auto err = parse_listener(v, c.listen.host, port);
                   c.listen.port = static_cast<uint16_t>(port);
                   return err;
                 }});
    d.push_back({"advertised.listeners",
                 &config::advertised_host,
                 {0, 0},
                 {},
                 "Address given to clients in Metadata; empty means the listener's.",
                 setting_type::string,
                 [](config& c, std::string_view v) {
                   if (v.empty()) {
                     c.advertised_host.clear();
                     c.advertised_port = 0;
                     return std::string();
                   }
                   return parse_listener(v, c.advertised_host, c.advertised_port);
                 }});
    str("log.dir", &config::data_dir, {},
        "Directory for all data: logs and metadata (flag --data-dir).");
    str("log.level", &config::log_level,
        {"trace", "debug", "info", "warn", "error", "critical", "off"},
        "Logging level (flag --log-level).");
    i32("node.id", &config::node_id, 0, kI32, "This broker's id, as reported in Metadata.");
    i32("sluice.shards", &config::num_shards, 0, 1024,
        "Number of shards (threads with one io_context each); 0 = one per core.");
    str("http.listen", &config::http_listen, {},
        "Admin HTTP API and /metrics listener, HOST:PORT (port 0 picks a free one; \"\" turns "
        "it off).");
    // Network.
    i64("socket.request.max.bytes", &config::socket_request_max_bytes, 1024, kI32,
        "Largest request accepted; bigger ones close the connection before allocating.");
    i64("connections.max.idle.ms", &config::connections_max_idle_ms, 0, kI64,
        "Idle connections are closed after this long; 0 disables.");
    i32("max.incremental.fetch.session.cache.slots",
        &config::max_incremental_fetch_session_cache_slots, 0, kI32,
        "Fetch sessions (KIP-227) kept at once, split across shards; 0 disables sessions.");
    // Topics and logs.
    i32("num.partitions", &config::num_partitions, 1, 1000000,
        "Partitions of auto-created topics and CreateTopics without a count.");
    boolean("auto.create.topics.enable", &config::auto_create_topics_enable,
            "Create unknown topics on Metadata requests that allow it.");
    i32("default.replication.factor", &config::default_replication_factor, 1, 1,
        "Replication factor; Sluice is a single replica.");
    i64("log.segment.bytes", &config::log_segment_bytes, 14, kI32, "Segment size before rolling.");
    i64("log.roll.ms", &config::log_roll_ms, 1, kI64, "Segment age before rolling.");
    i64("log.retention.ms", &config::log_retention_ms, -1, kI64,
        "Delete segments older than this; -1 = keep forever.");
    i64("log.retention.bytes", &config::log_retention_bytes, -1, kI64,
        "Delete oldest segments beyond this partition size; -1 = no limit.");
    i64("log.retention.check.interval.ms", &config::log_retention_check_interval_ms, 1, kI64,
        "How often retention runs.");
    i32("log.index.interval.bytes", &config::log_index_interval_bytes, 0, kI32,
        "Bytes of log between two offset/time index entries.");
    i64("log.flush.interval.messages", &config::log_flush_interval_messages, 1, kI64,
        "fdatasync after this many messages (acks=all always waits for fdatasync).");
    i64("log.flush.interval.ms", &config::log_flush_interval_ms, 0, kI64,
        "fdatasync at least this often.");
    i64("sluice.fsync.min.interval.us", &config::fsync_min_interval_us, 0, 1000000,
        "Least time between the starts of two group-commit fdatasyncs (any partitions); 0 starts "
        "each as soon as a sync thread is free. Some disks stall less with spaced syncs "
        "(docs/performance.md, change 9).");
    str("log.cleanup.policy", &config::log_cleanup_policy, {"delete", "compact", "compact,delete"},
        "Default cleanup.policy of topics.");
    i64("log.cleaner.delete.retention.ms", &config::log_cleaner_delete_retention_ms, 0, kI64,
        "How long tombstones survive compaction.");
    str("log.message.timestamp.type", &config::log_message_timestamp_type,
        {"CreateTime", "LogAppendTime"}, "Default message.timestamp.type of topics.");
    i64("log.message.timestamp.difference.max.ms", &config::log_message_timestamp_difference_max_ms,
        0, kI64,
        "Largest allowed difference between a CreateTime timestamp and the broker's clock.");
    i32("message.max.bytes", &config::message_max_bytes, 0, kI32,
        "Largest record batch accepted (default max.message.bytes of topics).");
    // Groups and offsets.
    i32("group.min.session.timeout.ms", &config::group_min_session_timeout_ms, 0, kI32,
        "Smallest session timeout a classic group member may ask for.");
    i32("group.max.session.timeout.ms", &config::group_max_session_timeout_ms, 0, kI32,
        "Largest session timeout a classic group member may ask for.");
    i32("group.initial.rebalance.delay.ms", &config::group_initial_rebalance_delay_ms, 0, kI32,
        "Delay of the first rebalance of an empty group, to let members join together.");
    i32("group.max.size", &config::group_max_size, 1, kI32,
        "Largest number of members in a group.");
    i32("offsets.retention.minutes", &config::offsets_retention_minutes, 1, kI32,
        "Committed offsets of empty groups expire after this long.");
    i32("group.consumer.session.timeout.ms", &config::group_consumer_session_timeout_ms, 1, kI32,
        "Session timeout of KIP-848 consumer group members.");
    i32("group.consumer.heartbeat.interval.ms", &config::group_consumer_heartbeat_interval_ms, 1,
        kI32, "Heartbeat interval given to KIP-848 consumer group members.");
    // Transactions.
    i32("transaction.max.timeout.ms", &config::transaction_max_timeout_ms, 1, kI32,
        "Largest transaction.timeout.ms a producer may ask for.");
    i32("transactional.id.expiration.ms", &config::transactional_id_expiration_ms, 1, kI32,
        "Transactional ids unused for this long are forgotten.");
    i32("producer.id.expiration.ms", &config::producer_id_expiration_ms, 1, kI32,
        "Idempotent producer state unused for this long is forgotten.");
    return d;
  }();
  return defs;
}

const key_def* find_key(std::string_view name) {
  for (const auto& k : table()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::string render(const config& c, const key_def& k) {
  if (k.name == "listeners") {
    return "PLAINTEXT://" + c.listen.host + ":" + std::to_string(c.listen.port);
  }
  if (k.name == "advertised.listeners") {
    if (c.advertised_host.empty()) return {};
    return "PLAINTEXT://" + c.advertised_host + ":" + std::to_string(c.advertised_port);
  }
  return std::visit(
      [&](auto m) -> std::string {
        const auto& v = c.*m;
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else {
          return std::to_string(v);
        }
      },
      k.field);
}

}  // namespace

std::string apply_config_setting(config& c, std::string_view key, std::string_view value) {
  const key_def* k = find_key(key);
  if (k == nullptr) return "unknown key '" + std::string(key) + "'";
  auto fail = [&](const std::string& what) { return std::string(key) + ": " + what; };
  if (k->custom) {
    auto err = k->custom(c, value);
    return err.empty() ? err : fail(err);
  }
  return std::visit(
      [&](auto m) -> std::string {
        auto& v = c.*m;
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          if (value == "true") {
            v = true;
          } else if (value == "false") {
            v = false;
          } else {
            return fail("expected true or false, got '" + std::string(value) + "'");
          }
        } else if constexpr (std::is_same_v<T, std::string>) {
          if (!k->choices.empty() &&
              std::find(k->choices.begin(), k->choices.end(), value) == k->choices.end()) {
            std::string allowed;
            for (auto ch : k->choices) allowed += (allowed.empty() ? "" : ", ") + std::string(ch);
            return fail("'" + std::string(value) + "' is not one of: " + allowed);
          }
          v = std::string(value);
        } else {
          int64_t n = 0;
          auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
          if (ec == std::errc::result_out_of_range) {
            return fail(std::string(value) + " is out of range [" + std::to_string(k->range.min) +
                        ", " + std::to_string(k->range.max) + "]");
          }
          if (ec != std::errc() || ptr != value.data() + value.size() || value.empty()) {
            return fail("expected an integer, got '" + std::string(value) + "'");
          }
          if (n < k->range.min || n > k->range.max) {
            return fail(std::to_string(n) + " is out of range [" + std::to_string(k->range.min) +
                        ", " + std::to_string(k->range.max) + "]");
          }
          v = static_cast<T>(n);
        }
        return {};
      },
      k->field);
}

const std::vector<setting_info>& config_settings() {
  static const std::vector<setting_info> infos = [] {
    std::vector<setting_info> v;
    for (const auto& k : table()) v.push_back({k.name, k.type, k.doc, k.choices});
    return v;
  }();
  return infos;
}

const setting_info* find_config_setting(std::string_view name) {
  for (const auto& s : config_settings()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string config_setting_value(const config& c, std::string_view key) {
  const key_def* k = find_key(key);
  return k == nullptr ? std::string() : render(c, *k);
}

std::string config_setting_default(std::string_view key) {
  static const config defaults;
  return config_setting_value(defaults, key);
}

}  // namespace sluice
