// partition.metadata: Kafka's topic id text, written once, checked on every later open.
#include "src/broker/partition_metadata.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace sluice::broker {
namespace {

wire::uuid counting() {
  wire::uuid id{};
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(i);
  return id;
}

TEST(PartitionMetadata, KafkaUuidString) {
  EXPECT_EQ(kafka_uuid_string(wire::uuid{}), "AAAAAAAAAAAAAAAAAAAAAA");
  EXPECT_EQ(kafka_uuid_string(counting()), "AAECAwQFBgcICQoLDA0ODw");
  wire::uuid url_safe{};
  url_safe.fill(0xfe);
  url_safe[0] = 0xfb;
  url_safe[1] = 0xff;
  EXPECT_EQ(kafka_uuid_string(url_safe), "-__-_v7-_v7-_v7-_v7-_g");
}

class PartitionMetadataFile : public ::testing::Test {
 protected:
  void SetUp() override {
    _dir = std::filesystem::temp_directory_path() /
           ("pm-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(_dir);
  }
  void TearDown() override { std::filesystem::remove_all(_dir); }
  std::string read() {
    std::ifstream in(_dir / "partition.metadata");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  storage::posix_file_system _fs;
  std::filesystem::path _dir;
};

TEST_F(PartitionMetadataFile, WrittenOnceThenChecked) {
  ASSERT_FALSE(ensure_partition_metadata(_fs, _dir, counting()));
  EXPECT_EQ(read(), "version: 0\ntopic_id: AAECAwQFBgcICQoLDA0ODw\n");
  EXPECT_FALSE(std::filesystem::exists(_dir / "partition.metadata.tmp"));
  EXPECT_FALSE(ensure_partition_metadata(_fs, _dir, counting()));  // same id: fine
  EXPECT_EQ(ensure_partition_metadata(_fs, _dir, wire::uuid{}), errc::invalid_data);
  EXPECT_EQ(read(), "version: 0\ntopic_id: AAECAwQFBgcICQoLDA0ODw\n");  // left alone
}

TEST_F(PartitionMetadataFile, LeftoverTempFileIsReplaced) {
  std::ofstream(_dir / "partition.metadata.tmp") << "version: 0\ntopic_id: something-much-longer\n";
  ASSERT_FALSE(ensure_partition_metadata(_fs, _dir, counting()));
  EXPECT_EQ(read(), "version: 0\ntopic_id: AAECAwQFBgcICQoLDA0ODw\n");
}

TEST_F(PartitionMetadataFile, DamagedFileIsRefused) {
  std::ofstream(_dir / "partition.metadata") << "garbage";
  EXPECT_EQ(ensure_partition_metadata(_fs, _dir, counting()), errc::invalid_data);
}

}  // namespace
}  // namespace sluice::broker
