#include "src/app/config_loader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace sluice::app {
namespace {

std::string write_temp(const std::string& body) {
  auto path = std::filesystem::temp_directory_path() /
              ("sluice-config-test-" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(path) << body;
  return path.string();
}

TEST(ConfigLoader, DefaultsMatchKafka) {
  config c;
  EXPECT_EQ(c.num_partitions, 1);
  EXPECT_TRUE(c.auto_create_topics_enable);
  EXPECT_EQ(c.log_retention_ms, 604800000);
  EXPECT_EQ(c.log_segment_bytes, 1073741824);
  EXPECT_EQ(c.group_min_session_timeout_ms, 6000);
  EXPECT_EQ(c.listen.port, 9092);
}

TEST(ConfigLoader, AppliesTypedValues) {
  config c;
  EXPECT_EQ(apply_setting(c, "num.partitions", "12"), "");
  EXPECT_EQ(apply_setting(c, "auto.create.topics.enable", "false"), "");
  EXPECT_EQ(apply_setting(c, "log.retention.ms", "-1"), "");
  EXPECT_EQ(apply_setting(c, "listeners", "PLAINTEXT://0.0.0.0:19092"), "");
  EXPECT_EQ(c.num_partitions, 12);
  EXPECT_FALSE(c.auto_create_topics_enable);
  EXPECT_EQ(c.log_retention_ms, -1);
  EXPECT_EQ(c.listen.host, "0.0.0.0");
  EXPECT_EQ(c.listen.port, 19092);
}

TEST(ConfigLoader, ErrorsNameTheKeyAndTheProblem) {
  config c;
  EXPECT_EQ(apply_setting(c, "num.partitons", "3"), "unknown key 'num.partitons'");
  EXPECT_EQ(apply_setting(c, "num.partitions", "three"),
            "num.partitions: expected an integer, got 'three'");
  EXPECT_EQ(apply_setting(c, "num.partitions", "0"),
            "num.partitions: 0 is out of range [1, 1000000]");
  EXPECT_EQ(apply_setting(c, "num.partitions", "99999999999999999999"),
            "num.partitions: 99999999999999999999 is out of range [1, 1000000]");
  EXPECT_EQ(apply_setting(c, "auto.create.topics.enable", "yes"),
            "auto.create.topics.enable: expected true or false, got 'yes'");
  EXPECT_EQ(apply_setting(c, "log.level", "loud"),
            "log.level: 'loud' is not one of: trace, debug, info, warn, error, critical, off");
  EXPECT_EQ(apply_setting(c, "listeners", "PLAINTEXT://localhost:70000"),
            "listeners: port must be a number in [0, 65535], got '70000'");
  EXPECT_EQ(c.num_partitions, 1) << "a rejected value must not be applied";
}

TEST(ConfigLoader, YamlFileWithLineNumbers) {
  auto path = write_temp("# comment\nnum.partitions: 4\nlog.retention.ms: soon\n");
  config c;
  EXPECT_EQ(apply_yaml_file(c, path),
            path + ":3: log.retention.ms: expected an integer, got 'soon'");
  EXPECT_EQ(c.num_partitions, 4);
  path = write_temp("num.partitions: [1, 2]\n");
  EXPECT_EQ(apply_yaml_file(c, path), path + ":1: num.partitions: expected a single value");
  path = write_temp("num.partitions: 1\n  bad: indent: here\n");
  EXPECT_NE(apply_yaml_file(c, path).find("invalid YAML"), std::string::npos);
  EXPECT_EQ(apply_yaml_file(c, "/nonexistent/sluice.yaml"),
            "cannot read config file '/nonexistent/sluice.yaml'");
}

TEST(ConfigLoader, CrossKeyValidation) {
  config c;
  ASSERT_EQ(apply_setting(c, "group.min.session.timeout.ms", "60000"), "");
  ASSERT_EQ(apply_setting(c, "group.max.session.timeout.ms", "1000"), "");
  EXPECT_EQ(validate(c),
            "group.min.session.timeout.ms (60000) is greater than group.max.session.timeout.ms "
            "(1000)");
}

// config/sluice.yaml must document every key with its default: its body is exactly what
// `sluiced --print-defaults` prints, and it loads cleanly.
TEST(ConfigLoader, ShippedConfigDocumentsEveryKey) {
  std::string path = std::string(SLUICE_SOURCE_DIR) + "/config/sluice.yaml";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::stringstream body;
  body << in.rdbuf();
  EXPECT_NE(body.str().find(describe_defaults()), std::string::npos)
      << "config/sluice.yaml is stale: regenerate its body with `sluiced --print-defaults`";
  for (const auto& k : key_names()) {
    EXPECT_NE(body.str().find("# " + k + ": "), std::string::npos) << k;
  }
  config c;
  EXPECT_EQ(apply_yaml_file(c, path), "");
}

}  // namespace
}  // namespace sluice::app
