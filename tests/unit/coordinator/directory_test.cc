// The group directory over a real group manager (shards, metadata store): a classic consumer
// group's members with their decoded assignments, a KIP-848 group's members, committed offsets,
// and list()/describe() asked from a thread that is not a shard.

#include "src/coordinator/group/directory.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>

#include "kafka/consumer_protocol.h"

namespace sluice::coordinator {
namespace {

using kafka::error;
using assignment = std::vector<std::pair<std::string, std::vector<int32_t>>>;

struct temp_dir {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("sluice-dir-" + std::to_string(::getpid()) + "-" +
                                ::testing::UnitTest::GetInstance()->current_test_info()->name());
  temp_dir() { std::filesystem::remove_all(path); }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

bytes encode_assignment(int16_t version, const assignment& a) {
  kafka::consumer_protocol_assignment m;
  for (const auto& [t, ps] : a) m.assigned_partitions.push_back({t, ps, {}});
  bytes out;
  wire::writer w(out);
  w.write_int16(version);
  m.encode(w, std::min(version, kafka::consumer_protocol_assignment::max_version));
  return out;
}

class directory_run {
 public:
  directory_run() : _store(meta::store::open(dir()).value()), _shards(2) {
    _cfg.data_dir = _dir.path.string();
    _cfg.group_initial_rebalance_delay_ms = 0;
    _gm = std::make_unique<group_manager>(_cfg, _shards, *_store);
    EXPECT_FALSE(_gm->load());
    _shards.start();
    _gm->start();
    auto view = std::make_shared<topic_view>();
    view->add("orders", kOrders, 3);
    _view = view;
    _dir_adapter = std::make_unique<group_directory_adapter>(*_gm, [this] { return _view; });
  }
  ~directory_run() {
    _shards.stop();
    _shards.join();
    _gm->stop();
  }
  template <class T, class Op>
  T call(const std::string& group, Op op) {
    std::promise<T> p;
    _gm->call<T>(0, group, std::move(op), [&p](T v) { p.set_value(std::move(v)); });
    return p.get_future().get();
  }
  group_directory& directory() { return *_dir_adapter; }
  const topic_view& view() const { return *_view; }

  static constexpr topic_id kOrders{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}};

 private:
  std::string dir() {
    std::filesystem::create_directories(_dir.path);
    return _dir.path.string();
  }
  temp_dir _dir;
  config _cfg;
  std::unique_ptr<meta::store> _store;
  net::shard_pool _shards;
  std::unique_ptr<group_manager> _gm;
  std::shared_ptr<const topic_view> _view;
  std::unique_ptr<group_directory_adapter> _dir_adapter;
};

TEST(consumer_assignment, decodes_every_version_and_refuses_garbage) {
  const assignment a{{"orders", {0, 2}}, {"refunds", {1}}};
  for (int16_t v : {0, 1, 3, 7}) {  // 7: newer than we know, read as the newest
    auto got = decode_consumer_assignment(encode_assignment(v, a));
    ASSERT_TRUE(got) << v;
    EXPECT_EQ(*got, a) << v;
  }
  EXPECT_EQ(decode_consumer_assignment({}), assignment{});
  EXPECT_FALSE(decode_consumer_assignment({0, 0, 0}));                 // truncated array length
  EXPECT_FALSE(decode_consumer_assignment({0xff, 0xff, 0, 0, 0, 0}));  // negative version
  EXPECT_FALSE(decode_consumer_assignment({0, 0, 0, 0, 0, 5, 0, 1}));  // 5 topics, 1 byte
}

TEST(group_directory, classic_kip848_and_offsets) {
  directory_run r;
  EXPECT_TRUE(r.directory().list().empty());
  EXPECT_FALSE(r.directory().describe("shop"));

  // A classic consumer group: one member joins, syncs its own assignment, commits.
  join_request jr;
  jr.client_id = "cli-1";
  jr.client_host = "/10.0.0.1";
  jr.rebalance_timeout_ms = 30000;
  jr.session_timeout_ms = 30000;
  jr.protocol_type = "consumer";
  jr.protocols = {{"range", {0, 0, 0, 0, 0, 0}}};
  auto joined = r.call<join_result>(
      "shop", [jr](shard_groups& sg, join_callback done) { sg.join("shop", jr, std::move(done)); });
  ASSERT_EQ(joined.error, error::none);
  sync_request sr;
  sr.member_id = joined.member_id;
  sr.generation = joined.generation;
  sr.assignments = {{joined.member_id, encode_assignment(1, {{"orders", {0, 1, 2}}})}};
  auto synced = r.call<sync_result>(
      "shop", [sr](shard_groups& sg, sync_callback done) { sg.sync("shop", sr, std::move(done)); });
  ASSERT_EQ(synced.error, error::none);
  offset_commit_request cr;
  cr.member_id = joined.member_id;
  cr.generation = joined.generation;
  cr.api_version = 8;
  cr.offsets = {{"orders", 0, {5, -1, "", 0}}, {"orders", 2, {7, -1, "", 0}}};
  auto errs = r.call<std::vector<error>>("shop", [cr](shard_groups& sg, commit_callback done) {
    sg.commit("shop", cr, std::move(done));
  });
  ASSERT_EQ(errs, (std::vector<error>{error::none, error::none}));

  auto shop = r.directory().describe("shop");
  ASSERT_TRUE(shop);
  EXPECT_EQ(shop->state, "Stable");
  EXPECT_EQ(shop->protocol_type, "consumer");
  EXPECT_EQ(shop->protocol, "range");
  ASSERT_EQ(shop->members.size(), 1u);
  EXPECT_EQ(shop->members[0].member_id, joined.member_id);
  EXPECT_EQ(shop->members[0].client_id, "cli-1");
  EXPECT_EQ(shop->members[0].client_host, "/10.0.0.1");
  EXPECT_EQ(shop->members[0].assignments, (assignment{{"orders", {0, 1, 2}}}));
  ASSERT_EQ(shop->offsets.size(), 2u);
  EXPECT_EQ(shop->offsets[0].partition, 0);
  EXPECT_EQ(shop->offsets[0].committed_offset, 5);
  EXPECT_EQ(shop->offsets[1].partition, 2);
  EXPECT_EQ(shop->offsets[1].committed_offset, 7);

  // A KIP-848 group: its first heartbeat gets every partition of the one topic.
  heartbeat_request hb;
  hb.member_id = "m-848";
  hb.member_epoch = 0;
  hb.rebalance_timeout_ms = 30000;
  hb.subscribed_topic_names = std::vector<std::string>{"orders"};
  hb.owned = topic_assignment{};
  hb.client_id = "cli-2";
  hb.client_host = "/10.0.0.2";
  const topic_view& view = r.view();
  auto beat = r.call<heartbeat_result>("new-style", [hb, &view](shard_groups& sg, auto done) {
    done(sg.consumer_heartbeat("new-style", hb, view));
  });
  ASSERT_EQ(beat.error, error::none);
  auto ns = r.directory().describe("new-style");
  ASSERT_TRUE(ns);
  EXPECT_EQ(ns->protocol_type, "consumer");
  EXPECT_EQ(ns->protocol, "uniform");
  EXPECT_EQ(ns->state, "Stable");
  ASSERT_EQ(ns->members.size(), 1u);
  EXPECT_EQ(ns->members[0].member_id, "m-848");
  EXPECT_EQ(ns->members[0].client_id, "cli-2");
  EXPECT_EQ(ns->members[0].assignments, (assignment{{"orders", {0, 1, 2}}}));
  EXPECT_TRUE(ns->offsets.empty());

  // list(): both groups, sorted by id, with their offsets.
  auto all = r.directory().list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].group_id, "new-style");
  EXPECT_EQ(all[1].group_id, "shop");
  EXPECT_EQ(all[1].offsets.size(), 2u);
  EXPECT_EQ(all[1].members.size(), 1u);
  EXPECT_FALSE(r.directory().describe("nobody"));
}

}  // namespace
}  // namespace sluice::coordinator
