#include "src/meta/topic_config.h"

#include <gtest/gtest.h>

#include <set>

namespace sluice::meta {
namespace {

struct cases {
  std::vector<std::string> valid;
  std::vector<std::string> invalid;
};

// Every key Sluice knows, with values Kafka accepts and values it rejects.
const std::map<std::string, cases>& all_cases() {
  static const std::map<std::string, cases> c = {
      {"cleanup.policy",
       {{"delete", "compact", "compact,delete", "delete,compact", " compact , delete "},
        {"", "Delete", "compact,", "remove", "compact;delete"}}},
      {"compression.type",
       {{"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}, {"none", "ZSTD", ""}}},
      {"delete.retention.ms", {{"0", "86400000"}, {"-1", "abc"}}},
      {"file.delete.delay.ms", {{"0", "60000"}, {"-1", "1.5"}}},
      {"flush.messages", {{"1", "9223372036854775807"}, {"0", "9223372036854775808"}}},
      {"flush.ms", {{"0", "1000"}, {"-1", ""}}},
      {"index.interval.bytes", {{"0", "4096", "2147483647"}, {"-1", "2147483648"}}},
      {"max.compaction.lag.ms", {{"1", "9223372036854775807"}, {"0", "x"}}},
      {"max.message.bytes", {{"0", "1048588"}, {"-1", "1e6"}}},
      {"message.downconversion.enable", {{"true", "false", "TRUE", " False "}, {"yes", "1"}}},
      {"message.timestamp.type", {{"CreateTime", "LogAppendTime"}, {"createtime", "Now"}}},
      {"message.timestamp.difference.max.ms", {{"0", "3600000"}, {"-5", "soon"}}},
      {"min.cleanable.dirty.ratio", {{"0", "0.5", "1", "1.0"}, {"1.5", "-0.1", "nan", "half"}}},
      {"min.compaction.lag.ms", {{"0", "100"}, {"-1", "y"}}},
      {"min.insync.replicas", {{"1", "2"}, {"0", "-1"}}},
      {"preallocate", {{"true", "false"}, {"on"}}},
      {"retention.bytes", {{"-1", "0", "1073741824", "-100"}, {"1GB", ""}}},
      {"retention.ms", {{"-1", "0", "604800000"}, {"-2", "forever"}}},
      {"segment.bytes", {{"14", "1073741824", "2147483647"}, {"13", "2147483648"}}},
      {"segment.index.bytes", {{"4", "10485760"}, {"3", "z"}}},
      {"segment.jitter.ms", {{"0", "100"}, {"-1"}}},
      {"segment.ms", {{"1", "604800000"}, {"0", "-1"}}},
      {"unclean.leader.election.enable", {{"false", "true"}, {"no"}}},
  };
  return c;
}

TEST(TopicConfig, EveryKeyIsTestedAndEveryTestedKeyExists) {
  std::set<std::string> table;
  for (const auto& k : topic_config_keys()) table.insert(std::string(k.name));
  std::set<std::string> tested;
  for (const auto& [name, _] : all_cases()) tested.insert(name);
  EXPECT_EQ(table, tested);
}

TEST(TopicConfig, ValidAndInvalidValuesOfEveryKey) {
  for (const auto& [name, c] : all_cases()) {
    for (const auto& v : c.valid) {
      EXPECT_EQ(validate_topic_config(name, v), "") << name << "=" << v;
    }
    for (const auto& v : c.invalid) {
      auto err = validate_topic_config(name, v);
      EXPECT_NE(err, "") << name << "=" << v;
      EXPECT_EQ(err.rfind(name + ": ", 0), 0u) << err;  // one line naming the key
      EXPECT_EQ(err.find('\n'), std::string::npos) << err;
    }
  }
}

TEST(TopicConfig, DefaultsAreValidAndMatchKafka) {
  for (const auto& k : topic_config_keys()) {
    EXPECT_EQ(validate_topic_config(k.name, k.default_value), "") << k.name;
    EXPECT_FALSE(k.doc.empty()) << k.name;
  }
  EXPECT_EQ(find_topic_config("retention.ms")->default_value, "604800000");
  EXPECT_EQ(find_topic_config("segment.bytes")->default_value, "1073741824");
  EXPECT_EQ(find_topic_config("max.message.bytes")->default_value, "1048588");
  EXPECT_EQ(find_topic_config("cleanup.policy")->default_value, "delete");
  EXPECT_EQ(find_topic_config("compression.type")->default_value, "producer");
  EXPECT_EQ(find_topic_config("retention.ms")->broker_key, "log.retention.ms");
  EXPECT_EQ(find_topic_config("nope"), nullptr);
}

TEST(TopicConfig, UnknownKeyMessage) {
  EXPECT_EQ(validate_topic_config("retention.mss", "1"), "unknown topic config 'retention.mss'");
  EXPECT_EQ(validate_topic_configs({{"bogus", "1"}}), "unknown topic config 'bogus'");
}

TEST(TopicConfig, ValidateAllChecksCompactionLags) {
  EXPECT_EQ(validate_topic_configs({{"retention.ms", "1"}, {"cleanup.policy", "compact"}}), "");
  EXPECT_NE(
      validate_topic_configs({{"min.compaction.lag.ms", "10"}, {"max.compaction.lag.ms", "5"}}),
      "");
  EXPECT_EQ(
      validate_topic_configs({{"min.compaction.lag.ms", "5"}, {"max.compaction.lag.ms", "10"}}),
      "");
  EXPECT_EQ(validate_topic_configs({{"segment.bytes", "1"}}).rfind("segment.bytes: ", 0), 0u);
}

TEST(TopicConfig, ResolutionSources) {
  config broker;
  config_map overrides = {{"retention.ms", "1000"}, {"cleanup.policy", " compact , delete "}};

  auto r = resolve_topic_config("retention.ms", overrides, broker).value();
  EXPECT_EQ(r.value, "1000");
  EXPECT_EQ(r.source, config_source::topic_override);
  EXPECT_EQ(r.broker_key, "log.retention.ms");

  r = resolve_topic_config("cleanup.policy", overrides, broker).value();
  EXPECT_EQ(r.value, "compact,delete");
  EXPECT_EQ(r.source, config_source::topic_override);

  // Broker left at its default: DEFAULT_CONFIG with the default value.
  r = resolve_topic_config("segment.bytes", overrides, broker).value();
  EXPECT_EQ(r.value, "1073741824");
  EXPECT_EQ(r.source, config_source::default_config);

  // Broker synonym set: its value, as STATIC_BROKER_CONFIG.
  broker.log_segment_bytes = 1048576;
  r = resolve_topic_config("segment.bytes", overrides, broker).value();
  EXPECT_EQ(r.value, "1048576");
  EXPECT_EQ(r.source, config_source::broker_config);
  EXPECT_EQ(r.broker_key, "log.segment.bytes");

  // No synonym in sluice::config: Kafka's default.
  r = resolve_topic_config("min.insync.replicas", overrides, broker).value();
  EXPECT_EQ(r.value, "1");
  EXPECT_EQ(r.source, config_source::default_config);

  EXPECT_EQ(resolve_topic_config("nope", overrides, broker).error(), errc::not_found);
  EXPECT_EQ(resolve_topic_config("retention.ms", {{"retention.ms", "-7"}}, broker).error(),
            errc::invalid_config);
}

TEST(TopicConfig, TypedSettingsFromOverridesAndBroker) {
  config broker;
  broker.log_retention_ms = 5000;
  broker.log_message_timestamp_type = "LogAppendTime";
  broker.message_max_bytes = 2000000;

  auto s = resolve_topic_settings({}, broker).value();
  EXPECT_EQ(s.retention_ms, 5000);
  EXPECT_TRUE(s.log_append_time);
  EXPECT_EQ(s.max_message_bytes, 2000000);
  EXPECT_TRUE(s.cleanup_delete);
  EXPECT_FALSE(s.cleanup_compact);
  EXPECT_EQ(s.compression, topic_compression::producer);
  EXPECT_EQ(s.segment_bytes, 1073741824);
  EXPECT_EQ(s.flush_messages, INT64_MAX);
  EXPECT_DOUBLE_EQ(s.min_cleanable_dirty_ratio, 0.5);

  s = resolve_topic_settings({{"retention.ms", "-1"},
                              {"cleanup.policy", "delete,compact"},
                              {"compression.type", "zstd"},
                              {"message.timestamp.type", "CreateTime"},
                              {"min.cleanable.dirty.ratio", "0.25"},
                              {"min.insync.replicas", "2"},
                              {"unclean.leader.election.enable", "TRUE"},
                              {"segment.bytes", "1024"}},
                             broker)
          .value();
  EXPECT_EQ(s.retention_ms, -1);
  EXPECT_TRUE(s.cleanup_delete);
  EXPECT_TRUE(s.cleanup_compact);
  EXPECT_EQ(s.compression, topic_compression::zstd);
  EXPECT_FALSE(s.log_append_time);
  EXPECT_DOUBLE_EQ(s.min_cleanable_dirty_ratio, 0.25);
  EXPECT_EQ(s.min_insync_replicas, 2);
  EXPECT_TRUE(s.unclean_leader_election_enable);
  EXPECT_EQ(s.segment_bytes, 1024);

  EXPECT_EQ(resolve_topic_settings({{"bogus", "1"}}, broker).error(), errc::invalid_config);
  EXPECT_EQ(resolve_topic_settings({{"segment.bytes", "1"}}, broker).error(), errc::invalid_config);
}

TEST(TopicConfig, DefaultSettingsMatchTableDefaults) {
  // With a default broker config the typed struct equals its own member defaults.
  auto s = resolve_topic_settings({}, config{}).value();
  topic_settings d;
  EXPECT_EQ(s.retention_ms, d.retention_ms);
  EXPECT_EQ(s.retention_bytes, d.retention_bytes);
  EXPECT_EQ(s.segment_ms, d.segment_ms);
  EXPECT_EQ(s.segment_index_bytes, d.segment_index_bytes);
  EXPECT_EQ(s.delete_retention_ms, d.delete_retention_ms);
  EXPECT_EQ(s.file_delete_delay_ms, d.file_delete_delay_ms);
  EXPECT_EQ(s.index_interval_bytes, d.index_interval_bytes);
  EXPECT_EQ(s.max_compaction_lag_ms, d.max_compaction_lag_ms);
  EXPECT_EQ(s.message_downconversion_enable, d.message_downconversion_enable);
  EXPECT_EQ(s.preallocate, d.preallocate);
}

}  // namespace
}  // namespace sluice::meta
