// The group manager with a real metadata store and shards: commits are answered once durable,
// survive a restart (load), and offsets retention expires an Empty group's offsets and the group.

#include "src/coordinator/group/group_manager.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>

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

}  // namespace
}  // namespace sluice::coordinator
