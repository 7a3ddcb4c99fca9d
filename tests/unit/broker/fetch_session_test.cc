// fetch_session_cache: KIP-227 session rules (open/create/remove, epochs, eviction) and which
// partitions an incremental response must carry.
#include "src/broker/fetch_session.h"

#include <gtest/gtest.h>

namespace sluice::broker {
namespace {

using kafka::error;

TEST(FetchSessionCache, SessionlessAndCreatingFullFetches) {
  fetch_session_cache cache(4, 0, 1);
  fetch_context ctx = cache.open(0, -1, 0);
  EXPECT_EQ(ctx.error, error::none);
  EXPECT_FALSE(ctx.create);
  EXPECT_EQ(ctx.session, nullptr);
  ctx = cache.open(0, 0, 0);
  EXPECT_TRUE(ctx.create);
  auto s = cache.create(0);
  ASSERT_NE(s, nullptr);
  EXPECT_GT(s->id, 0);
  EXPECT_EQ(s->epoch, 1);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(FetchSessionCache, IncrementalEpochs) {
  fetch_session_cache cache(4, 0, 1);
  auto s = cache.create(0);
  EXPECT_EQ(cache.open(s->id + 1, 1, 0).error, error::fetch_session_id_not_found);
  EXPECT_EQ(cache.open(0, 1, 0).error, error::fetch_session_id_not_found);
  EXPECT_EQ(cache.open(s->id, 2, 0).error, error::invalid_fetch_session_epoch);
  fetch_context ctx = cache.open(s->id, 1, 0);
  EXPECT_EQ(ctx.error, error::none);
  EXPECT_EQ(ctx.session, s);
  EXPECT_EQ(s->epoch, 2);
  // A replay of the same epoch is refused: the epoch moved on when the request arrived.
  EXPECT_EQ(cache.open(s->id, 1, 0).error, error::invalid_fetch_session_epoch);
  EXPECT_EQ(cache.open(s->id, 2, 0).error, error::none);
}

TEST(FetchSessionCache, FullFetchClosesTheNamedSession) {
  fetch_session_cache cache(4, 0, 1);
  auto a = cache.create(0);
  fetch_context ctx = cache.open(a->id, -1, 0);  // close, no new session
  EXPECT_FALSE(ctx.create);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.open(a->id, 1, 0).error, error::fetch_session_id_not_found);
  auto b = cache.create(0);
  ctx = cache.open(b->id, 0, 0);  // close and start over
  EXPECT_TRUE(ctx.create);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(FetchSessionCache, FullCacheEvictsOnlyIdleSessions) {
  fetch_session_cache cache(2, 0, 1);
  auto a = cache.create(0);
  auto b = cache.create(10);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(cache.create(1000), nullptr);  // nobody idle long enough
  cache.open(a->id, 1, 2000);              // a is now the most recently used
  auto c = cache.create(10 + fetch_session_cache::kEvictableAfterMs);
  ASSERT_NE(c, nullptr);  // b (least recently used, idle long enough) made room
  EXPECT_EQ(cache.open(b->id, 1, 0).error, error::fetch_session_id_not_found);
  EXPECT_EQ(cache.open(a->id, 2, 0).error, error::none);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(FetchSessionCache, ZeroSlotsMeansNoSessions) {
  fetch_session_cache cache(0, 0, 1);
  EXPECT_EQ(cache.create(0), nullptr);
}

TEST(FetchSessionCache, IdsNameTheirShard) {
  fetch_session_cache cache(100, 3, 4);
  for (int i = 0; i < 100; ++i) {
    auto s = cache.create(0);
    ASSERT_NE(s, nullptr);
    EXPECT_GT(s->id, 0);
    EXPECT_EQ(s->id % 4, 3);
  }
}

TEST(FetchSession, UpsertForgetAndKeys) {
  fetch_session by_name;
  by_name.upsert({"a", {}, 0, 5, 100});
  by_name.upsert({"a", {}, 1, 7, 100});
  by_name.upsert({"a", {}, 0, 9, 200});  // update, not a second entry
  ASSERT_EQ(by_name.partitions.size(), 2u);
  EXPECT_EQ(by_name.find("a", {}, 0)->fetch_offset, 9);
  EXPECT_EQ(by_name.find("a", {}, 0)->max_bytes, 200);
  by_name.forget("a", {}, 0);
  EXPECT_EQ(by_name.find("a", {}, 0), nullptr);
  EXPECT_NE(by_name.find("a", {}, 1), nullptr);

  fetch_session by_id;
  by_id.topic_ids = true;
  wire::uuid x{1}, y{2};
  by_id.upsert({"", x, 0, 1, 10});
  by_id.upsert({"", y, 0, 1, 10});
  EXPECT_EQ(by_id.partitions.size(), 2u);
  by_id.forget("", x, 0);
  EXPECT_EQ(by_id.find("", x, 0), nullptr);
  EXPECT_NE(by_id.find("", y, 0), nullptr);
}

TEST(SessionPartition, SentOnlyWhenSomethingChanged) {
  session_partition p;
  EXPECT_TRUE(p.must_send(error::none, 0, 10, 0));    // first time: always
  EXPECT_FALSE(p.must_send(error::none, 0, 10, 0));   // nothing new
  EXPECT_TRUE(p.must_send(error::none, 100, 10, 0));  // records
  EXPECT_TRUE(p.must_send(error::none, 0, 11, 0));    // high watermark moved
  EXPECT_TRUE(p.must_send(error::none, 0, 11, 3));    // log start moved (DeleteRecords)
  EXPECT_FALSE(p.must_send(error::none, 0, 11, 3));
  EXPECT_TRUE(p.must_send(error::offset_out_of_range, 0, 11, 3));  // errors: always
  EXPECT_TRUE(p.must_send(error::none, 0, 11, 3));                 // and once more when they clear
  EXPECT_FALSE(p.must_send(error::none, 0, 11, 3));
}

}  // namespace
}  // namespace sluice::broker
