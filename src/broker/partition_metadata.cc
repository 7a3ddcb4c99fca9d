#include "src/broker/partition_metadata.h"

#include <vector>

#include "src/base/errc.h"

namespace sluice::broker {

namespace {
constexpr const char* kFile = "partition.metadata";
constexpr const char* kTemp = "partition.metadata.tmp";
constexpr size_t kMaxBytes = 256;
}  // namespace

std::string kafka_uuid_string(const wire::uuid& id) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve(22);
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : id) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 0x3f];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 0x3f];
  return out;
}

std::string partition_metadata_text(const wire::uuid& topic_id) {
  return "version: 0\ntopic_id: " + kafka_uuid_string(topic_id) + "\n";
}

std::error_code ensure_partition_metadata(storage::file_system& fs, const std::string& dir,
                                          const wire::uuid& topic_id) {
  const std::string want = partition_metadata_text(topic_id);
  const std::string path = dir + "/" + kFile;
  if (auto f = fs.open(path)) {
    std::vector<uint8_t> buf(kMaxBytes);
    auto n = f.value()->pread(0, buf);
    if (!n) return n.error();
    const auto len = static_cast<std::ptrdiff_t>(n.value());
    if (std::string(buf.begin(), buf.begin() + len) != want) return errc::invalid_data;
    return {};
  } else if (f.error() != errc::not_found) {
    return f.error();
  }
  const std::string tmp = dir + "/" + kTemp;
  {
    auto out = fs.create(tmp);
    if (!out) return out.error();
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(want.data()), want.size());
    if (auto ec = out.value()->truncate(0)) return ec;  // a leftover of an interrupted write
    if (auto ec = out.value()->append(bytes)) return ec;
    if (auto ec = out.value()->fdatasync()) return ec;
  }
  if (auto ec = fs.rename(tmp, path)) return ec;
  return fs.sync_dir(dir);
}

}  // namespace sluice::broker
