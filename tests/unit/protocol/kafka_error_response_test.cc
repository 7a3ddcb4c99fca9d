// encode_error_response: for every API response and version it answers, the bytes decode as that
// response at that version with the error code set; it declines exactly where the response has
// no top-level error code.
#include <gtest/gtest.h>

#include <string>
#include <typeinfo>

#include "kafka/errors.h"
#include "kafka/testing.h"

namespace sluice::kafka {
namespace {

template <class T>
concept has_error_code = requires(T t) {
  t.error_code;
};

TEST(KafkaErrorResponse, DecodesAsTheResponseWithTheCode) {
  int answered = 0;
  testing::for_each_message([&](auto type) {
    using T = typename decltype(type)::type;
    // Response types of APIs (mangled names keep the identifier).
    if constexpr (requires { T::api_key; }) {
      if (std::string(typeid(T).name()).find("_response") == std::string::npos) return;
      for (int16_t v = T::min_version; v <= T::max_version; ++v) {
        wire::bytes out;
        wire::writer w(out);
        const bool ok = encode_error_response(T::api_key, v, 35, w);
        if constexpr (!has_error_code<T>) {
          EXPECT_FALSE(ok) << typeid(T).name() << " v" << v;
        }
        if (!ok) {
          EXPECT_TRUE(out.empty());
          continue;
        }
        ++answered;
        T decoded;
        wire::reader r(out.data(), out.size());
        decoded.decode(r, v);
        ASSERT_TRUE(r.ok()) << typeid(T).name() << " v" << v;
        EXPECT_EQ(r.remaining(), 0u) << typeid(T).name() << " v" << v;
        if constexpr (has_error_code<T>) {
          EXPECT_EQ(decoded.error_code, 35) << typeid(T).name() << " v" << v;
        }
      }
    }
  });
  EXPECT_GT(answered, 50);
}

TEST(KafkaErrorResponse, DeclinesWithoutTopLevelErrorCode) {
  wire::bytes out;
  wire::writer w(out);
  EXPECT_FALSE(encode_error_response(0, 2, 35, w));    // Produce: per partition only
  EXPECT_FALSE(encode_error_response(1, 6, 35, w));    // Fetch before v7
  EXPECT_FALSE(encode_error_response(1, 18, 35, w));   // beyond the schema
  EXPECT_FALSE(encode_error_response(999, 0, 35, w));  // unknown API
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(encode_error_response(1, 7, 35, w));  // Fetch v7+ has one
  EXPECT_TRUE(encode_error_response(17, 0, 35, w));
}

}  // namespace
}  // namespace sluice::kafka
