// Round-trips every generated Kafka message at every version with randomized content, and
// checks that truncated or garbage input fails cleanly.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>
#include <string>
#include <typeinfo>

#include "kafka/api.h"
#include "kafka/testing.h"

namespace sluice::kafka {
namespace {

constexpr int kSeedsPerVersion = 8;

template <class T>
wire::bytes encode(const T& msg, int16_t version) {
  wire::bytes buf;
  wire::writer w(buf);
  msg.encode(w, version);
  return buf;
}

struct counts {
  int messages = 0;
  int versions = 0;
};

template <class T>
void roundtrip(counts& c) {
  ++c.messages;
  for (int16_t v = T::min_version; v <= T::max_version; ++v) {
    ++c.versions;
    for (int seed = 0; seed < kSeedsPerVersion; ++seed) {
      SCOPED_TRACE(std::string(typeid(T).name()) + " v" + std::to_string(v) + " seed " +
                   std::to_string(seed));
      std::mt19937_64 rng(static_cast<uint64_t>(seed) * 1000003u + static_cast<uint64_t>(v));
      T msg;
      testing::randomize(msg, rng, v);
      wire::bytes buf = encode(msg, v);
      wire::reader r(buf);
      T out;
      out.decode(r, v);
      ASSERT_TRUE(r.ok()) << static_cast<int>(r.error());
      ASSERT_EQ(r.remaining(), 0u);
      ASSERT_TRUE(out == msg);
      ASSERT_EQ(encode(out, v), buf);
    }
  }
}

TEST(KafkaRoundtrip, EveryMessageEveryVersion) {
  counts c;
  testing::for_each_message([&](auto t) { roundtrip<typename decltype(t)::type>(c); });
  // 48 APIs x {request, response} + 2 headers + 2 consumer protocol structs.
  EXPECT_EQ(c.messages, 48 * 2 + 4);
  std::cout << "round-tripped " << c.messages << " messages, " << c.versions
            << " (message, version) pairs\n";
}

TEST(KafkaRoundtrip, EveryApiHasRequestAndResponse) {
  std::multiset<int16_t> keys;
  testing::for_each_message([&](auto t) {
    using T = typename decltype(t)::type;
    if constexpr (requires { T::api_key; }) {
      keys.insert(T::api_key);
      const api_info* a = find_api(T::api_key);
      ASSERT_NE(a, nullptr);
      EXPECT_EQ(a->min_version, T::min_version);
      EXPECT_EQ(a->max_version, T::max_version);
      EXPECT_EQ(a->first_flexible_version, T::first_flexible_version);
    }
  });
  EXPECT_EQ(all_apis().size(), 48u);
  for (const auto& a : all_apis()) EXPECT_EQ(keys.count(a.key), 2u) << a.name;
}

// Every strict prefix of a valid encoding must fail without crashing.
template <class T>
void truncations() {
  for (int16_t v = T::min_version; v <= T::max_version; ++v) {
    std::mt19937_64 rng(static_cast<uint64_t>(v) + 77);
    T msg;
    testing::randomize(msg, rng, v);
    wire::bytes buf = encode(msg, v);
    for (size_t n = 0; n < buf.size(); ++n) {
      // A fresh copy of exactly n bytes so ASan would catch any overread.
      std::vector<uint8_t> prefix(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(n));
      wire::reader r(prefix.data(), prefix.size());
      T out;
      out.decode(r, v);
      ASSERT_FALSE(r.ok()) << typeid(T).name() << " v" << v << " prefix " << n << "/" << buf.size();
    }
  }
}

TEST(KafkaRoundtrip, TruncatedInputFails) {
  testing::for_each_message([](auto t) { truncations<typename decltype(t)::type>(); });
}

// Random bytes: decode may succeed or fail, but must not crash or over-allocate.
TEST(KafkaRoundtrip, GarbageInputIsSafe) {
  std::mt19937_64 rng(42);
  testing::for_each_message([&](auto t) {
    using T = typename decltype(t)::type;
    for (int16_t v = T::min_version; v <= T::max_version; ++v) {
      for (int i = 0; i < 20; ++i) {
        std::vector<uint8_t> junk(rng() % 64);
        for (auto& b : junk) b = static_cast<uint8_t>(rng() % 4 == 0 ? 0xff : rng());
        wire::reader r(junk.data(), junk.size());
        T out;
        out.decode(r, v);
      }
    }
  });
}

}  // namespace
}  // namespace sluice::kafka
