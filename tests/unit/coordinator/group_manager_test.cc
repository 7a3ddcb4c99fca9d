// The group manager with a real metadata store and shards: commits are answered once durable,
// survive a restart (load), and offsets retention expires an Empty group's offsets and the group;
// SyncGroup is answered once the group record is durable; KIP-848 groups survive a restart;
// transactional offsets stay pending (UNSTABLE_OFFSET_COMMIT) until the transaction ends.

#include "src/coordinator/group/group_manager.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>

#include "src/meta/keys.h"

namespace sluice::coordinator {
namespace {

using kafka::error;

class manager_run {
 public:
  explicit manager_run(const config& cfg)
      : _store(meta::store::open(cfg.data_dir).value()), _shards(2), _gm(cfg, _shards, *_store) {
    EXPECT_FALSE(_gm.load());
    _shards.start();
    _gm.start();
  }
  ~manager_run() {
    _shards.stop();
    _shards.join();
    _gm.stop();
  }
  // Runs op on the group's owner shard and waits for its answer (delivered on shard 0).
  template <class T, class Op>
  T call(const std::string& group, Op op) {
    std::promise<T> p;
    _gm.call<T>(0, group, std::move(op), [&p](T v) { p.set_value(std::move(v)); });
    return p.get_future().get();
  }
  meta::store& store() { return *_store; }
  group_manager& gm() { return _gm; }

 private:
  std::unique_ptr<meta::store> _store;
  net::shard_pool _shards;
  group_manager _gm;
};

std::vector<error> commit(manager_run& m, const std::string& group, int64_t offset) {
  offset_commit_request req;
  req.offsets.push_back({"t", 0, {offset, 3, "meta-" + std::to_string(offset), 0}});
  req.offsets.push_back({"t", 1, {offset + 1, -1, "", 0}});
  return m.call<std::vector<error>>(
      group, [group, req](shard_groups& sg, std::function<void(std::vector<error>)> done) {
        sg.commit(group, req, std::move(done));
      });
}

offset_fetch_result fetch_all(manager_run& m, const std::string& group) {
  return m.call<offset_fetch_result>(
      group, [group](shard_groups& sg, std::function<void(offset_fetch_result)> done) {
        done(sg.fetch(group, offset_fetch_request{}));
      });
}

std::vector<error> txn_commit(manager_run& m, const std::string& group, int64_t pid,
                              int64_t offset) {
  offset_commit_request req;
  req.offsets.push_back({"t", 0, {offset, -1, "txn", 0}});
  return m.call<std::vector<error>>(
      group, [group, pid, req](shard_groups& sg, std::function<void(std::vector<error>)> done) {
        sg.txn_commit(group, pid, req, std::move(done));
      });
}

error complete_txn(manager_run& m, const std::string& group, int64_t pid, bool commit) {
  return m.call<error>(group,
                       [group, pid, commit](shard_groups& sg, std::function<void(error)> done) {
                         sg.complete_txn(group, pid, commit, std::move(done));
                       });
}

offset_fetch_result fetch_stable(manager_run& m, const std::string& group) {
  return m.call<offset_fetch_result>(
      group, [group](shard_groups& sg, std::function<void(offset_fetch_result)> done) {
        offset_fetch_request req;
        req.topics = std::vector<std::pair<std::string, std::vector<int32_t>>>{{"t", {0}}};
        req.require_stable = true;
        done(sg.fetch(group, req));
      });
}

struct temp_dir {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("sluice-gm-" + std::to_string(::getpid()) + "-" +
                                ::testing::UnitTest::GetInstance()->current_test_info()->name());
  temp_dir() { std::filesystem::remove_all(path); }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

TEST(group_manager, committed_offsets_survive_a_restart) {
  temp_dir dir;
  config cfg;
  cfg.data_dir = dir.path.string();
  {
    manager_run m(cfg);
    EXPECT_EQ(commit(m, "g1", 10), (std::vector<error>{error::none, error::none}));
    EXPECT_EQ(commit(m, "g1", 20), (std::vector<error>{error::none, error::none}));
    EXPECT_EQ(commit(m, "g2", 5), (std::vector<error>{error::none, error::none}));
  }
  manager_run m(cfg);
  auto r = fetch_all(m, "g1");
  ASSERT_EQ(r.offsets.size(), 2u);
  EXPECT_EQ(r.offsets[0].value.offset, 20);
  EXPECT_EQ(r.offsets[0].value.leader_epoch, 3);
  EXPECT_EQ(r.offsets[0].value.metadata, "meta-20");
  EXPECT_EQ(r.offsets[1].value.offset, 21);
  EXPECT_EQ(fetch_all(m, "g2").offsets.at(0).value.offset, 5);
  EXPECT_TRUE(fetch_all(m, "nope").offsets.empty());
}

TEST(group_manager, retention_expires_offsets_of_empty_groups_and_the_group) {
  temp_dir dir;
  config cfg;
  cfg.data_dir = dir.path.string();
  cfg.offsets_retention_minutes = 1;
  {
    manager_run m(cfg);
    ASSERT_EQ(commit(m, "old", 1), (std::vector<error>{error::none, error::none}));
    // Not yet: less than a minute passed.
    m.call<int>("old", [](shard_groups& sg, std::function<void(int)> done) {
      sg.expire_offsets(wall_now_ms());
      done(0);
    });
    EXPECT_EQ(fetch_all(m, "old").offsets.size(), 2u);
    m.call<int>("old", [](shard_groups& sg, std::function<void(int)> done) {
      sg.expire_offsets(wall_now_ms() + 61 * 1000);
      done(0);
    });
    EXPECT_TRUE(fetch_all(m, "old").offsets.empty());
    auto d = m.call<group_description>(
        "old", [](shard_groups& sg, std::function<void(group_description)> done) {
          done(sg.describe("old"));
        });
    EXPECT_EQ(d.state, "Dead");  // the group went with its last offset
  }
  manager_run m(cfg);  // and stays gone after a restart
  EXPECT_TRUE(fetch_all(m, "old").offsets.empty());
}

TEST(group_manager, member_commit_to_a_missing_group_is_refused) {
  temp_dir dir;
  config cfg;
  cfg.data_dir = dir.path.string();
  manager_run m(cfg);
  for (int16_t version : {8, 9}) {
    offset_commit_request req;
    req.generation = 4;
    req.member_id = "m";
    req.api_version = version;
    req.offsets.push_back({"t", 0, {1, -1, "", 0}});
    auto errs = m.call<std::vector<error>>(
        "g", [req](shard_groups& sg, std::function<void(std::vector<error>)> done) {
          sg.commit("g", req, std::move(done));
        });
    EXPECT_EQ(errs.at(0), version >= 9 ? error::group_id_not_found : error::illegal_generation);
  }
}

TEST(group_manager, sync_is_answered_once_the_group_record_is_durable) {
  temp_dir dir;
  config cfg;
  cfg.data_dir = dir.path.string();
  cfg.group_initial_rebalance_delay_ms = 0;
  manager_run m(cfg);
  join_request jr;
  jr.client_id = "c";
  jr.rebalance_timeout_ms = 10000;
  jr.session_timeout_ms = 10000;
  jr.protocol_type = "consumer";
  jr.protocols = {{"range", {1, 2, 3}}};
  auto joined = m.call<join_result>(
      "g", [jr](shard_groups& sg, join_callback done) { sg.join("g", jr, std::move(done)); });
  ASSERT_EQ(joined.error, error::none);
  ASSERT_EQ(joined.leader, joined.member_id);
  sync_request sr;
  sr.member_id = joined.member_id;
  sr.generation = joined.generation;
  sr.assignments = {{joined.member_id, {7, 7}}};
  // Read the store the moment the answer arrives: the record must already be there.
  std::promise<std::pair<sync_result, result<std::string>>> answer;
  std::string key = meta::group_key("g");
  m.gm().call<sync_result>(
      0, "g", [sr](shard_groups& sg, sync_callback done) { sg.sync("g", sr, std::move(done)); },
      std::function<void(sync_result)>([&](sync_result r) {
        answer.set_value({std::move(r), m.store().get(meta::cf::groups, key)});
      }));
  auto [synced, record] = answer.get_future().get();
  ASSERT_EQ(synced.error, error::none);
  EXPECT_EQ(synced.assignment, (bytes{7, 7}));
  ASSERT_TRUE(record.has_value());
  EXPECT_FALSE(record.value().empty());
}

TEST(group_manager, consumer_group_members_keep_their_epochs_across_a_restart) {
  temp_dir dir;
  config cfg;
  cfg.data_dir = dir.path.string();
  topic_view topics;
  topic_id t{};
  t[0] = 9;
  topics.add("orders", t, 4);
  topics.version = 1;
  auto heartbeat = [&](manager_run& m, heartbeat_request req) {
    return m.call<heartbeat_result>(
        "cg", [req, &topics](shard_groups& sg, std::function<void(heartbeat_result)> done) {
          done(sg.consumer_heartbeat("cg", req, topics));
        });
  };
  heartbeat_request join;
  join.member_id = "m1";
  join.member_epoch = 0;
  join.rebalance_timeout_ms = 30000;
  join.subscribed_topic_names = std::vector<std::string>{"orders"};
  join.owned = topic_assignment{};
  heartbeat_result first;
  {
    manager_run m(cfg);
    first = heartbeat(m, join);
    ASSERT_EQ(first.error, error::none);
    ASSERT_EQ(first.member_epoch, 1);
    ASSERT_TRUE(first.assignment);
    EXPECT_EQ(first.assignment->at(t).size(), 4u);
  }
  manager_run m(cfg);
  heartbeat_request beat;
  beat.member_id = "m1";
  beat.member_epoch = 1;
  beat.owned = first.assignment;
  auto again = heartbeat(m, beat);
  EXPECT_EQ(again.error, error::none);
  EXPECT_EQ(again.member_epoch, 1);  // same epoch: no rebalance
  EXPECT_FALSE(again.assignment);    // unchanged, so not resent
  auto group = m.call<int32_t>("cg", [](shard_groups& sg, std::function<void(int32_t)> done) {
    const consumer_group* g = sg.find_consumer_group("cg");
    done(g ? g->group_epoch() : -1);
  });
  EXPECT_EQ(group, 1);
  // A second member after the restart: the group moves on from epoch 1.
  join.member_id = "m2";
  EXPECT_EQ(heartbeat(m, join).member_epoch, 2);
}

TEST(group_manager, transactional_offsets_are_pending_until_the_transaction_ends) {
  temp_dir dir;
  config cfg;
  cfg.data_dir = dir.path.string();
  {
    manager_run m(cfg);
    ASSERT_EQ(commit(m, "tx", 5), (std::vector<error>{error::none, error::none}));
    ASSERT_EQ(txn_commit(m, "tx", 42, 9), std::vector<error>{error::none});
    // Invisible to a plain OffsetFetch, UNSTABLE_OFFSET_COMMIT with require_stable.
    EXPECT_EQ(fetch_all(m, "tx").offsets.at(0).value.offset, 5);
    auto r = fetch_stable(m, "tx");
    ASSERT_EQ(r.offsets.size(), 1u);
    EXPECT_EQ(r.offsets[0].error, error::unstable_offset_commit);
  }
  manager_run m(cfg);  // the pending offset is durable: a restart keeps it pending
  EXPECT_EQ(fetch_stable(m, "tx").offsets.at(0).error, error::unstable_offset_commit);
  ASSERT_EQ(complete_txn(m, "tx", 42, true), error::none);
  auto r = fetch_stable(m, "tx");
  EXPECT_EQ(r.offsets.at(0).error, error::none);
  EXPECT_EQ(r.offsets.at(0).value.offset, 9);
  EXPECT_EQ(r.offsets.at(0).value.metadata, "txn");
  // An aborted transaction's offset never shows.
  ASSERT_EQ(txn_commit(m, "tx", 43, 30), std::vector<error>{error::none});
  ASSERT_EQ(complete_txn(m, "tx", 43, false), error::none);
  r = fetch_stable(m, "tx");
  EXPECT_EQ(r.offsets.at(0).error, error::none);
  EXPECT_EQ(r.offsets.at(0).value.offset, 9);
}

}  // namespace
}  // namespace sluice::coordinator
