// Decodes every real-client request capture in tests/data/captures/<client>/ (request header +
// body, no size prefix) and checks that decoding consumes every byte and that re-encoding
// reproduces the capture exactly.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>

#include "kafka/api.h"
#include "kafka/headers.h"
#include "kafka/testing.h"

namespace sluice::kafka {
namespace {

namespace fs = std::filesystem;

wire::bytes read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return wire::bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Decodes and re-encodes one frame; returns the number of bodies decoded (0 or 1).
int check_frame(const fs::path& path, const wire::bytes& frame) {
  SCOPED_TRACE(path.string());
  wire::reader r(frame);
  // The key and version are at fixed offsets in every header version.
  int16_t key = r.read_int16();
  int16_t version = r.read_int16();
  EXPECT_TRUE(r.ok());
  int16_t hv = request_header_version(key, version);
  EXPECT_GE(hv, 0) << "no codec for api " << key << " v" << version;
  if (hv < 0) return 0;

  wire::reader fr(frame);
  request_header header;
  header.decode(fr, hv);
  EXPECT_TRUE(fr.ok());
  EXPECT_EQ(header.request_api_key, key);
  EXPECT_EQ(header.request_api_version, version);

  wire::bytes out;
  wire::writer w(out);
  header.encode(w, hv);
  int decoded = 0;
  testing::for_each_request([&](auto t) {
    using T = typename decltype(t)::type;
    if (T::api_key != key) return;
    T body;
    body.decode(fr, version);
    EXPECT_TRUE(fr.ok()) << "decode error " << static_cast<int>(fr.error());
    EXPECT_EQ(fr.remaining(), 0u) << "trailing bytes";
    body.encode(w, version);
    ++decoded;
  });
  EXPECT_EQ(decoded, 1);
  EXPECT_EQ(out, frame) << "re-encoding differs";
  return decoded;
}

TEST(KafkaGoldenCaptures, DecodeAndReencodeEveryCapture) {
  fs::path root = fs::path(SLUICE_SOURCE_DIR) / "tests/data/captures";
  if (!fs::exists(root)) GTEST_SKIP() << "no captures at " << root;
  const std::regex name(R"(\d+-(\d+)-\w+-v(\d+)\.bin)");
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    std::smatch m;
    std::string base = entry.path().filename().string();
    if (!entry.is_regular_file() || !std::regex_match(base, m, name)) continue;
    wire::bytes frame = read_file(entry.path());
    wire::reader r(frame);
    // The file name and the header must agree.
    EXPECT_EQ(r.read_int16(), std::stoi(m[1])) << base;
    EXPECT_EQ(r.read_int16(), std::stoi(m[2])) << base;
    files += check_frame(entry.path(), frame);
  }
  EXPECT_GT(files, 0);
  std::cout << "decoded " << files << " captured requests\n";
}

}  // namespace
}  // namespace sluice::kafka
