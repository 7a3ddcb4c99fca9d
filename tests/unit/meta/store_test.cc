#include "src/meta/store.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <unistd.h>

#include <filesystem>

#include "src/meta/keys.h"

namespace sluice::meta {
namespace {

// A fresh directory per test, removed afterwards.
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    _dir = std::filesystem::temp_directory_path() /
           ("sluice-meta-test-" + std::to_string(::getpid()) + "-" + info->name());
    std::filesystem::remove_all(_dir);
  }
  void TearDown() override { std::filesystem::remove_all(_dir); }

  std::unique_ptr<store> open_store() {
    auto s = store::open(_dir.string());
    EXPECT_TRUE(s) << s.error().message();
    return s ? std::move(s).value() : nullptr;
  }

  std::filesystem::path _dir;
};

topic_info sample(std::string name, int32_t partitions) {
  topic_info t;
  t.name = std::move(name);
  for (size_t i = 0; i < t.id.size(); ++i) t.id[i] = static_cast<uint8_t>(i * 17 + 1);
  t.partition_count = partitions;
  t.configs = {{"retention.ms", "1000"}, {"cleanup.policy", "compact"}};
  t.created_ms = 1700000000123;
  return t;
}

TEST_F(StoreTest, TopicRoundTrip) {
  auto s = open_store();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->path(), (_dir / "meta").string());
  auto t = sample("orders", 3);
  ASSERT_FALSE(s->put_topic(t));
  auto got = s->get_topic("orders");
  ASSERT_TRUE(got);
  EXPECT_EQ(got.value(), t);

  t.partition_count = 6;  // put replaces
  ASSERT_FALSE(s->put_topic(t));
  EXPECT_EQ(s->get_topic("orders").value().partition_count, 6);

  ASSERT_FALSE(s->delete_topic("orders"));
  EXPECT_EQ(s->get_topic("orders").error(), errc::not_found);
  EXPECT_FALSE(s->delete_topic("orders"));  // deleting a missing topic is fine
}

TEST_F(StoreTest, RejectsEmptyTopicName) {
  auto s = open_store();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->put_topic(sample("", 1)), errc::invalid_data);
}

TEST_F(StoreTest, ListTopicsInNameOrder) {
  auto s = open_store();
  ASSERT_TRUE(s);
  for (auto n : {"b", "a", "c.x", "a-1"}) ASSERT_FALSE(s->put_topic(sample(n, 1)));
  auto all = s->list_topics();
  ASSERT_TRUE(all);
  std::vector<std::string> names;
  for (auto& t : all.value()) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "a-1", "b", "c.x"}));
}

TEST_F(StoreTest, CorruptTopicValueIsInvalidData) {
  auto s = open_store();
  ASSERT_TRUE(s);
  write_batch b;
  b.put(cf::topics, topic_key("bad"), std::string("\xff\xff\xff", 3));
  ASSERT_FALSE(s->write(b));
  EXPECT_EQ(s->get_topic("bad").error(), errc::invalid_data);
  EXPECT_EQ(s->list_topics().error(), errc::invalid_data);
}

TEST_F(StoreTest, BrokerConfigOverrides) {
  auto s = open_store();
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->get_broker_config(1).value().empty());
  config_map o = {{"log.retention.ms", "5000"}, {"num.partitions", "3"}};
  ASSERT_FALSE(s->set_broker_config(1, o));
  EXPECT_EQ(s->get_broker_config(1).value(), o);
  EXPECT_TRUE(s->get_broker_config(2).value().empty());
  ASSERT_FALSE(s->set_broker_config(1, {}));
  EXPECT_TRUE(s->get_broker_config(1).value().empty());
}

TEST_F(StoreTest, ReopenKeepsEverything) {
  {
    auto s = open_store();
    ASSERT_TRUE(s);
    ASSERT_FALSE(s->put_topic(sample("orders", 3)));
    ASSERT_FALSE(s->set_broker_config(0, {{"log.retention.ms", "5000"}}));
    write_batch b;
    b.put(cf::users, "alice", "scram");
    b.put(cf::acls, "acl1", "x");
    ASSERT_FALSE(s->write(b));
  }
  auto s = open_store();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->get_topic("orders").value(), sample("orders", 3));
  EXPECT_EQ(s->get_broker_config(0).value().at("log.retention.ms"), "5000");
  EXPECT_EQ(s->get(cf::users, "alice").value(), "scram");
  EXPECT_EQ(s->get(cf::acls, "acl1").value(), "x");
}

TEST_F(StoreTest, ColumnFamiliesPresentAfterReopen) {
  { ASSERT_TRUE(open_store()); }
  auto s = open_store();  // reopening with every family listed would fail if one were missing
  ASSERT_TRUE(s);
  std::vector<std::string> families;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), s->path(), &families).ok());
  for (int i = 0; i < kColumnFamilyCount; ++i) {
    auto name = std::string(cf_name(static_cast<cf>(i)));
    EXPECT_NE(std::find(families.begin(), families.end(), name), families.end()) << name;
  }
  for (auto n :
       {"topics", "broker_config", "group_offsets", "groups", "producers", "acls", "users"}) {
    EXPECT_NE(std::find(families.begin(), families.end(), n), families.end()) << n;
  }
}

TEST_F(StoreTest, WriteBatchIsAtomicAcrossFamilies) {
  auto s = open_store();
  ASSERT_TRUE(s);
  write_batch b;
  b.put(cf::groups, "g", "state");
  b.put(cf::producers, "p", "1");
  b.del(cf::groups, "missing");
  EXPECT_EQ(b.size(), 3u);
  ASSERT_FALSE(s->write(b));
  EXPECT_EQ(s->get(cf::groups, "g").value(), "state");
  EXPECT_EQ(s->get(cf::producers, "p").value(), "1");
  write_batch d;
  d.del(cf::groups, "g");
  ASSERT_FALSE(s->write(d, /*sync=*/false));
  EXPECT_EQ(s->get(cf::groups, "g").error(), errc::not_found);
}

TEST_F(StoreTest, OffsetKeysIterateInNumericPartitionOrder) {
  auto s = open_store();
  ASSERT_TRUE(s);
  write_batch b;
  // Inserted out of order; little-endian keys would put 256 and 65536 before 1.
  for (int32_t p : {65536, 1, 256, 0, 2147483647}) {
    b.put(cf::group_offsets, offset_key("g", "t", p).value(), std::to_string(p));
  }
  b.put(cf::group_offsets, offset_key("g2", "t", 0).value(), "other group");
  b.put(cf::group_offsets, offset_key("f", "t", 9).value(), "other group");
  ASSERT_FALSE(s->write(b));
  std::vector<int32_t> seen;
  ASSERT_FALSE(s->scan(cf::group_offsets, offset_group_prefix("g"),
                       [&](std::string_view key, std::string_view value) {
                         auto parts = decode_offset_key(key);
                         EXPECT_TRUE(parts);
                         EXPECT_EQ(parts.value().group, "g");
                         EXPECT_EQ(std::to_string(parts.value().partition), value);
                         seen.push_back(parts.value().partition);
                         return true;
                       }));
  EXPECT_EQ(seen, (std::vector<int32_t>{0, 1, 256, 65536, 2147483647}));
}

TEST_F(StoreTest, ScanStopsWhenCallbackSaysSo) {
  auto s = open_store();
  ASSERT_TRUE(s);
  for (auto n : {"a", "b", "c"}) ASSERT_FALSE(s->put_topic(sample(n, 1)));
  int calls = 0;
  ASSERT_FALSE(
      s->scan(cf::topics, "", [&](std::string_view, std::string_view) { return ++calls < 2; }));
  EXPECT_EQ(calls, 2);
}

TEST(MetaKeys, OffsetKeyLayout) {
  auto k = offset_key("grp", "tp", 258).value();
  EXPECT_EQ(k, std::string("grp\0tp\0\0\0\x01\x02", 11));
  auto parts = decode_offset_key(k).value();
  EXPECT_EQ(parts.group, "grp");
  EXPECT_EQ(parts.topic, "tp");
  EXPECT_EQ(parts.partition, 258);
  EXPECT_EQ(offset_group_prefix("grp"), std::string("grp\0", 4));
}

TEST(MetaKeys, OffsetKeyRejectsWhatItCannotEncode) {
  EXPECT_EQ(offset_key(std::string("a\0b", 3), "t", 0).error(), errc::invalid_data);
  EXPECT_EQ(offset_key("g", std::string("t\0", 2), 0).error(), errc::invalid_data);
  EXPECT_EQ(offset_key("g", "t", -1).error(), errc::invalid_data);
  EXPECT_EQ(decode_offset_key("short").error(), errc::invalid_data);
  EXPECT_EQ(decode_offset_key(std::string("g\0t\0\0\0\0", 7)).error(), errc::invalid_data);
  EXPECT_EQ(decode_offset_key(std::string("g\0t\0\xff\xff\xff\xff", 8)).error(),
            errc::invalid_data);
}

TEST(MetaKeys, BrokerConfigKeyIsBigEndian) {
  EXPECT_EQ(broker_config_key(0x01020304), std::string("\x01\x02\x03\x04", 4));
  EXPECT_LT(broker_config_key(1), broker_config_key(256));
}

}  // namespace
}  // namespace sluice::meta
