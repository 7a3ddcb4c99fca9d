// fan_out (src/broker/fan_out.h) with a real broker on two shards: the completion runs once,
// only after seal() and the last answer, with every answer in its own slot; unknown partitions
// and a deleted topic's stale entry are UNKNOWN_TOPIC_OR_PARTITION; partition work runs on the
// owner shard and the completion on the home shard.

#include "src/broker/fan_out.h"

#include <gtest/gtest.h>

#include <future>

#include "src/meta/store.h"
#include "tests/unit/storage/storage_test_util.h"

namespace sluice::broker {
namespace {

constexpr unsigned kHome = 0;

class FanOut : public ::testing::Test {
 protected:
  void SetUp() override {
    _cfg.data_dir = _dir.path();
    _store = meta::store::open(_cfg.data_dir).value();
    _topics = std::make_unique<topic_manager>(_cfg, *_store);
    ASSERT_FALSE(_topics->load());
    _broker = std::make_unique<broker>(_cfg, _shards, *_topics, "cluster");
    _shards.start();
    topic_spec spec;
    spec.name = "t";
    spec.partitions = 3;
    std::promise<std::vector<topic_outcome>> created;
    _topics->create({spec}, [&](std::vector<topic_outcome> o) { created.set_value(std::move(o)); });
    auto outcomes = created.get_future().get();
    ASSERT_EQ(outcomes.size(), 1u);
    ASSERT_EQ(outcomes[0].error, kafka::error::none);
  }
  void TearDown() override {
    _shards.stop();
    _shards.join();
    _broker->close_partitions();
    _topics->stop();
  }

  // Runs fn on the home shard and waits for it.
  template <class Fn>
  void on_home(Fn fn) {
    ASSERT_TRUE(net::wait_on_shard<bool>(*_broker, kHome, std::chrono::seconds(60), [&] {
      fn();
      return true;
    }));
  }
  bool on_shard(unsigned shard) {
    return _broker->shard_context(shard).get_executor().running_in_this_thread();
  }

  storage::testing::temp_dir _dir;
  config _cfg;
  std::unique_ptr<meta::store> _store;
  std::unique_ptr<topic_manager> _topics;
  net::shard_pool _shards{2};
  std::unique_ptr<broker> _broker;
};

TEST_F(FanOut, CompletesOnceAfterSealAndTheLastAnswer) {
  int calls = 0;
  std::vector<int> got;
  auto g = fan_out<std::vector<int>>::start(*_broker, kHome, [&](std::vector<int> v) {
    ++calls;
    got = std::move(v);
  });
  g->value.resize(3);
  auto a0 = g->answer([](std::vector<int>& v, int x) { v[0] = x; });
  auto a1 = g->answer([](std::vector<int>& v, int x) { v[1] = x; });
  auto a2 = g->answer([](std::vector<int>& v, int x) { v[2] = x; });
  a2(30);
  a0(10);
  EXPECT_EQ(calls, 0);
  g->seal();  // answers are still outstanding
  EXPECT_EQ(calls, 0);
  a1(20);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(got, (std::vector<int>{10, 20, 30}));

  // Everything answered inline, before seal(): still exactly one completion, at seal().
  calls = 0;
  auto h = fan_out<std::vector<int>>::start(*_broker, kHome, [&](std::vector<int>) { ++calls; });
  h->answer()();
  EXPECT_EQ(calls, 0);
  h->seal();
  EXPECT_EQ(calls, 1);
}

struct slot {
  int32_t index = -1;
  int16_t error_code = 0;
  int64_t value = -1;
  bool on_owner = false;
};

TEST_F(FanOut, PartitionsAnswerIntoTheirSlotsOnTheOwnerShard) {
  auto topics = _topics->snapshot();
  auto t = topics->at("t");
  // Partition 1 of this entry is dropped on its owner (as DeleteTopics does): the entry is
  // stale there, so the lookup fails with not_found.
  const unsigned owner1 = owner_shard("t", 1, _broker->shard_count());
  ASSERT_TRUE(net::wait_on_shard<bool>(*_broker, owner1, std::chrono::seconds(60), [&] {
    _broker->partitions(owner1).drop(*t, 1);
    return true;
  }));

  const std::vector<std::pair<std::string, int32_t>> asked = {{"t", 2},  {"t", 5},    {"t", 0},
                                                              {"t", -1}, {"nope", 0}, {"t", 1}};
  std::promise<std::vector<slot>> done;
  bool home_thread = false;
  int calls = 0;
  on_home([&] {
    auto g = fan_out<std::vector<slot>>::start(*_broker, kHome, [&](std::vector<slot> v) {
      home_thread = on_shard(kHome);
      if (++calls == 1) done.set_value(std::move(v));
    });
    g->value.resize(asked.size());
    for (size_t i = 0; i < asked.size(); ++i) {
      const auto& [name, index] = asked[i];
      g->value[i].index = index;
      g->on_partition(find_partition(*topics, name, index), index, g->value[i],
                      [this](partition& p, slot& out) {
                        out.value = 100 + p.index();
                        out.on_owner = on_shard(owner_shard("t", p.index(), 2));
                      });
    }
    g->seal();
  });
  auto got = done.get_future().get();
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(home_thread);
  ASSERT_EQ(got.size(), asked.size());
  const auto unknown = kafka::code(kafka::error::unknown_topic_or_partition);
  const std::vector<int16_t> errors = {0, unknown, 0, unknown, unknown, unknown};
  const std::vector<int64_t> values = {102, -1, 100, -1, -1, -1};
  for (size_t i = 0; i < asked.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(got[i].index, asked[i].second);
    EXPECT_EQ(got[i].error_code, errors[i]);
    EXPECT_EQ(got[i].value, values[i]);
    EXPECT_EQ(got[i].on_owner, values[i] != -1);
  }
}

TEST_F(FanOut, AsyncPartitionWorkAnswersWhenItFinishes) {
  auto topics = _topics->snapshot();
  std::promise<std::vector<kafka::error>> done;
  on_home([&] {
    auto g = fan_out<std::vector<kafka::error>>::start(
        *_broker, kHome, [&](std::vector<kafka::error> v) { done.set_value(std::move(v)); });
    g->value.assign(3, kafka::error::none);
    const int32_t indexes[] = {0, 7, 2};
    for (size_t i = 0; i < 3; ++i) {
      // Finishes on a later turn of the owner shard, as a durable append does.
      g->on_partition_async(
          find_partition(*topics, "t", indexes[i]), indexes[i], g->value[i],
          [this](partition& p, std::function<void(kafka::error)> finish) {
            const unsigned owner = owner_shard("t", p.index(), 2);
            _broker->post(owner, [finish] { finish(kafka::error::invalid_producer_epoch); });
          });
    }
    g->seal();
  });
  EXPECT_EQ(done.get_future().get(),
            (std::vector<kafka::error>{kafka::error::invalid_producer_epoch,
                                       kafka::error::unknown_topic_or_partition,
                                       kafka::error::invalid_producer_epoch}));
}

}  // namespace
}  // namespace sluice::broker
